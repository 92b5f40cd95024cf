import { candidateCodec } from '../candidates/candidate-codec.js';
import { CANDIDATE_STREAM_PREFIX, candidateStreamId } from '../candidates/candidate-events.js';
import { candidateCreated, candidateCreatedEventId } from '../candidates/candidate-store.js';
import type { EventReader, EventToAppend, RecordedEvent } from '../eventstore/event-store.js';
import { sameCanonicalJson } from '../shared/canonical-json.js';
import { silentLogger } from '../shared/logger.js';
import { GROUP_STREAM_PREFIX } from './correlation-events.js';
import type { CorrelationOutputs } from './correlation-outputs.js';
import type { CorrelationRuleSet } from './correlation-rule.js';
import type { Candidate } from './correlator.js';
import { CORRELATION_INPUT_PREFIXES, LiveCorrelator, readCheckpoint } from './live-correlator.js';

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

/** What the correlation audit reads: the correlator's inputs, and the outputs it compares with. */
export const CORRELATION_AUDIT_PREFIXES: readonly string[] = [...CORRELATION_INPUT_PREFIXES, GROUP_STREAM_PREFIX, CANDIDATE_STREAM_PREFIX];

/**
 * The replay audit of correlation: every recorded input (signal facts, clock ticks, incident
 * closes) fed in `$all` order to a fresh correlator with the rules in config, every event it
 * derives compared byte for byte (type, id, data, metadata) with what is recorded: the group
 * streams and the candidates live correlation made. Nothing is written. A candidate recorded by the
 * batch correlation before (schema 1) is an input of the orchestration audit, not an output here.
 * An output not recorded is pending, not a divergence, when an input it may follow from lies past
 * the last correlation checkpoint: a live correlator records outputs before the checkpoint that
 * covers their inputs, so only outputs of inputs it has confirmed must be there.
 * One pass over `events` (the streams of {@link CORRELATION_AUDIT_PREFIXES} in `$all` order; a
 * shared scan gives them, see auditHistory): inputs go to the correlator, recorded outputs are
 * noted so those it did not derive are found at the end.
 */
export async function auditCorrelation(
  source: EventReader,
  rules: CorrelationRuleSet,
  events: AsyncIterable<RecordedEvent> = source.readAll({ streamPrefixes: CORRELATION_AUDIT_PREFIXES }),
): Promise<CorrelationAuditReport> {
  const outputs = new ComparingOutputs(source);
  const correlator = new LiveCorrelator(rules, source, outputs, silentLogger, { maxGroups: 10_000 });
  let inputs = 0;
  for await (const recorded of events) {
    if (!isInput(recorded.streamId)) {
      outputs.recordedOutput(recorded);
      continue;
    }
    await correlator.handle(recorded);
    outputs.derivedThrough = recorded.position;
    inputs++;
    if (inputs % 1_024 === 0) await correlator.commit();
  }
  await correlator.commit();
  outputs.findUnreproduced();
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

/** Outputs that compare with history instead of writing, and rebuild groups from what was compared. */
class ComparingOutputs implements CorrelationOutputs {
  readonly divergences: CorrelationDivergence[] = [];
  divergenceCount = 0;
  compared = 0;
  pending = 0;
  batchCandidates = 0;
  /** The position of the last input handled: outputs compared now follow from inputs up to it. */
  derivedThrough: bigint | undefined;
  /** Events replayed per group stream (what a rebuilt group may read back: history agreed up to there). */
  private readonly replayed = new Map<string, number>();
  /** Candidates the replay created that the scan has not met recorded yet (its candidate comes after its inputs). */
  private readonly created = new Set<string>();
  /** Live candidates the scan met recorded that the replay has not created (yet: it creates on commit). */
  private readonly recordedNotCreated = new Set<string>();
  /** The last revision of every group stream the scan met. */
  private readonly groups = new Map<string, bigint>();

  constructor(private readonly source: EventReader) {}

  async createCandidate(candidate: Candidate): Promise<void> {
    const streamId = candidateStreamId(candidate.candidateId);
    if (!this.recordedNotCreated.delete(streamId)) this.created.add(streamId);
    const event = candidateCodec.encodeTrusted(candidateCreated(candidate), candidateCreatedEventId(candidate));
    const recorded = await firstEvent(this.source, streamId);
    if (recorded !== undefined && recorded.type === 'CandidateCreated' && (recorded.metadata as { schemaVersion?: unknown }).schemaVersion === 1) return;
    if (recorded === undefined && (await this.notHandledYet())) this.pending++;
    else this.compare(streamId, 0n, event, recorded);
  }

  async appendGroup(streamId: string, events: readonly EventToAppend[], expected: bigint): Promise<void> {
    const recorded: RecordedEvent[] = [];
    for await (const event of this.source.readStream(streamId, { fromRevision: expected + 1n, maxCount: events.length })) recorded.push(event);
    const comparable = recorded.length < events.length && (await this.notHandledYet()) ? events.slice(0, recorded.length) : events;
    this.pending += events.length - comparable.length;
    comparable.forEach((event, i) => this.compare(streamId, expected + 1n + BigInt(i), event, recorded[i]));
    this.replayed.set(streamId, Number(expected) + 1 + events.length);
  }

  async *readGroup(streamId: string): AsyncIterable<RecordedEvent> {
    const count = this.replayed.get(streamId) ?? 0;
    if (count > 0) yield* this.source.readStream(streamId, { maxCount: count });
  }

  /** Whether the inputs outputs are derived from now may not have been handled by a live correlator yet (past its last checkpoint). */
  private async notHandledYet(): Promise<boolean> {
    if (this.derivedThrough === undefined) return false;
    const checkpoint = await readCheckpoint(this.source);
    return checkpoint === undefined || checkpoint.position < this.derivedThrough;
  }

  /** Notes a recorded output as the scan meets it: group streams' lengths, live candidates. */
  recordedOutput(recorded: RecordedEvent): void {
    if (recorded.streamId.startsWith(GROUP_STREAM_PREFIX)) {
      this.groups.set(recorded.streamId, recorded.revision);
      return;
    }
    if (recorded.type !== 'CandidateCreated' || recorded.revision !== 0n) return;
    if ((recorded.metadata as { schemaVersion?: unknown }).schemaVersion === 1) this.batchCandidates++;
    else if (!this.created.delete(recorded.streamId)) this.recordedNotCreated.add(recorded.streamId);
  }

  /** Recorded outputs the replay did not derive: group events beyond what it replayed, live candidates it did not create. */
  findUnreproduced(): void {
    for (const streamId of this.recordedNotCreated) this.diverge({ streamId, revision: '0', kind: 'not-reproduced', message: 'a live-correlated candidate the replayed correlation did not open' });
    for (const [streamId, last] of this.groups) {
      const replayed = this.replayed.get(streamId) ?? 0;
      if (Number(last) + 1 > replayed) this.diverge({ streamId, revision: String(replayed), kind: 'not-reproduced', message: `the group records ${Number(last) + 1} events; the replayed correlation derived ${replayed}` });
    }
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

async function firstEvent(reader: EventReader, streamId: string): Promise<RecordedEvent | undefined> {
  let first: RecordedEvent | undefined;
  for await (const recorded of reader.readStream(streamId, { maxCount: 1 })) first ??= recorded;
  return first;
}
