import { readFileSync } from 'node:fs';

import type { EmbeddedServerOptions } from '../server.js';
import { LOOPBACK_HOSTS, makeLocalCertificates } from './certificates.js';
import { ADMINS, UserStore, generateSecret } from './users.js';

/**
 * What an embedded server runs with, from its options: plaintext and no authentication only when
 * asked (`insecure: true`); the caller's certificate and users; or, given neither, credentials
 * made for this process (a CA and a loopback certificate, a user with a 256-bit secret), in
 * memory, handed to the process's own client through the server's `endpoint`.
 */
export interface EmbeddedSecurity {
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly users?: UserStore;
  /** What a client needs when the credentials were made here. */
  readonly process?: { readonly rootCertificate: string; readonly credentials: { readonly username: string; readonly password: string } };
}

/** The user the server makes for its own process (see the `insecure` option). */
export const PROCESS_USER = 'opx-process';

/** Node accepts a loopback server certificate for these (`localhost` resolves to one of them). */
const isLoopbackHost = (host: string): boolean => host === '127.0.0.1' || host === '::1' || host === 'localhost';

const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';

/**
 * The host a client of this machine dials: by name over TLS (the certificate names it, and Node
 * deprecates an IP address as a TLS server name), the loopback address in plaintext.
 */
export const endpointHost = (host: string, tls: boolean): string => (isLoopbackHost(host) || isWildcard(host) ? (tls ? 'localhost' : '127.0.0.1') : host);

/** Process credentials are certificates for the process's lifetime; a long one outlives any process. */
const PROCESS_CERTIFICATE_DAYS = 3_650;

export function securityOf(options: EmbeddedServerOptions, host: string): EmbeddedSecurity {
  if (options.insecure === true) {
    if (options.tls !== undefined || options.users !== undefined) throw new TypeError('insecure excludes tls and users');
    return {};
  }
  if (options.tls !== undefined && options.users !== undefined) {
    const { tls } = options;
    return { tls: 'certFile' in tls ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : { cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) }, users: options.users };
  }
  if (options.tls !== undefined || options.users !== undefined) {
    throw new TypeError(
      `${options.tls === undefined ? 'users need tls' : 'tls needs users'}: the official client sends credentials only over TLS (give both; neither for credentials made for this process; or insecure: true)`,
    );
  }
  // wall-clock time and randomness at an edge: the certificate's validity and the keys
  const certificates = makeLocalCertificates({
    now: new Date(),
    validDays: PROCESS_CERTIFICATE_DAYS,
    hosts: isLoopbackHost(host) || isWildcard(host) ? LOOPBACK_HOSTS : [...LOOPBACK_HOSTS, host],
    caName: 'OPX in-process CA',
  });
  const secret = generateSecret();
  const users = new UserStore();
  users.addGenerated(PROCESS_USER, secret, [ADMINS]);
  return {
    tls: { cert: Buffer.from(certificates.cert), key: Buffer.from(certificates.key) },
    users,
    process: { rootCertificate: certificates.caCert, credentials: { username: PROCESS_USER, password: secret } },
  };
}
