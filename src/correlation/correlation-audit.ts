import { candidateCodec } from '../candidates/candidate-codec.js';
import { CANDIDATE_STREAM_PREFIX, candidateStreamId } from '../candidates/candidate-events.js';
import { candidateCreated, candidateCreatedEventId } from '../candidates/candidate-store.js';
import type { EventReader, EventToAppend, RecordedEvent } from '../eventstore/event-store.js';
import { sameCanonicalJson } from '../shared/canonical-json.js';
import { silentLogger } from '../shared/logger.js';
import { CHECKPOINT_STREAM, GROUP_STREAM_PREFIX } from './correlation-events.js';
import type { CorrelationOutputs } from './correlation-outputs.js';
import type { CorrelationRuleSet } from './correlation-rule.js';
import type { Candidate } from './correlator.js';
import { checkpointOf, readCheckpoint } from './correlation-checkpoint.js';
import { CORRELATION_INPUT_PREFIXES, LiveCorrelator } from './live-correlator.js';
import { OutputCursor, PlaceAtPosition } from './output-cursor.js';

/** One place where replayed correlation did not reproduce history (the same shape as the orchestration audit's). */
export interface CorrelationDivergence {
  readonly streamId: string;
  readonly revision: string;
  readonly kind: 'different' | 'not-reproduced' | 'not-recorded';
  readonly path?: string;
  readonly recorded?: unknown;
  readonly replayed?: unknown;
  readonly message: string;
}

export interface CorrelationAuditReport {
  readonly verdict: 'IDENTICAL' | 'DIVERGENT';
  /** Signal facts, ticks and incident closes fed to the replayed correlation. */
  readonly inputs: number;
  /** Group events and live CandidateCreated events compared byte for byte. */
  readonly eventsCompared: number;
  /** Inputs still held when history ends (never released in it either): not a divergence. */
  readonly inputsHeld: number;
  /**
   * Outputs not recorded yet, derived from inputs past the last correlation checkpoint (a live
   * correlator had not confirmed handling them when the audit looked): not a divergence.
   */
  readonly outputsPending: number;
  /** CandidateCreated events of the batch correlation that came before (schema 1): inputs, not outputs. */
  readonly batchCandidates: number;
  readonly divergenceCount: number;
  readonly divergences: readonly CorrelationDivergence[];
}

const MAX_DIVERGENCES = 100;

export interface CorrelationAuditOptions {
  /** Inputs handled between two commits of the replayed correlator (default 1,024). */
  readonly commitEvery?: number;
  /**
   * Derived outputs held for the scan to meet (default 2,048); past it, a second cursor reads on
   * ahead of the scan to compare the held ones, and those it does not find are read back per stream.
   */
  readonly maxHeld?: number;
}

/** What the correlation audit reads: the correlator's inputs, and the outputs it compares with. */
export const CORRELATION_AUDIT_PREFIXES: readonly string[] = [...CORRELATION_INPUT_PREFIXES, GROUP_STREAM_PREFIX, CANDIDATE_STREAM_PREFIX, CHECKPOINT_STREAM];

/**
 * The replay audit of correlation: every recorded input (signal facts, clock ticks, incident
 * closes) fed in `$all` order to a fresh correlator with the rules in config, every event it
 * derives compared byte for byte (type, id, data, metadata) with what is recorded: the group
 * streams and the candidates live correlation made. Nothing is written. A candidate recorded by the
 * batch correlation before (schema 1) is an input of the orchestration audit, not an output here.
 * An output not recorded is pending, not a divergence, when an input it may follow from lies past
 * the last correlation checkpoint the scan met: a live correlator records outputs before the
 * checkpoint that covers their inputs, so only outputs of inputs it has confirmed must be there.
 * One pass over `events` (the streams of {@link CORRELATION_AUDIT_PREFIXES} in `$all` order; a
 * shared scan gives them, see auditHistory): inputs go to the correlator, recorded outputs are
 * noted so those it did not derive are found at the end.
 */
