import type { StoredEvent } from '../storage/engine.js';

/**
 * The `ReadResp { event: ReadEvent }` message of Streams reads and of persistent subscriptions
 * (the two share its wire layout; the persistent one adds a retry count), encoded straight from a
 * stored event into protobuf wire bytes: every event a read or a subscription sends is one, and
 * building it through the generated google-protobuf classes (a message object per field group,
 * a metadata map, then `serializeBinary`) cost the server ~13 us an event, as much as everything
 * else it does to serve a read. The bytes are exactly those `serializeBinary` writes for the same
 * message (fields in number order, proto3 defaults left out, map entries sorted by key), which
 * test/esdb-server/read-resp-encoder.unit.spec.ts holds against the generated classes of both
 * services; the official client decodes them with its own generated code, as it always did.
 *
 * Field numbers (streams.proto, shared.proto):
 *   ReadResp:    1 event (ReadEvent)
 *   ReadEvent:   1 event, 2 link (RecordedEvent); 3 commit_position (uint64, oneof position);
 *                persistent only: 5 retry_count (int32, oneof count)
 *   RecordedEvent: 1 id (UUID), 2 stream_identifier, 3 stream_revision, 4 prepare_position,
 *                5 commit_position (uint64), 6 metadata (map<string,string>), 7 custom_metadata, 8 data
 *   UUID:        1 structured { 1 most_significant_bits, 2 least_significant_bits (int64) }, 2 string
 *   StreamIdentifier: 3 stream_name (bytes)
 */
export function encodeReadEventResp(
  event: StoredEvent | undefined,
  link: StoredEvent | undefined,
  structuredIds: boolean,
  commitPosition: bigint,
  options: ReadEventOptions = {},
): Buffer {
  const eventFields = recordedEventFields(event, structuredIds, options.recordedPosition);
  const linkFields = recordedEventFields(link, structuredIds, options.recordedPosition);
  const { retryCount } = options;
  if (retryCount !== undefined && (!Number.isInteger(retryCount) || retryCount < 0 || retryCount > 0x7fffffff)) throw new RangeError(`retry count ${retryCount} is not a non-negative int32`);
  const readEventSize =
    (eventFields === undefined ? 0 : fieldSize(eventFields.size)) +
    (linkFields === undefined ? 0 : fieldSize(linkFields.size)) +
    1 +
    uint64Size(commitPosition) +
    (retryCount === undefined ? 0 : 1 + varintSize(retryCount));
  const out = Buffer.allocUnsafe(fieldSize(readEventSize));
  let at = writeTag(out, 0, 1, LEN);
  at = writeVarint(out, at, readEventSize);
  if (eventFields !== undefined) at = writeRecordedEvent(out, at, 1, eventFields);
  if (linkFields !== undefined) at = writeRecordedEvent(out, at, 2, linkFields);
  at = writeTag(out, at, 3, VARINT);
  at = writeUint64(out, at, commitPosition);
  if (retryCount !== undefined) {
    at = writeTag(out, at, 5, VARINT);
    at = writeVarint(out, at, retryCount);
  }
  if (at !== out.length) throw new Error(`ReadResp encoding wrote ${at} of ${out.length} bytes`);
  return out;
}

export interface ReadEventOptions {
  /** The position written into each recorded event (default: its own): a persistent delivery carries the delivery's. */
  readonly recordedPosition?: bigint;
  /** A persistent subscription's ReadEvent.retry_count; a Streams ReadEvent has none. */
  readonly retryCount?: number;
}

const VARINT = 0;
const LEN = 2;

/** What a RecordedEvent is made of, measured once, so sizes are known before writing. */
interface RecordedEventFields {
  readonly event: StoredEvent;
  /** The id's two halves, for the structured form; undefined for the string form. */
  readonly uuidHalves: readonly [msb: bigint, lsb: bigint] | undefined;
  /** Bytes of the UUID message's content, and of the id's text (string form). */
  readonly idSize: number;
  readonly idBytes: number;
  readonly position: bigint;
  readonly streamNameBytes: number;
  readonly streamIdentifierSize: number;
  readonly created: string;
  readonly entries: ReadonlyArray<readonly [key: string, keyBytes: number, value: string, valueBytes: number]>;
  readonly size: number;
}

function recordedEventFields(event: StoredEvent | undefined, structured: boolean, recordedPosition: bigint | undefined): RecordedEventFields | undefined {
  if (event === undefined) return undefined;
  const position = recordedPosition ?? event.position;
  const idBytes = Buffer.byteLength(event.eventId, 'utf8');
  const uuidHalves = structured ? structuredUuidHalves(event.eventId) : undefined;
  const idSize = uuidHalves !== undefined ? fieldSize(structuredUuidSize(uuidHalves)) : fieldSize(idBytes);
  const streamNameBytes = Buffer.byteLength(event.streamId, 'utf8');
  const streamIdentifierSize = streamNameBytes === 0 ? 0 : fieldSize(streamNameBytes);
  const created = event.created.toString();
  // Sorted by key, as google-protobuf writes a map.
  const entries = [
    ['content-type', 'content-type'.length, event.contentType, Buffer.byteLength(event.contentType, 'utf8')],
    ['created', 'created'.length, created, created.length],
    ['type', 'type'.length, event.type, Buffer.byteLength(event.type, 'utf8')],
  ] as const;
  let size = fieldSize(idSize) + fieldSize(streamIdentifierSize);
  if (event.revision !== 0n) size += 1 + uint64Size(event.revision);
  if (position !== 0n) size += 2 * (1 + uint64Size(position));
  for (const [, keyBytes, , valueBytes] of entries) size += fieldSize(fieldSize(keyBytes) + fieldSize(valueBytes));
  if (event.metadata.length > 0) size += fieldSize(event.metadata.length);
  if (event.data.length > 0) size += fieldSize(event.data.length);
  return { event, uuidHalves, idSize, idBytes, position, streamNameBytes, streamIdentifierSize, created, entries, size };
}

