import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

/**
 * A local certificate authority and a server certificate it signed, made in-process with
 * node:crypto (ECDSA P-256, SHA-256): `opx store dev-certs` writes them to files, and the CLI's
 * in-process store makes a pair per process and keeps it in memory.
 *
 * No library: certificates of this one fixed shape need a dozen DER constructs (below), while
 * loading an X.509 library costs every CLI command that opens the default store many times what
 * the keys and signatures themselves cost (docs/security.md has the figures). OpenSSL parses and
 * verifies every certificate made here in the tests (node's X509Certificate, and TLS handshakes
 * that trust only the CA).
 *
 * The CA's private key is discarded once the server certificate is signed: the CA can vouch for
 * nothing else, so trusting it (`tlsCAFile=`) trusts this one server certificate only.
 */
export interface LocalCertificates {
  /** The CA's certificate (PEM): what clients trust (`tlsCAFile=`, or `rootCertificate`). */
  readonly caCert: string;
  /** The server's certificate (PEM), for {@link LocalCertificates.hosts}, signed by the CA. */
  readonly cert: string;
  /** The server certificate's private key (PKCS#8 PEM). */
  readonly key: string;
  readonly hosts: readonly string[];
  readonly notAfter: Date;
}

export interface LocalCertificateOptions {
  /** The time the certificates are made at: they are valid from an hour before (clock skew) ... */
  readonly now: Date;
  /** ... to this many days after. */
  readonly validDays: number;
  /** DNS names and IP addresses the server certificate is for; default {@link LOOPBACK_HOSTS}. */
  readonly hosts?: readonly string[];
  /** The CA's common name; default `OPX local CA`. */
  readonly caName?: string;
}

export const LOOPBACK_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export function makeLocalCertificates(options: LocalCertificateOptions): LocalCertificates {
  const hosts = options.hosts ?? LOOPBACK_HOSTS;
  if (hosts.length === 0) throw new RangeError('a server certificate needs at least one host');
  if (!Number.isInteger(options.validDays) || options.validDays < 1) throw new RangeError(`validDays must be a whole number of at least 1, got ${options.validDays}`);
  const notBefore = new Date(options.now.getTime() - HOUR_MS);
  const notAfter = new Date(options.now.getTime() + options.validDays * DAY_MS);
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const server = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caName = name(options.caName ?? 'OPX local CA');
  const caSpki = spkiOf(ca.publicKey);
  const caKeyId = keyIdOf(caSpki);
  const caCert = certificate(
    {
      issuer: caName,
      subject: caName,
      notBefore,
      notAfter,
      spki: caSpki,
      extensions: [
        extension(OID.basicConstraints, true, sequence(boolean(true), integer(Buffer.of(0)))),
        extension(OID.keyUsage, true, keyUsage(KEY_USAGE.digitalSignature | KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign)),
        extension(OID.subjectKeyIdentifier, false, octetString(caKeyId)),
      ],
    },
    ca.privateKey,
  );
  const serverSpki = spkiOf(server.publicKey);
  const cert = certificate(
    {
      issuer: caName,
      subject: name(hosts[0]!),
      notBefore,
      notAfter,
      spki: serverSpki,
      extensions: [
        extension(OID.basicConstraints, true, sequence()),
        extension(OID.keyUsage, true, keyUsage(KEY_USAGE.digitalSignature)),
        extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
        extension(OID.subjectAltName, false, sequence(...hosts.map(generalName))),
        extension(OID.subjectKeyIdentifier, false, octetString(keyIdOf(serverSpki))),
        extension(OID.authorityKeyIdentifier, false, sequence(tagged(0x80, caKeyId))),
      ],
    },
    ca.privateKey,
  );
  return {
    caCert: pem('CERTIFICATE', caCert),
    cert: pem('CERTIFICATE', cert),
    key: server.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    hosts: [...hosts],
    notAfter,
  };
}