export async function auditCorrelation(
  source: EventReader,
  rules: CorrelationRuleSet,
  events: AsyncIterable<RecordedEvent> = source.readAll({ streamPrefixes: CORRELATION_AUDIT_PREFIXES }),
  options: CorrelationAuditOptions = {},
): Promise<CorrelationAuditReport> {
  const commitEvery = options.commitEvery ?? 1_024;
  const outputs = new ComparingOutputs(source, options.maxHeld ?? MAX_HELD);
  const correlator = new LiveCorrelator(rules, source, outputs, silentLogger, { maxGroups: 10_000 });
  let inputs = 0;
  try {
    for await (const recorded of events) {
      outputs.scanAt = recorded.position;
      if (!isInput(recorded.streamId)) {
        outputs.recordedOutput(recorded);
        continue;
      }
      const derived = correlator.eventsDerived;
      await correlator.handle(recorded);
      if (correlator.eventsDerived !== derived) outputs.derivedThrough = recorded.position;
      inputs++;
      if (inputs % commitEvery !== 0) continue;
      await correlator.commit();
      await outputs.settleOldest();
    }
    await correlator.commit();
    outputs.finish();
  } finally {
    await outputs.close();
  }
  const divergences = outputs.divergences;
  return {
    verdict: outputs.divergenceCount === 0 ? 'IDENTICAL' : 'DIVERGENT',
    inputs: correlator.stats.inputs,
    eventsCompared: outputs.compared,
    inputsHeld: correlator.holding.count,
    outputsPending: outputs.pending,
    batchCandidates: outputs.batchCandidates,
    divergenceCount: outputs.divergenceCount,
    divergences,
  };
}

function isInput(streamId: string): boolean {
  for (const prefix of CORRELATION_INPUT_PREFIXES) if (streamId.startsWith(prefix)) return true;
  return false;
}

/** Derived outputs held for the scan to meet, at most this many; past it the oldest are compared ahead of the scan (see {@link OutputCursor}). */
const MAX_HELD = 2_048;

/** An output the replay derived, waiting for the scan to meet it recorded. */
interface Held {
  readonly streamId: string;
  readonly revision: bigint;
  readonly event: EventToAppend;
  /** The position of the last input handled when it was derived. */
  readonly through: bigint | undefined;
}

const keyOf = (streamId: string, revision: bigint): string => `${streamId}@${revision}`;
const isBatchCandidate = (recorded: RecordedEvent): boolean => (recorded.metadata as { schemaVersion?: unknown }).schemaVersion === 1;

/**
 * Outputs that compare with history instead of writing, and rebuild groups from what was compared.
 * A recorded output follows its inputs in `$all`, so it is compared when the scan meets it: what
 * the replay derives is held until then (and what the scan meets first, until the replay derives
 * it), with no read. A history recorded ingest-first derives everything before the scan reaches
 * any output: past {@link MAX_HELD} held outputs, a second cursor reads on ahead of the scan and
 * compares the held outputs it meets ({@link OutputCursor}); those it does not find soon are read
 * back per stream. The scan passes over what the cursor and those reads compared.
 */
class ComparingOutputs implements CorrelationOutputs {
  readonly divergences: CorrelationDivergence[] = [];
  divergenceCount = 0;
  compared = 0;
  pending = 0;
  batchCandidates = 0;
  /** The position of the last input that derived an output: outputs derived now follow from inputs up to it. */
  derivedThrough: bigint | undefined;
  /** The position of the last event the scan met. */
  scanAt: bigint | undefined;
  /** The inputs the last correlation checkpoint the scan met covers (its position). */
  private checkpointed: bigint | undefined;
  /** Events replayed per group stream (what a rebuilt group may read back: history agreed up to there). */
  private readonly replayed = new Map<string, number>();
  private readonly held = new Map<string, Held>();
  /** Recorded outputs the scan met before the replay derived them (it derives on commit). */
  private readonly ahead = new Map<string, RecordedEvent>();
  /** Per stream, revisions below this were compared by reading the stream: the scan passes them over. */
  private readonly readBack = new Map<string, bigint>();
  /** Candidates of the batch correlation (schema 1): inputs of the orchestration audit, not compared here. */
  private readonly batchMade = new Set<string>();
  private readonly cursor: OutputCursor;
  /** The place of each group and candidate event the scan meets at its position (see {@link OutputCursor.passes}). */
  private readonly place = new PlaceAtPosition();

