import { crc32 } from 'node:zlib';

/**
 * The checksum a SQLite row carries (CRC-32 over every field of the event, in a fixed order, each
 * field's length first so no two rows can share a byte sequence), verified on every read so a
 * corrupted record is never served as valid: EventStoreDB checksums its chunks likewise.
 * Numbers enter as decimal text, so a row read with its integers as JavaScript numbers (positions
 * and revisions, exact below 2^53) or as bigints hashes the same.
 */
export const recordChecksum = (
  position: bigint | number,
  streamId: string,
  revision: bigint | number,
  eventId: string,
  type: string,
  contentType: string,
  created: bigint | string,
  data: Uint8Array | string,
  metadata: Uint8Array | string,
): number => {
  const header = `${field(position)}${field(streamId)}${field(revision)}${field(eventId)}${field(type)}${field(contentType)}${field(created)}`;
  const crc = crc32(`${header}${byteLength(data)}:${byteLength(metadata)}:`);
  return extend(extend(crc, data), metadata);
};

/** A header field as hashed: its UTF-8 length, a colon, its text. */
const field = (value: bigint | number | string): string => {
  const text = String(value);
  return `${Buffer.byteLength(text, 'utf8')}:${text}`;
};

/**
 * zlib's crc32 of no bytes at a null address answers 0, not the CRC it was given (zlib's "initial
 * value" convention), and Node hands it one for an empty buffer that has no memory of its own.
 */
const extend = (crc: number, value: Uint8Array | string): number => (byteLength(value) === 0 ? crc : crc32(value, crc));

const byteLength = (value: Uint8Array | string): number => (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength);

/** A record whose checksum does not match its content: never served; `opx store verify` lists them. */
export class CorruptRecord extends Error {
  readonly code = 'opx.store.corrupt_record';

  constructor(readonly position: bigint | number, detail: string) {
    super(`the event store record at position ${position} is corrupt (${detail}): it is not served; run \`opx store verify DIR\``);
    this.name = 'CorruptRecord';
  }
}
