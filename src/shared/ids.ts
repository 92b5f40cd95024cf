import { hash } from 'node:crypto';

import { parse as parseUuid } from 'uuid';

import { canonicalJson } from './canonical-json.js';

/** Namespace for every OPX event id (UUID v5). Changing it changes every recorded id: never do. */
export const OPX_EVENT_ID_NAMESPACE = 'a3c1f6d2-5b0e-5f4a-9c7d-2e8b1f0a6c93';

/** The namespace as bytes, parsed once (uuid would parse the string form on every call). */
const NAMESPACE_BYTES = Buffer.from(parseUuid(OPX_EVENT_ID_NAMESPACE));

/** The hash input, namespace then name, reused: the hash is synchronous, so no two calls overlap. */
let input = Buffer.alloc(512);
NAMESPACE_BYTES.copy(input, 0);

/** RFC 9562 variant bits on a hex digit d: (d & 0b0011) | 0b1000, by the digit's char code. */
const VARIANT: string[] = [];
for (let d = 0; d < 16; d++) VARIANT['0123456789abcdef'.charCodeAt(d)] = ((d & 0x3) | 0x8).toString(16);

/**
 * A deterministic event id: the same name always yields the same UUID v5 (RFC 9562 5.5: SHA-1
 * of namespace and UTF-8 name, version and variant bits set, then the 8-4-4-4-12 hex form).
 * The hash is node's one-shot `crypto.hash` straight to hex, on a reused input buffer, and the
 * version and variant digits are set in the hex: about a fifth of `uuid.v5`'s cost, and this runs
 * for every event the orchestration writes. test/core/ids.unit.spec.ts holds it equal to `uuid.v5`
 * on every kind of name.
 */
export function eventId(name: string): string {
  // A UTF-16 code unit takes at most 3 UTF-8 bytes, so a name of this length always fits.
  if (NAMESPACE_BYTES.length + name.length * 3 > input.length) {
    input = Buffer.alloc(2 * (NAMESPACE_BYTES.length + name.length * 3));
    NAMESPACE_BYTES.copy(input, 0);
  }
  const end = NAMESPACE_BYTES.length + input.write(name, NAMESPACE_BYTES.length, 'utf8');
  const hex = hash('sha1', input.subarray(0, end), 'hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${VARIANT[hex.charCodeAt(16)] as string}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** SHA-256 (hex) of the RFC 8785 canonical form of a value. */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** SHA-256 (hex) of a string's UTF-8 bytes, one-shot. */
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/**
 * A readable, deterministic domain id: `<prefix>-<first 24 hex of sha256(canonical parts)>`.
 * 96 bits: collisions are out of reach for any realistic history. For an array of strings the
 * RFC 8785 form is exactly JSON.stringify's (no keys to sort, the same string escaping), so the
 * parts are serialized natively.
 */
export function domainId(prefix: string, parts: readonly string[]): string {
  return `${prefix}-${sha256Hex(JSON.stringify(parts)).slice(0, 24)}`;
}
