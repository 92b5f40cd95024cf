import { hash } from 'node:crypto';

import type { RecordedEvent } from '../eventstore/event-store.js';
import { canonicalJson } from '../shared/canonical-json.js';

/**
 * What the integrity chain knows of one recorded event: a SHA-256 of all of it (its stream,
 * revision, type, id, data and metadata) that the chain folds in, and short digests of its parts
 * that a seal keeps so a verification can say which part changed:
 *
 *   leaf(key, value) = SHA-256(RFC 8785 canonical JSON of [key, value])
 *   part(object)     = SHA-256("o" ‖ leaf of each top-level field, in RFC 8785 key order)
 *   part(other)      = SHA-256("v" ‖ canonical JSON of the value)      (not an object)
 *   event            = SHA-256(JSON [streamId, revision, type, id] ‖ 0x00 ‖ part(data) ‖ part(metadata))
 *
 * A seal keeps, per event, the first 4 bytes of SHA-256("t" ‖ type) and of SHA-256("i" ‖ id), and
 * the first 4 bytes of each field's leaf: enough to name the changed top-level field, while the
 * 32-byte event digests chained into the seal's head carry the proof (docs/integrity.md).
 */
export interface EventDigest {
  /** SHA-256 of the whole event (32 bytes), chained into the seal's head. */
  readonly full: Buffer;
  /** 8 hex of the type's digest then 8 of the id's. */
  readonly typeId: string;
  /** 8 hex per top-level field of data (key order); `=xxxxxxxx` when data is not an object; `!` when unreadable. */
  readonly data: string;
  readonly metadata: string;
}

/** The digest of one top-level field, as a seal keeps it (8 hex). */
export const SHORT_HEX = 8;

const OBJECT_TAG = Buffer.from('o');
const VALUE_TAG = 'v';
const SEPARATOR = Buffer.from([0]);
/** What stands for a payload the store could not decode: still chained, so a change to it is seen once it reads. */
const UNREADABLE = hash('sha256', 'x', 'buffer');

export const shortHex = (digest: Buffer): string => digest.toString('hex', 0, SHORT_HEX / 2);

/** The leaf digest of one top-level field. */
export const fieldDigest = (key: string, value: unknown): Buffer => hash('sha256', canonicalJson([key, value]), 'buffer');

interface PartDigest {
  readonly full: Buffer;
  readonly short: string;
}

/** The RFC 8785 order of an object's own keys (UTF-16 code units: JavaScript's default sort); undefined members are not JSON. */
export function jsonKeys(value: object): string[] {
  return Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort();
}

export const isJsonObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function partDigest(read: () => unknown): PartDigest {
  let value: unknown;
  try {
    value = read();
  } catch {
    return { full: UNREADABLE, short: '!' };
  }
  if (!isJsonObject(value)) {
    const full = hash('sha256', VALUE_TAG + canonicalJson(value), 'buffer');
    return { full, short: `=${shortHex(full)}` };
  }
  const keys = jsonKeys(value);
  const leaves: Buffer[] = [OBJECT_TAG];
  let short = '';
  for (const key of keys) {
    const leaf = fieldDigest(key, value[key]);
    leaves.push(leaf);
    short += shortHex(leaf);
  }
  return { full: hash('sha256', Buffer.concat(leaves), 'buffer'), short };
}

/** The digest of a recorded event (see {@link EventDigest}); `created` and `position` are the store's, not the event's. */
export function digestEvent(event: RecordedEvent): EventDigest {
  const data = partDigest(() => event.data);
  const metadata = partDigest(() => event.metadata);
  const head = Buffer.from(JSON.stringify([event.streamId, event.revision.toString(), event.type, event.id]), 'utf8');
  const full = hash('sha256', Buffer.concat([head, SEPARATOR, data.full, metadata.full]), 'buffer');
  const typeId = shortHex(hash('sha256', 't' + event.type, 'buffer')) + shortHex(hash('sha256', 'i' + event.id, 'buffer'));
  return { full, typeId, data: data.short, metadata: metadata.short };
}

/** The chain's first head, before any event. */
export const GENESIS_HEAD = hash('sha256', 'opx-integrity-chain/1', 'hex');

/** head' = SHA-256(head ‖ event digest), heads as 32 bytes. */
export function chainStep(head: Buffer, event: Buffer): Buffer {
  return hash('sha256', Buffer.concat([head, event]), 'buffer');
}

/** The top-level fields of `value` (data or metadata) whose digests a seal does not hold, by name. */
export function changedFields(value: unknown, recorded: string): { readonly fields: string[]; readonly removed: number } {
  if (!isJsonObject(value) || recorded.startsWith('=') || recorded === '!') return { fields: [], removed: 0 };
  const known = new Set<string>();
  for (let at = 0; at + SHORT_HEX <= recorded.length; at += SHORT_HEX) known.add(recorded.slice(at, at + SHORT_HEX));
  const keys = jsonKeys(value);
  const fields = keys.filter((key) => !known.has(shortHex(fieldDigest(key, value[key]))));
  // More fields recorded than there are now: some were removed (a renamed or changed one is named above).
  return { fields, removed: Math.max(0, recorded.length / SHORT_HEX - keys.length) };
}
