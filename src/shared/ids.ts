import { createHash } from 'node:crypto';

import { parse as parseUuid, v5 as uuidv5 } from 'uuid';

import { canonicalJson } from './canonical-json.js';

/** Namespace for every OPX event id (UUID v5). Changing it changes every recorded id: never do. */
export const OPX_EVENT_ID_NAMESPACE = 'a3c1f6d2-5b0e-5f4a-9c7d-2e8b1f0a6c93';

/** The namespace as bytes, parsed once (uuid would parse the string form on every call). */
const NAMESPACE_BYTES = parseUuid(OPX_EVENT_ID_NAMESPACE);

/** A deterministic event id: the same name always yields the same UUID v5. */
export function eventId(name: string): string {
  return uuidv5(Buffer.from(name, 'utf8'), NAMESPACE_BYTES);
}

/** SHA-256 (hex) of the RFC 8785 canonical form of a value. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/**
 * A readable, deterministic domain id: `<prefix>-<first 24 hex of sha256(canonical parts)>`.
 * 96 bits: collisions are out of reach for any realistic history. For an array of strings the
 * RFC 8785 form is exactly JSON.stringify's (no keys to sort, the same string escaping), so the
 * parts are serialized natively.
 */
export function domainId(prefix: string, parts: readonly string[]): string {
  return `${prefix}-${createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24)}`;
}