  constructor(
    private readonly source: EventReader,
    private readonly maxHeld: number,
  ) {
    this.cursor = new OutputCursor(source);
  }

  async createCandidate(candidate: Candidate): Promise<void> {
    const streamId = candidateStreamId(candidate.candidateId);
    if (this.batchMade.has(streamId)) return;
    this.derive(streamId, 0n, candidateCodec.encodeTrusted(candidateCreated(candidate), candidateCreatedEventId(candidate)));
  }

  async appendGroup(streamId: string, events: readonly EventToAppend[], expected: bigint): Promise<void> {
    events.forEach((event, i) => this.derive(streamId, expected + 1n + BigInt(i), event));
    this.replayed.set(streamId, Number(expected) + 1 + events.length);
  }

  async *readGroup(streamId: string): AsyncIterable<RecordedEvent> {
    const count = this.replayed.get(streamId) ?? 0;
    if (count > 0) yield* this.source.readStream(streamId, { maxCount: count });
  }

  private derive(streamId: string, revision: bigint, event: EventToAppend): void {
    const key = keyOf(streamId, revision);
    const recorded = this.ahead.get(key);
    if (recorded === undefined) {
      this.held.set(key, { streamId, revision, event, through: this.derivedThrough });
      return;
    }
    this.ahead.delete(key);
    this.compare(streamId, revision, event, recorded);
  }

  /** A recorded output (or checkpoint) as the scan meets it: compared with what was derived, or kept until it is. */
  recordedOutput(recorded: RecordedEvent): void {
    const { streamId, revision } = recorded;
    if (streamId === CHECKPOINT_STREAM) {
      const checkpoint = checkpointOf(recorded);
      if (checkpoint !== undefined && (this.checkpointed === undefined || checkpoint.position > this.checkpointed)) this.checkpointed = checkpoint.position;
      return;
    }
    const place = this.place.of(recorded.position);
    if (!streamId.startsWith(GROUP_STREAM_PREFIX)) {
      if (recorded.type !== 'CandidateCreated' || revision !== 0n) return;
      if (isBatchCandidate(recorded)) {
        this.batchCandidates++;
        this.batchMade.add(streamId);
        this.held.delete(keyOf(streamId, 0n));
        return;
      }
    }
    if (this.cursor.passes(recorded.position, place) || revision < (this.readBack.get(streamId) ?? 0n)) return;
    const key = keyOf(streamId, revision);
    const held = this.held.get(key);
    if (held === undefined) {
      this.ahead.set(key, recorded);
      return;
    }
    this.held.delete(key);
    this.compare(streamId, revision, held.event, recorded);
  }

  /**
   * Past `maxHeld` held outputs (call after a commit), compares held ones with what the second
   * cursor meets ahead of the scan, down to half the hold; if it meets none for a while (they are
   * not ahead, or not recorded), reads the oldest back per stream instead.
   */
  async settleOldest(): Promise<void> {
    if (this.held.size <= this.maxHeld) return;
    const half = (): boolean => this.held.size <= this.maxHeld / 2;
    await this.cursor.advance(this.scanAt, (recorded) => this.settleAhead(recorded), half, this.maxHeld * 2);
    if (!half()) await this.readBackOldest();
  }

  /** An output the second cursor met: compared when it is held (the scan will pass over it), else left for the scan. */
  private settleAhead(recorded: RecordedEvent): boolean {
    const { streamId, revision } = recorded;
    if (!streamId.startsWith(GROUP_STREAM_PREFIX) && (recorded.type !== 'CandidateCreated' || revision !== 0n || isBatchCandidate(recorded))) return false;
    if (revision < (this.readBack.get(streamId) ?? 0n)) return false;
    const key = keyOf(streamId, revision);
    const held = this.held.get(key);
    if (held === undefined) return false;
    this.held.delete(key);
    this.compare(streamId, revision, held.event, recorded);
    return true;
  }

  async close(): Promise<void> {
    await this.cursor.close();
  }

