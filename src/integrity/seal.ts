import type { EventToAppend, JsonObject, RecordedEvent } from '../eventstore/event-store.js';
import { OpxError } from '../shared/errors.js';
import { eventId } from '../shared/ids.js';
import { GENESIS_HEAD } from './event-digest.js';

/**
 * The integrity chain's own stream. r0 is `IntegrityChainStarted`; every later event is a
 * `HistorySealed` covering the next run of sealable events of `$all`, in `$all` order:
 *
 *   after     the position the previous seal ended at (exclusive; null for the first seal)
 *   through   the position of the last event it covers (inclusive)
 *   previous  the chain's head before it (the previous seal's head; the genesis for the first)
 *   head      SHA-256(previous ‖ event digest) folded over its events, in order
 *   entries   per event: stream, revision, position and the short digests of its parts
 *
 * so the seals are contiguous: each starts where the previous ended, and chains from its head.
 */
export const INTEGRITY_STREAM = 'opx-integrity';
export const CHAIN_STARTED = 'IntegrityChainStarted';
export const HISTORY_SEALED = 'HistorySealed';
export const SEAL_FORMAT = 1;

/**
 * Streams the chain does not cover, by prefix: they lose events legitimately ($maxAge / $maxCount)
 * or are derived and rewritten (checkpoints, snapshots), or are the chain itself. A new stream
 * with a retention setting must be listed here, or a verification reports its expired events as
 * deleted. Each seal records the list it was made under, and is verified under that list.
 */
export const INTEGRITY_EXCLUDED_PREFIXES: readonly string[] = Object.freeze([
  INTEGRITY_STREAM, // the chain itself
  'orchestration-', // the attempt log: $maxAge 90 days (Decision 4)
  'opx-processor-checkpoint', // $maxCount 5
  'correlation-checkpoint', // $maxCount 10
  'opx-auto-resolution-checkpoint', // $maxCount 10
  'opx-projection-readmodels', // the live projection's snapshots: $maxCount
  'opx-policy-record', // the policy hashes history recorded, a derived summary: $maxCount
]);

export const isExcluded = (streamId: string, prefixes: readonly string[]): boolean => {
  for (const prefix of prefixes) if (streamId.startsWith(prefix)) return true;
  return false;
};

/** One sealed event: [streamId, revision, position, type+id digests (16 hex), data field digests, metadata field digests]. */
export type SealEntry = readonly [streamId: string, revision: number, position: string, typeId: string, data: string, metadata: string];

export interface ChainStartedData {
  readonly format: number;
  readonly algorithm: 'sha256';
  readonly genesis: string;
}

export interface HistorySealedData {
  readonly format: number;
  readonly after: string | null;
  readonly through: string;
  readonly previous: string;
  readonly head: string;
  readonly excludedPrefixes: readonly string[];
  readonly entries: readonly SealEntry[];
}

/** A seal as read back: its data, checked, with where it is in the chain's stream. */
export interface Seal extends Omit<HistorySealedData, 'after' | 'through' | 'entries'> {
  readonly revision: bigint;
  readonly after: bigint | undefined;
  readonly through: bigint;
  readonly entries: readonly ParsedEntry[];
}

export interface ParsedEntry {
  readonly streamId: string;
  readonly revision: bigint;
  readonly position: bigint;
  readonly typeId: string;
  readonly data: string;
  readonly metadata: string;
}

/** The chain as the sealer continues it: its last event's revision, its head and where sealing got to. */
export interface ChainState {
  readonly revision: bigint;
  readonly head: string;
  readonly through: bigint | undefined;
}

export class IntegrityChainCorrupt extends OpxError {
  static readonly code = 'opx.integrity.chain_corrupt';

  constructor(message: string, options?: { cause?: unknown }) {
    super(IntegrityChainCorrupt.code, message, options);
  }

  static atRevision(revision: bigint, problem: string, cause?: unknown): IntegrityChainCorrupt {
    return new IntegrityChainCorrupt(
      `the integrity chain ('${INTEGRITY_STREAM}') is unreadable at revision ${revision}: ${problem}; nothing more is sealed onto it (run \`opx verify\`)`,
      cause === undefined ? undefined : { cause },
    );
  }
}

export const chainStartedEvent = (): EventToAppend => ({
  id: eventId(`${CHAIN_STARTED}:${GENESIS_HEAD}`),
  type: CHAIN_STARTED,
  data: { format: SEAL_FORMAT, algorithm: 'sha256', genesis: GENESIS_HEAD },
  metadata: { schemaVersion: 1 },
});

export function sealEvent(data: HistorySealedData): EventToAppend {
  return {
    // The same seal made twice (two sealers, one batch) has one id: the second append is a no-op.
    id: eventId(`${HISTORY_SEALED}:${data.previous}:${data.head}:${data.through}`),
    type: HISTORY_SEALED,
    data: data as unknown as JsonObject,
    metadata: { schemaVersion: 1 },
  };
}

const HEX64 = /^[0-9a-f]{64}$/;
const POSITION = /^\d+$/;
const TYPE_ID = /^[0-9a-f]{16}$/;
const PART = /^(?:(?:[0-9a-f]{8})*|=[0-9a-f]{8}|!)$/;

