import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { loadUsers, saveUsers, usersFileOf } from './users-file.js';
import { ADMINS, UserStore, checkPassword, generatePassword } from './users.js';

/**
 * What a served store (`opx store serve`, the server's own main) runs with, decided from its flags
 * and environment, EventStoreDB's way: TLS and authentication unless `--insecure`.
 * - TLS: `--tls-cert` and `--tls-key` (PEM files; `opx store dev-certs` makes a loopback pair).
 * - Users: the data dir's users file; on a first start (no file yet), or in memory on every
 *   start, one user `admin` in `$admins`, with the password from `OPX_ADMIN_PASSWORD` or
 *   `--admin-password-file`, else a generated one the caller prints once. Never a built-in one.
 */
export const ADMIN_PASSWORD_ENV = 'OPX_ADMIN_PASSWORD';
export const INITIAL_ADMIN = 'admin';

export interface SecurityFlags {
  readonly insecure?: boolean;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly adminPasswordFile?: string;
  readonly tlsCaFile?: string;
}

export type ServedSecurity =
  | { readonly mode: 'insecure'; readonly warning: string }
  | {
      readonly mode: 'secure';
      readonly tls: { readonly cert: Buffer; readonly key: Buffer };
      readonly users: UserStore;
      /** The admin this start made (a first start, or any start in memory), with its password when it was generated: print it once. */
      readonly initialAdmin?: { readonly username: string; readonly generatedPassword?: string; readonly passwordFrom: 'generated' | 'env' | 'file' };
      /**
       * Writes the users file of a first start: called once the server listens, so a start that
       * fails (a port in use) leaves no file behind whose generated password was never shown.
       */
      readonly persist: () => void;
      readonly warnings: readonly string[];
    };

/** Flags that cannot be served with: the message names the flag and what to do. */
export class SecurityConfigError extends Error {
  override readonly name = 'SecurityConfigError';
}

/** Everything `--insecure` turns off, said where it is turned off. */
export const insecureWarning = (where: string): string =>
  `--insecure: TLS, authentication and ACLs are OFF on ${where}: connections are plaintext, no credentials are asked for, and every client ` +
  'that can reach it may read, write, delete and tombstone every stream ($ streams, stream metadata and subscription groups included)';

export function resolveSecurity(
  flags: SecurityFlags,
  context: { readonly dataDir?: string; readonly where: string; readonly env: NodeJS.ProcessEnv; readonly now: Date },
): ServedSecurity {
  if (flags.insecure === true) {
    const given = [
      flags.tlsCertFile !== undefined && '--tls-cert',
      flags.tlsKeyFile !== undefined && '--tls-key',
      flags.adminPasswordFile !== undefined && '--admin-password-file',
      flags.tlsCaFile !== undefined && '--tls-ca',
    ].filter((flag): flag is string => flag !== false);
    if (given.length > 0) throw new SecurityConfigError(`--insecure turns TLS and authentication off: drop ${given.join(', ')} or --insecure`);
    return { mode: 'insecure', warning: insecureWarning(context.where) };
  }
  const tls = readTls(flags, context.now);
  const warnings: string[] = [];
  const existing = context.dataDir === undefined ? undefined : loadUsers(context.dataDir);
  if (existing !== undefined) {
    if (chosenPasswordSource(flags, context.env) !== undefined) {
      warnings.push(`${usersFileOf(context.dataDir!)} has users already: ${ADMIN_PASSWORD_ENV} and --admin-password-file apply to a first start only (change a password with \`opx store users passwd NAME\`)`);
    }
    return { mode: 'secure', tls, users: existing, warnings, persist: () => undefined };
  }
  const chosen = chosenPassword(flags, context.env);
  const password = chosen?.password ?? generatePassword();
  const users = new UserStore();
  users.add(INITIAL_ADMIN, password, [ADMINS]);
  const { dataDir } = context;
  return {
    mode: 'secure',
    tls,
    users,
    persist: () => {
      if (dataDir !== undefined) saveUsers(dataDir, users);
    },
    initialAdmin: chosen === undefined ? { username: INITIAL_ADMIN, generatedPassword: password, passwordFrom: 'generated' } : { username: INITIAL_ADMIN, passwordFrom: chosen.from },
    warnings,
  };
}