function writeRecordedEvent(out: Buffer, start: number, field: number, f: RecordedEventFields): number {
  const { event } = f;
  let at = writeTag(out, start, field, LEN);
  at = writeVarint(out, at, f.size);
  at = writeTag(out, at, 1, LEN);
  at = writeVarint(out, at, f.idSize);
  at = f.uuidHalves !== undefined ? writeStructuredUuid(out, at, f.uuidHalves) : writeString(out, at, 2, event.eventId, f.idBytes);
  at = writeTag(out, at, 2, LEN);
  at = writeVarint(out, at, f.streamIdentifierSize);
  if (f.streamNameBytes > 0) at = writeString(out, at, 3, event.streamId, f.streamNameBytes);
  if (event.revision !== 0n) {
    at = writeTag(out, at, 3, VARINT);
    at = writeUint64(out, at, event.revision);
  }
  if (f.position !== 0n) {
    at = writeTag(out, at, 4, VARINT);
    at = writeUint64(out, at, f.position);
    at = writeTag(out, at, 5, VARINT);
    at = writeUint64(out, at, f.position);
  }
  for (const [key, keyBytes, value, valueBytes] of f.entries) {
    at = writeTag(out, at, 6, LEN);
    at = writeVarint(out, at, fieldSize(keyBytes) + fieldSize(valueBytes));
    at = writeString(out, at, 1, key, keyBytes);
    at = writeString(out, at, 2, value, valueBytes);
  }
  if (event.metadata.length > 0) at = writeBytes(out, at, 7, event.metadata);
  if (event.data.length > 0) at = writeBytes(out, at, 8, event.data);
  return at;
}

/** The structured UUID: the two halves as signed 64-bit integers (zero halves left out). */
function structuredUuidHalves(id: string): readonly [bigint, bigint] {
  const hex = id.replace(/-/g, '');
  return [BigInt.asUintN(64, BigInt(`0x${hex.slice(0, 16)}`)), BigInt.asUintN(64, BigInt(`0x${hex.slice(16, 32)}`))];
}

/** Bytes of the Structured message's content (zero halves left out). */
const structuredUuidSize = ([msb, lsb]: readonly [bigint, bigint]): number => (msb === 0n ? 0 : 1 + uint64Size(msb)) + (lsb === 0n ? 0 : 1 + uint64Size(lsb));

function writeStructuredUuid(out: Buffer, start: number, halves: readonly [bigint, bigint]): number {
  const [msb, lsb] = halves;
  let at = writeTag(out, start, 1, LEN);
  at = writeVarint(out, at, structuredUuidSize(halves));
  if (msb !== 0n) {
    at = writeTag(out, at, 1, VARINT);
    at = writeUint64(out, at, msb);
  }
  if (lsb !== 0n) {
    at = writeTag(out, at, 2, VARINT);
    at = writeUint64(out, at, lsb);
  }
  return at;
}

/** Bytes of a length-delimited field whose payload is `length` bytes long (every field here is 1-15: a one-byte tag). */
const fieldSize = (length: number): number => 1 + varintSize(length) + length;

function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function uint64Size(value: bigint): number {
  if (value <= 0x1fffffffffffffn) return varintSize(Number(value));
  let size = 1;
  while (value >= 128n) {
    value >>= 7n;
    size++;
  }
  return size;
}

const writeTag = (out: Buffer, at: number, field: number, wireType: number): number => {
  out[at] = (field << 3) | wireType;
  return at + 1;
};

function writeVarint(out: Buffer, start: number, value: number): number {
  let at = start;
  while (value >= 128) {
    out[at++] = (value % 128) | 128;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

function writeUint64(out: Buffer, start: number, value: bigint): number {
  if (value <= 0x1fffffffffffffn) return writeVarint(out, start, Number(value));
  let at = start;
  while (value >= 128n) {
    out[at++] = Number(value & 127n) | 128;
    value >>= 7n;
  }
  out[at++] = Number(value);
  return at;
}

function writeString(out: Buffer, start: number, field: number, text: string, bytes: number): number {
  let at = writeTag(out, start, field, LEN);
  at = writeVarint(out, at, bytes);
  return at + out.write(text, at, bytes, 'utf8');
}

function writeBytes(out: Buffer, start: number, field: number, bytes: Uint8Array): number {
  let at = writeTag(out, start, field, LEN);
  at = writeVarint(out, at, bytes.length);
  out.set(bytes, at);
  return at + bytes.length;
}
