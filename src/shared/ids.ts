import { hash, randomFillSync } from 'node:crypto';

import { parse as parseUuid } from 'uuid';

import { canonicalJson } from './canonical-json.js';

/** Namespace for every OPX event id (UUID v5). Changing it changes every recorded id: never do. */
export const OPX_EVENT_ID_NAMESPACE = 'a3c1f6d2-5b0e-5f4a-9c7d-2e8b1f0a6c93';

/** The namespace as bytes, parsed once (uuid would parse the string form on every call). */
const NAMESPACE_BYTES = Buffer.from(parseUuid(OPX_EVENT_ID_NAMESPACE));

const HEX = Buffer.from('0123456789abcdef', 'latin1');
const DASH = '-'.charCodeAt(0);
const COLON = ':'.charCodeAt(0);

/** Writes digest bytes `from`..`to` (a binary string: one char per byte) as lowercase hex into `out` at `at`; returns the end. */
function writeHex(out: Buffer, digest: string, from: number, to: number, at: number): number {
  for (let i = from; i < to; i++) at = writeByte(out, digest.charCodeAt(i), at);
  return at;
}

function writeByte(out: Buffer, byte: number, at: number): number {
  out[at] = HEX[byte >> 4] as number;
  out[at + 1] = HEX[byte & 0xf] as number;
  return at + 2;
}

/**
 * A deterministic event id: the same name always yields the same UUID v5 (RFC 9562 5.5: SHA-1
 * of namespace and UTF-8 name, version and variant bits set, then the 8-4-4-4-12 hex form).
 * Hashed with node's one-shot `crypto.hash` and written byte by byte into one flat string, a
 * fraction of `uuid.v5`'s cost (see docs/performance.md). test/core/ids.unit.spec.ts holds it
 * equal to `uuid.v5` on every kind of name.
 */
export function eventId(name: string): string {
  // A UTF-16 code unit takes at most 3 UTF-8 bytes, so a name of up to NAME_ROOM units fits the scratch input.
  if (name.length <= NAME_ROOM) return idOf(inputView(NAMESPACE_BYTES.length + ID_INPUT.write(name, NAMESPACE_BYTES.length, 'utf8')));
  const input = Buffer.allocUnsafe(NAMESPACE_BYTES.length + name.length * 3);
  NAMESPACE_BYTES.copy(input, 0);
  return idOf(input.subarray(0, NAMESPACE_BYTES.length + input.write(name, NAMESPACE_BYTES.length, 'utf8')));
}

/**
 * `eventId(`${a}:${b}:${c}`)`, the parts written into the hash input one after another: the
 * joined name is never formed (a string per id, flattened to be written, for every group event).
 */
export function eventIdOf(a: string, b: string, c: string): string {
  if (a.length + b.length + c.length + 2 > NAME_ROOM) return eventId(`${a}:${b}:${c}`);
  let at = NAMESPACE_BYTES.length;
  at += ID_INPUT.write(a, at, 'utf8');
  ID_INPUT[at++] = COLON;
  at += ID_INPUT.write(b, at, 'utf8');
  ID_INPUT[at++] = COLON;
  at += ID_INPUT.write(c, at, 'utf8');
  return idOf(inputView(at));
}

/** The UUID v5 form of the SHA-1 of `input` (namespace and name). */
function idOf(input: Buffer): string {
  const digest = hash('sha1', input, 'binary');
  const out = ID_OUT;
  let at = writeHex(out, digest, 0, 4, 0);
  out[at++] = DASH;
  at = writeHex(out, digest, 4, 6, at);
  out[at++] = DASH;
  at = writeByte(out, (digest.charCodeAt(6) & 0x0f) | 0x50, at); // version 5 in the high nibble
  at = writeHex(out, digest, 7, 8, at);
  out[at++] = DASH;
  at = writeByte(out, (digest.charCodeAt(8) & 0x3f) | 0x80, at); // variant 10 in the high bits
  at = writeHex(out, digest, 9, 10, at);
  out[at++] = DASH;
  at = writeHex(out, digest, 10, 16, at);
  return out.toString('latin1', 0, at);
}

/**
 * Scratch buffers of {@link eventId} and {@link eventIdOf} (they never yield, so one set serves every call): the
 * namespace and name hashed, a view of it per input length (`crypto.hash` takes no offsets), and
 * the id written. Buffers per call were most of an id's allocation, and correlation makes one per
 * group event. Module-level on purpose, and not a cache: nothing in them outlives a call (each thread
 * has its own), so every id depends on its name alone.
 */
const NAME_ROOM = 512;
const ID_INPUT = Buffer.alloc(NAMESPACE_BYTES.length + NAME_ROOM * 3);
NAMESPACE_BYTES.copy(ID_INPUT, 0);
const ID_INPUT_VIEWS: Buffer[] = [];
const ID_OUT = Buffer.alloc(36);

function inputView(end: number): Buffer {
  return (ID_INPUT_VIEWS[end] ??= ID_INPUT.subarray(0, end));
}

/**
 * Random UUIDs (v4), for what is an occurrence and never a duplicate of another (an
 * orchestration attempt): never in a decision path. Random bytes are drawn into this object's
 * pool, 16 ids' worth at first and twice as many each time up to 256 (an orchestrator that makes
 * few ids, as a replay's scratch ones do, draws few), and each id is written flat (see
 * docs/performance.md).
 */
export class RandomIds {
  private pool = Buffer.alloc(0);
  private at = 0;

  /** @param fill the random source (node's CSPRNG) */
  constructor(private readonly fill: (pool: Buffer) => void = (pool) => randomFillSync(pool)) {}

  next(): string {
    if (this.at === this.pool.length) {
      if (this.pool.length < 16 * 256) this.pool = Buffer.alloc(Math.max(16 * 16, this.pool.length * 2));
      this.fill(this.pool);
      this.at = 0;
    }
    const from = this.at;
    this.at += 16;
    const out = Buffer.allocUnsafe(36);
    let at = 0;
    for (let i = from; i < from + 16; i++) {
      if (i === from + 4 || i === from + 6 || i === from + 8 || i === from + 10) out[at++] = DASH;
      const byte = this.pool[i] as number;
      at = writeByte(out, i === from + 6 ? (byte & 0x0f) | 0x40 : i === from + 8 ? (byte & 0x3f) | 0x80 : byte, at);
    }
    return out.toString('latin1', 0, at);
  }
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
 * parts are serialized natively. Written flat, as event ids are; a prefix is a short ASCII word.
 */
export function domainId(prefix: string, parts: readonly string[]): string {
  const digest = hash('sha256', JSON.stringify(parts), 'binary');
  const out = Buffer.allocUnsafe(prefix.length + 25);
  let at = 0;
  for (; at < prefix.length; at++) out[at] = prefix.charCodeAt(at);
  out[at++] = DASH;
  at = writeHex(out, digest, 0, 12, at);
  return out.toString('latin1', 0, at);
}