function chosenPasswordSource(flags: SecurityFlags, env: NodeJS.ProcessEnv): 'env' | 'file' | undefined {
  if (flags.adminPasswordFile !== undefined) return 'file';
  const fromEnv = env[ADMIN_PASSWORD_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : 'env';
}

function chosenPassword(flags: SecurityFlags, env: NodeJS.ProcessEnv): { password: string; from: 'env' | 'file' } | undefined {
  const source = chosenPasswordSource(flags, env);
  if (source === 'file') {
    const file = flags.adminPasswordFile!;
    return { password: checkPassword(readPasswordFile(file, '--admin-password-file'), `--admin-password-file ${file}`), from: 'file' };
  }
  if (source === 'env') return { password: checkPassword(env[ADMIN_PASSWORD_ENV]!, ADMIN_PASSWORD_ENV), from: 'env' };
  return undefined;
}

/** A password kept in a file: its first line (a trailing newline is how editors end files). */
export function readPasswordFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new SecurityConfigError(`${flag} ${path}: ${(error as Error).message}`);
  }
}

function readTls(flags: SecurityFlags, now: Date): { cert: Buffer; key: Buffer } {
  if (flags.tlsCertFile === undefined || flags.tlsKeyFile === undefined) {
    const missing = flags.tlsCertFile === undefined && flags.tlsKeyFile === undefined ? '--tls-cert and --tls-key' : flags.tlsCertFile === undefined ? '--tls-cert' : '--tls-key';
    throw new SecurityConfigError(
      `TLS and authentication are required: give ${missing} (PEM files; \`opx store dev-certs DIR\` makes a CA and a loopback certificate for development), ` +
        'or --insecure to serve plaintext to anyone who can connect',
    );
  }
  const read = (path: string, flag: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new SecurityConfigError(`${flag} ${path}: ${(error as Error).message}`);
    }
  };
  const cert = read(flags.tlsCertFile, '--tls-cert');
  const key = read(flags.tlsKeyFile, '--tls-key');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw new SecurityConfigError(`--tls-cert ${flags.tlsCertFile} is not a PEM certificate: ${(error as Error).message}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new SecurityConfigError(`--tls-key ${flags.tlsKeyFile} is not a PEM private key (unencrypted): ${(error as Error).message}`);
  }
  if (!certificate.checkPrivateKey(privateKey)) throw new SecurityConfigError(`--tls-key ${flags.tlsKeyFile} is not the key of --tls-cert ${flags.tlsCertFile}`);
  if (flags.tlsCaFile !== undefined) {
    let ca: X509Certificate;
    try {
      ca = new X509Certificate(read(flags.tlsCaFile, '--tls-ca'));
    } catch (error) {
      if (error instanceof SecurityConfigError) throw error;
      throw new SecurityConfigError(`--tls-ca ${flags.tlsCaFile} is not a PEM certificate: ${(error as Error).message}`);
    }
    if (!certificate.checkIssued(ca) || !certificate.verify(ca.publicKey)) throw new SecurityConfigError(`--tls-cert ${flags.tlsCertFile} was not signed by --tls-ca ${flags.tlsCaFile}: clients trusting that CA would refuse it`);
  }
  const validTo = new Date(certificate.validTo);
  if (validTo.getTime() <= now.getTime()) throw new SecurityConfigError(`--tls-cert ${flags.tlsCertFile} expired on ${validTo.toISOString()}: clients refuse it (make another with \`opx store dev-certs\`)`);
  return { cert, key };
}