/** The chain's state after one of its events (the last one, for a sealer). */
export function chainStateOf(recorded: RecordedEvent): ChainState {
  if (recorded.type === CHAIN_STARTED) {
    if (recorded.revision !== 0n) throw IntegrityChainCorrupt.atRevision(recorded.revision, `${CHAIN_STARTED} may only be the first event`);
    checkChainStarted(recorded);
    return { revision: recorded.revision, head: GENESIS_HEAD, through: undefined };
  }
  const seal = parseSeal(recorded);
  return { revision: seal.revision, head: seal.head, through: seal.through };
}

export function checkChainStarted(recorded: RecordedEvent): void {
  const data = readData(recorded);
  const problems: string[] = [];
  if (recorded.type !== CHAIN_STARTED) problems.push(`type is '${recorded.type}', not ${CHAIN_STARTED}`);
  if (data['format'] !== SEAL_FORMAT) problems.push(`format must be ${SEAL_FORMAT}`);
  if (data['algorithm'] !== 'sha256') problems.push("algorithm must be 'sha256'");
  if (data['genesis'] !== GENESIS_HEAD) problems.push('genesis is not the chain genesis');
  if (problems.length > 0) throw IntegrityChainCorrupt.atRevision(recorded.revision, problems.join('; '));
}

/** A recorded seal, checked field by field (a seal is read back from a store anyone may write to). */
export function parseSeal(recorded: RecordedEvent): Seal {
  if (recorded.type !== HISTORY_SEALED) throw IntegrityChainCorrupt.atRevision(recorded.revision, `type is '${recorded.type}', not ${HISTORY_SEALED}`);
  const data = readData(recorded);
  const problems: string[] = [];
  if (data['format'] !== SEAL_FORMAT) problems.push(`format must be ${SEAL_FORMAT}`);
  const after = data['after'];
  if (after !== null && !(typeof after === 'string' && POSITION.test(after))) problems.push('after must be null or a position');
  const through = data['through'];
  if (!(typeof through === 'string' && POSITION.test(through))) problems.push('through must be a position');
  for (const field of ['previous', 'head'] as const) if (!(typeof data[field] === 'string' && HEX64.test(data[field]))) problems.push(`${field} must be 64 hex`);
  const excluded = data['excludedPrefixes'];
  if (!Array.isArray(excluded) || !excluded.every((p): p is string => typeof p === 'string')) problems.push('excludedPrefixes must be an array of strings');
  const rawEntries = data['entries'];
  const entries: ParsedEntry[] = [];
  if (!Array.isArray(rawEntries) || rawEntries.length === 0) problems.push('entries must be a non-empty array');
  else {
    for (const [index, raw] of rawEntries.entries()) {
      const entry = parseEntry(raw);
      if (typeof entry === 'string') {
        problems.push(`entries[${index}] ${entry}`);
        break;
      }
      const previous = entries.at(-1);
      if (previous !== undefined && entry.position <= previous.position) {
        problems.push(`entries[${index}] is not after entries[${index - 1}] in $all`);
        break;
      }
      entries.push(entry);
    }
  }
  if (problems.length === 0) {
    const first = entries[0] as ParsedEntry;
    const last = entries.at(-1) as ParsedEntry;
    if (after !== null && first.position <= BigInt(after as string)) problems.push('entries[0] is not after `after`');
    if (last.position !== BigInt(through as string)) problems.push('through is not the position of the last entry');
  }
  if (problems.length > 0) throw IntegrityChainCorrupt.atRevision(recorded.revision, problems.join('; '));
  return {
    revision: recorded.revision,
    format: SEAL_FORMAT,
    after: after === null ? undefined : BigInt(after as string),
    through: BigInt(through as string),
    previous: data['previous'] as string,
    head: data['head'] as string,
    excludedPrefixes: excluded as string[],
    entries,
  };
}

function parseEntry(raw: unknown): ParsedEntry | string {
  if (!Array.isArray(raw) || raw.length !== 6) return 'must be [streamId, revision, position, typeId, data, metadata]';
  const [streamId, revision, position, typeId, data, metadata] = raw as unknown[];
  if (typeof streamId !== 'string' || streamId === '') return 'streamId must be a non-empty string';
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) return 'revision must be a whole number';
  if (typeof position !== 'string' || !POSITION.test(position)) return 'position must be a position';
  if (typeof typeId !== 'string' || !TYPE_ID.test(typeId)) return 'typeId must be 16 hex';
  if (typeof data !== 'string' || !PART.test(data)) return 'data must be field digests';
  if (typeof metadata !== 'string' || !PART.test(metadata)) return 'metadata must be field digests';
  return { streamId, revision: BigInt(revision), position: BigInt(position), typeId, data, metadata };
}

function readData(recorded: RecordedEvent): JsonObject {
  try {
    return recorded.data;
  } catch (error) {
    throw IntegrityChainCorrupt.atRevision(recorded.revision, 'its data is not JSON', error);
  }
}