  /** Compares the oldest held outputs by reading their streams, down to half the hold. */
  private async readBackOldest(): Promise<void> {
    const byStream = new Map<string, Held[]>();
    for (const [key, held] of this.held) {
      if (this.held.size <= this.maxHeld / 2) break;
      this.held.delete(key);
      const list = byStream.get(held.streamId);
      if (list === undefined) byStream.set(held.streamId, [held]);
      else list.push(held);
    }
    const checkpoint = (await readCheckpoint(this.source))?.position;
    const streams = [...byStream];
    for (let i = 0; i < streams.length; i += 32) {
      await Promise.all(streams.slice(i, i + 32).map(([streamId, list]) => this.readBackStream(streamId, list, checkpoint)));
    }
  }

  private async readBackStream(streamId: string, list: readonly Held[], checkpoint: bigint | undefined): Promise<void> {
    const from = (list[0] as Held).revision;
    const last = (list.at(-1) as Held).revision;
    const recorded: RecordedEvent[] = [];
    for await (const event of this.source.readStream(streamId, { fromRevision: from, maxCount: Number(last - from) + 1 })) recorded.push(event);
    for (const held of list) this.settle(held, recorded[Number(held.revision - from)], checkpoint);
    this.readBack.set(streamId, last + 1n);
  }

  /** Compares a held output with what is recorded at its revision; one not recorded is pending while its input is past `checkpoint`. */
  private settle(held: Held, recorded: RecordedEvent | undefined, checkpoint: bigint | undefined): void {
    if (recorded === undefined && held.through !== undefined && (checkpoint === undefined || checkpoint < held.through)) {
      this.pending++;
      return;
    }
    this.compare(held.streamId, held.revision, held.event, recorded);
  }

  /**
   * At the end of the scan: derived outputs it never met (pending when the last checkpoint it met
   * does not cover their inputs), and recorded outputs the replay did not derive.
   */
  finish(): void {
    for (const held of this.held.values()) this.settle(held, undefined, this.checkpointed);
    this.held.clear();
    for (const recorded of this.ahead.values()) {
      const group = recorded.streamId.startsWith(GROUP_STREAM_PREFIX);
      this.diverge({
        streamId: recorded.streamId,
        revision: recorded.revision.toString(),
        kind: 'not-reproduced',
        message: group ? `a ${recorded.type} the replayed correlation did not derive` : 'a live-correlated candidate the replayed correlation did not open',
      });
    }
    this.ahead.clear();
  }

  private compare(streamId: string, revision: bigint, replayed: EventToAppend, recorded: RecordedEvent | undefined): void {
    this.compared++;
    if (recorded === undefined) {
      this.diverge({ streamId, revision: revision.toString(), kind: 'not-recorded', replayed: { type: replayed.type, id: replayed.id }, message: 'the replayed correlation derived an event history does not hold' });
      return;
    }
    for (const [path, a, b] of [
      ['type', recorded.type, replayed.type],
      ['id', recorded.id, replayed.id],
      ['data', recorded.data, replayed.data],
      ['metadata', recorded.metadata, replayed.metadata],
    ] as const) {
      if (sameCanonicalJson(a, b)) continue;
      const field = firstDifferentField(a, b, path);
      this.diverge({ streamId, revision: revision.toString(), kind: 'different', path: field.path, recorded: field.recorded, replayed: field.replayed, message: `${recorded.type} differs from what correlation derives from the recorded inputs` });
      return;
    }
  }

  private diverge(divergence: CorrelationDivergence): void {
    this.divergenceCount++;
    if (this.divergences.length < MAX_DIVERGENCES) this.divergences.push(divergence);
  }
}

/** The first differing leaf of two JSON values, by path (`data.outcome`). */
function firstDifferentField(a: unknown, b: unknown, path: string): { path: string; recorded: unknown; replayed: unknown } {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) {
      const x = (a as Record<string, unknown>)[key];
      const y = (b as Record<string, unknown>)[key];
      if (!sameCanonicalJson(x, y)) return firstDifferentField(x, y, `${path}.${key}`);
    }
  }
  return { path, recorded: a, replayed: b };
}