export interface CertificateFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * Writes `ca.crt`, `node.crt` and `node.key` (EventStoreDB's names) into `dir`, created 0700 when
 * missing, each file 0600; refuses to replace an existing file unless `overwrite`.
 */
export function writeLocalCertificates(dir: string, certificates: LocalCertificates, options: { readonly overwrite?: boolean } = {}): CertificateFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'node.crt'), keyFile: join(dir, 'node.key') };
  const flag = options.overwrite === true ? 'w' : 'wx';
  if (flag === 'wx') {
    const existing = Object.values(files).filter((file) => existsSync(file));
    if (existing.length > 0) throw new FileExists(existing);
  }
  writeFileSync(files.keyFile, certificates.key, { flag, mode: 0o600 });
  writeFileSync(files.certFile, certificates.cert, { flag, mode: 0o600 });
  writeFileSync(files.caFile, certificates.caCert, { flag, mode: 0o600 });
  return files;
}

/** Certificates would replace files that exist. */
export class FileExists extends Error {
  override readonly name = 'FileExists';
  constructor(readonly files: readonly string[]) {
    super(`${files.join(', ')} exist${files.length === 1 ? 's' : ''} already`);
  }
}

// ---- X.509 (RFC 5280) in DER: just the constructs the two certificates above use ----

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** KeyUsage bits, numbered from the most significant bit of the first byte (RFC 5280 4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0x80, keyCertSign: 0x04, cRLSign: 0x02 } as const;

interface TbsFields {
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  readonly extensions: readonly Buffer[];
}

function certificate(fields: TbsFields, signer: KeyObject): Buffer {
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive and 16 bytes long: RFC 5280 4.1.2.2
  const tbs = sequence(
    tagged(0xa0, integer(Buffer.of(2))), // v3
    integer(serial),
    algorithm,
    fields.issuer,
    sequence(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    fields.spki,
    tagged(0xa3, sequence(...fields.extensions)),
  );
  return sequence(tbs, algorithm, bitString(sign('sha256', tbs, signer)));
}

const spkiOf = (publicKey: KeyObject): Buffer => publicKey.export({ type: 'spki', format: 'der' });

/** RFC 5280 4.2.1.2's method (1) over the whole SubjectPublicKeyInfo: unique per key, which is all it must be. */
const keyIdOf = (spki: Buffer): Buffer => createHash('sha1').update(spki).digest();

const name = (commonName: string): Buffer => sequence(set(sequence(oid(OID.commonName), tlv(0x0c, Buffer.from(commonName, 'utf8')))));

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** A KeyUsage BIT STRING in DER: trailing zero bits are not encoded, their count goes first. */
function keyUsage(bits: number): Buffer {
  let unused = 0;
  while (unused < 7 && (bits & (1 << unused)) === 0) unused++;
  return tlv(0x03, Buffer.of(unused, bits));
}

function generalName(host: string): Buffer {
  const family = isIP(host);
  if (family === 4) return tagged(0x87, Buffer.from(host.split('.').map(Number)));
  if (family === 6) return tagged(0x87, ipv6Bytes(host));
  if (!/^[A-Za-z0-9.-]+$/.test(host)) throw new RangeError(`'${host}' is neither an IP address nor a DNS name`);
  return tagged(0x82, Buffer.from(host, 'ascii'));
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = groups(head);
  const right = address.includes('::') ? groups(tail) : [];
  const all = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
  return bytes;
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = date.getUTCFullYear();
  return year < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const base128: number[] = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) base128.unshift((rest & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** A non-negative INTEGER from big-endian bytes: minimal, with a 0x00 in front when the top bit is set. */
function integer(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const body = bytes.subarray(start);
  return tlv(0x02, body[0]! & 0x80 ? Buffer.concat([Buffer.of(0), body]) : body);
}

const boolean = (value: boolean): Buffer => tlv(0x01, Buffer.of(value ? 0xff : 0x00));
const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);
const bitString = (bytes: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.of(0), bytes]));
const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const tagged = (tag: number, content: Buffer): Buffer => tlv(tag, content);

function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.of(tag, length);
  else if (length < 0x100) header = Buffer.of(tag, 0x81, length);
  else if (length < 0x10000) header = Buffer.of(tag, 0x82, length >> 8, length & 0xff);
  else throw new RangeError(`DER content of ${length} bytes is larger than a certificate needs`);
  return Buffer.concat([header, content]);
}

const pem = (label: string, der: Buffer): string =>
  `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;
