import { hash } from 'node:crypto';

import type { RecordedEvent } from '../eventstore/event-store.js';

/**
 * What the integrity chain knows of one recorded event: a SHA-256 of all of it that the chain
 * folds in (the evidence), and short locators of its parts that a seal keeps so a verification can
 * say which part changed. With JCS(x) the RFC 8785 canonical JSON of x:
 *
 *   event   = SHA-256(JCS([streamId, revision as a decimal string, type, id, data, metadata]))
 *   head'   = SHA-256(head ‖ event)                   (hex strings; the first head is the genesis)
 *   locator = FNV-1a-32 of `JCS(key):JCS(value)`      (one top-level field of data or metadata)
 *
 * and FNV-1a-32 of "t" ‖ type and of "i" ‖ id. Locators name what changed; they prove nothing (32
 * bits can be matched on purpose, truncated SHA-256 or not): the 256-bit event digests chained
 * into each seal's head are what a change cannot get past. A checksum, not a SHA-256 per field,
 * because a field is located ~12 times per event sealed (docs/integrity.md).
 */
export interface EventDigest {
  /** SHA-256 of the whole event (64 hex), chained into the seal's head. */
  readonly full: string;
  /** 8 hex locating the type, then 8 locating the id. */
  readonly typeId: string;
  /** 8 hex locating each top-level field of data (key order); `=xxxxxxxx` when data is not an object; `!` when unreadable. */
  readonly data: string;
  readonly metadata: string;
}

/** A locator, as a seal keeps it (8 hex). */
export const SHORT_HEX = 8;

/** What stands for a payload the store could not decode: not JSON, so no readable payload digests the same. */
const UNREADABLE = '!';

const sha256 = (text: string): string => hash('sha256', text, 'hex');

/** FNV-1a, 32 bits, over the UTF-16 code units of `text`, as 8 hex: a locator, not evidence. */
export function locator(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(SHORT_HEX, '0');
}

/**
 * RFC 8785 (JCS) serialization of a parsed JSON value: keys sorted by UTF-16 code units (the
 * default sort), strings and numbers as ECMAScript's JSON.stringify writes them, no whitespace;
 * undefined members left out, as JSON does. For every value `canonicalize` accepts it writes the
 * same text; unlike it, it never throws on a value read from a store (a lone surrogate is written
 * escaped, as JSON.stringify does), so one odd event cannot stop the sealer. Written here rather
 * than through `canonicalize` for that, and because it runs for every field of every event sealed.
 */
export function jcs(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + jcs(value[i] === undefined ? null : value[i]);
    return text + ']';
  }
  let text = '{';
  let first = true;
  for (const key of Object.keys(value).sort()) {
    const member = (value as Record<string, unknown>)[key];
    if (member === undefined) continue;
    text += (first ? '' : ',') + JSON.stringify(key) + ':' + jcs(member);
    first = false;
  }
  return text + '}';
}

export const isJsonObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A part (data or metadata) as JCS text, and the short digests a seal keeps of it. */
interface PartDigest {
  readonly text: string;
  readonly short: string;
}

function partDigest(read: () => unknown): PartDigest {
  let value: unknown;
  try {
    value = read();
  } catch {
    return { text: UNREADABLE, short: UNREADABLE };
  }
  if (!isJsonObject(value)) {
    const text = jcs(value);
    return { text, short: `=${locator(text)}` };
  }
  let text = '{';
  let short = '';
  for (const key of Object.keys(value).sort()) {
    const member = value[key];
    if (member === undefined) continue;
    const memberText = JSON.stringify(key) + ':' + jcs(member);
    text += (short === '' ? '' : ',') + memberText;
    short += locator(memberText);
  }
  return { text: text + '}', short };
}

/** The digest of a recorded event (see {@link EventDigest}); `created` and `position` are the store's, not the event's. */
export function digestEvent(event: RecordedEvent): EventDigest {
  const data = partDigest(() => event.data);
  const metadata = partDigest(() => event.metadata);
  const full = sha256(`[${JSON.stringify(event.streamId)},"${event.revision.toString()}",${JSON.stringify(event.type)},${JSON.stringify(event.id)},${data.text},${metadata.text}]`);
  const typeId = locator('t' + event.type) + locator('i' + event.id);
  return { full, typeId, data: data.short, metadata: metadata.short };
}

/** The chain's first head, before any event. */
export const GENESIS_HEAD = sha256('opx-integrity-chain/1');

/** head' = SHA-256(head ‖ event digest), both as 64 hex. */
export const chainStep = (head: string, event: string): string => sha256(head + event);

/** The top-level fields of `value` (data or metadata) whose digests a seal does not hold, by name. */
export function changedFields(value: unknown, recorded: string): { readonly fields: string[]; readonly removed: number } {
  if (!isJsonObject(value) || recorded.startsWith('=') || recorded === UNREADABLE) return { fields: [], removed: 0 };
  const known = new Set<string>();
  for (let at = 0; at + SHORT_HEX <= recorded.length; at += SHORT_HEX) known.add(recorded.slice(at, at + SHORT_HEX));
  const keys = Object.keys(value)
    .filter((key) => value[key] !== undefined)
    .sort();
  const fields = keys.filter((key) => !known.has(locator(JSON.stringify(key) + ':' + jcs(value[key]))));
  // More fields recorded than there are now: some were removed (a renamed or changed one is named above).
  return { fields, removed: Math.max(0, recorded.length / SHORT_HEX - keys.length) };
}
