import { CANDIDATE_INPUT_TYPES, CANDIDATE_STREAM_PREFIX, candidateStreamId } from '../candidates/candidate-events.js';
import { CandidateStore } from '../candidates/candidate-store.js';
import type { OpxConfig } from '../container/config.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.js';
import { InMemoryEventStore } from '../eventstore/in-memory-event-store.js';
import { incidentCodec, INCIDENT_STREAM_PREFIX } from '../incidents/incident-events.js';
import { IncidentManager } from '../incidents/incident-manager.js';
import { handleCandidateStreamEvent, type HandlerContext } from '../orchestration/candidate-event-handler.js';
import { IncidentOrchestrator } from '../orchestration/incident-orchestrator.js';
import type { OrchestrationStore } from '../orchestration/orchestration-store.js';
import { PromotionEngine } from '../promotion/promotion-engine.js';
import { canonicalJson, sameCanonicalJson } from '../shared/canonical-json.js';
import { FixedClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';

/** One place where the replay did not reproduce history. */
export interface Divergence {
  readonly streamId: string;
  readonly revision: string;
  readonly kind: 'different' | 'not-reproduced' | 'not-recorded' | 'handler-error' | 'undecodable';
  /** JSON path of the first differing field (`data.decision`), for kind `different`. */
  readonly path?: string;
  readonly recorded?: unknown;
  readonly replayed?: unknown;
  readonly message: string;
}

export interface PolicyDrift {
  readonly policy: string;
  readonly recordedHash: string;
  /** The hash of the policy now in config, or null when the version no longer exists. */
  readonly currentHash: string | null;
  readonly firstCandidateId: string;
  readonly decisions: number;
}

export interface ReplayReport {
  readonly verdict: 'IDENTICAL' | 'DIVERGENT';
  readonly eventsRead: number;
  /** Handler outputs re-derived and compared byte for byte. */
  readonly eventsCompared: number;
  readonly inputsReplayed: number;
  readonly streamsChecked: number;
  readonly identicalStreams: number;
  readonly divergentStreams: number;
  readonly divergenceCount: number;
  /** The first {@link MAX_REPORTED_DIVERGENCES}, in history order. */
  readonly divergences: readonly Divergence[];
  readonly policyDrift: readonly PolicyDrift[];
}

export interface ReplayOptions {
  /** Streams kept re-derived in memory at once; older ones are dropped and rebuilt on demand. */
  readonly maxOpenStreams?: number;
  readonly onProgress?: (eventsRead: number) => void;
}

export const MAX_REPORTED_DIVERGENCES = 100;

/**
 * Candidate streams the audit keeps re-derived at once. A candidate stream is a few events, so
 * this bounds the audit's working set to some tens of MB whatever the history's length; history
 * written by workers keeps a candidate's outputs close to its input, so re-derivations are rare.
 */
export const DEFAULT_MAX_OPEN_STREAMS = 20_000;

const INPUTS = new Set<string>(CANDIDATE_INPUT_TYPES);

/** The write-only attempt log is observability: a replay writes none. */
const discardingOrchestrationLog = { logAttempt: async () => undefined, getAttempts: async () => [] } as unknown as OrchestrationStore;

/**
 * The replay audit: reads recorded candidate and incident streams in global order, feeds every
 * recorded input (CandidateCreated, ManualPromotionRequested) through the same handlers, CP-6 and
 * CP-7 into a scratch store, and compares every output the handlers write with the recorded one:
 * type, id, data and metadata must have identical RFC 8785 canonical bytes (decided structurally,
 * see sameCanonicalJson; serialized only to report a divergence). Revision, position and
 * `created` are server-assigned and not compared.
 *
 * Memory stays bounded however long the history, whatever its interleaving: the scratch store
 * keeps at most `maxOpenStreams` candidate streams (least recently used first out). A stream
 * dropped from it is rebuilt from its recorded prefix when history needs it again: for a later
 * input (a manual promotion weeks later) the prefix is replayed as recorded, which is safe because
 * each of its events was an input or an output already compared; for a recorded output whose
 * replayed counterpart was dropped, the stream's last input before it is re-run in a throwaway
 * store. Of a dropped stream only a counter of replayed outputs not yet seen in history is kept,
 * so an output the replay made and history lacks is still reported.
 */
export class ReplayAudit {
  constructor(private readonly config: OpxConfig) {}

  async run(source: EventStore, options: ReplayOptions = {}): Promise<ReplayReport> {
    const run = new ReplayRun(source, (store) => this.handlerContext(store), options.maxOpenStreams ?? DEFAULT_MAX_OPEN_STREAMS);
    const drift = new Map<string, PolicyDrift & { decisions: number }>();
    for await (const recorded of source.readAll({ streamPrefixes: [CANDIDATE_STREAM_PREFIX, INCIDENT_STREAM_PREFIX] })) {
      run.eventsRead++;
      if (options.onProgress !== undefined && run.eventsRead % 10_000 === 0) options.onProgress(run.eventsRead);
      if (recorded.revision === 0n) run.streamsChecked++;
      if (recorded.streamId.startsWith(CANDIDATE_STREAM_PREFIX)) {
        if (INPUTS.has(recorded.type)) await run.input(recorded);
        else {
          if (recorded.type === 'PromotionDecided') this.checkDrift(recorded, drift);
          await run.candidateOutput(recorded);
        }
      } else if (recorded.type === 'IncidentOpened') await run.incidentOpened(recorded);
      else run.humanTransition(recorded);
    }
    run.finish();
    return {
      verdict: run.divergenceCount === 0 ? 'IDENTICAL' : 'DIVERGENT',
      eventsRead: run.eventsRead,
      eventsCompared: run.eventsCompared,
      inputsReplayed: run.inputsReplayed,
      streamsChecked: run.streamsChecked,
      identicalStreams: run.streamsChecked - run.divergentStreams.size,
      divergentStreams: run.divergentStreams.size,
      divergenceCount: run.divergenceCount,
      divergences: run.divergences,
      policyDrift: [...drift.values()],
    };
  }

  /** The same handlers, CP-6 and CP-7 as production, wired to a scratch store. */
  private handlerContext(scratch: EventStore): HandlerContext {
    const candidateStore = new CandidateStore(scratch);
    const orchestrator = new IncidentOrchestrator(
      {
        candidateStore,
        promotionEngine: new PromotionEngine(scratch, candidateStore, this.config.policies, this.config.authorityMatrix),
        incidentManager: new IncidentManager(scratch, candidateStore, this.config.authorityMatrix),
        eventEmitter: { emit: async () => undefined },
        orchestrationStore: discardingOrchestrationLog,
      },
      { clock: new FixedClock('1970-01-01T00:00:00.000Z'), logger: silentLogger },
    );
    return { orchestrator, logger: silentLogger };
  }

  private checkDrift(recorded: RecordedEvent, drift: Map<string, PolicyDrift & { decisions: number }>): void {
    const data = recorded.data as { policyId?: unknown; policyVersion?: unknown; policyHash?: unknown; candidateId?: unknown };
    if (typeof data.policyId !== 'string' || typeof data.policyVersion !== 'string' || typeof data.policyHash !== 'string') return;
    const current = this.config.policies.find(data.policyId, data.policyVersion);
    if (current !== undefined && current.hash === data.policyHash) return;
    const key = `${data.policyId}@${data.policyVersion}#${data.policyHash}`;
    const existing = drift.get(key);
    if (existing !== undefined) existing.decisions++;
    else
      drift.set(key, {
        policy: `${data.policyId}@${data.policyVersion}`,
        recordedHash: data.policyHash,
        currentHash: current?.hash ?? null,
        firstCandidateId: String(data.candidateId),
        decisions: 1,
      });
  }
}

/** One audit's state: the scratch store, its window of open streams, and the tallies. */
class ReplayRun {
  eventsRead = 0;
  eventsCompared = 0;
  inputsReplayed = 0;
  streamsChecked = 0;
  divergenceCount = 0;
  readonly divergences: Divergence[] = [];
  readonly divergentStreams = new Set<string>();

  private readonly scratch = new InMemoryEventStore(() => new Date(0), { globalLog: false });
  private readonly context: HandlerContext;
  /** Open candidate streams in least-recently-used order -> recorded events of it seen so far. */
  private readonly open = new Map<string, number>();
  /** Dropped streams -> replayed outputs history has not shown yet. */
  private readonly unconfirmed = new Map<string, number>();

  constructor(
    private readonly source: EventStore,
    private readonly contextFor: (store: EventStore) => HandlerContext,
    private readonly maxOpen: number,
  ) {
    this.context = contextFor(this.scratch);
  }

  async input(recorded: RecordedEvent): Promise<void> {
    this.inputsReplayed++;
    const { streamId, revision } = recorded;
    try {
      await this.holdRecordedPrefix(streamId, revision);
      await this.scratch.append(streamId, [recorded], revision === 0n ? 'no_stream' : revision - 1n);
      await handleCandidateStreamEvent(this.scratchAt(streamId, revision) as RecordedEvent, this.context);
    } catch (error) {
      this.diverge({ streamId, revision: revision.toString(), kind: 'handler-error', message: `replaying ${recorded.type} failed: ${(error as Error).message}` });
    }
    this.touch(streamId, Number(revision) + 1);
  }

  async candidateOutput(recorded: RecordedEvent): Promise<void> {
    const { streamId, revision } = recorded;
    this.confirm(streamId);
    let replayed = this.scratchAt(streamId, revision);
    if (replayed === undefined && !this.open.has(streamId)) {
      const stream = await this.reproduce(streamId, revision);
      this.scratch.forget(streamId);
      if (stream.length > 0) await this.scratch.append(streamId, stream, 'no_stream');
      replayed = stream[Number(revision)];
    }
    this.compare(recorded, replayed);
    this.touch(streamId, Number(revision) + 1);
  }

  /** IncidentOpened is CP-7's second write: compared with the scratch incident stream, then dropped. */
  async incidentOpened(recorded: RecordedEvent): Promise<void> {
    const { streamId } = recorded;
    let replayed = this.scratchAt(streamId, 0n);
    if (replayed === undefined) {
      const candidateId = (recorded.data as { candidateId?: unknown }).candidateId;
      const created = typeof candidateId === 'string' ? await this.findIncidentCreated(candidateStreamId(candidateId), (recorded.data as { incidentId?: unknown }).incidentId) : undefined;
      if (created !== undefined) replayed = (await this.reproduce(created.streamId, created.revision, streamId))[0];
    }
    this.compare(recorded, replayed);
    this.scratch.forget(streamId);
  }

  /** Human lifecycle transitions are inputs with no handler to replay: they must still decode. */
  humanTransition(recorded: RecordedEvent): void {
    try {
      incidentCodec.decode(recorded);
    } catch (error) {
      this.diverge({ streamId: recorded.streamId, revision: recorded.revision.toString(), kind: 'undecodable', message: (error as Error).message });
    }
  }

  /** Whatever the replay produced that history never showed is a divergence. */
  finish(): void {
    for (const [streamId, seen] of this.open) this.dropped(streamId, seen);
    for (const [streamId, count] of this.unconfirmed) {
      this.diverge({ streamId, revision: '?', kind: 'not-recorded', message: `the replay produced ${count} event(s) on this stream that history does not have` });
    }
    for (const streamId of this.scratch.streamIds()) {
      if (this.open.has(streamId)) continue;
      for (const extra of this.scratch.snapshot(streamId)) {
        this.diverge({ streamId, revision: extra.revision.toString(), kind: 'not-recorded', message: `the replay produced ${extra.type}, which history does not have` });
      }
    }
  }

  private compare(recorded: RecordedEvent, replayed: RecordedEvent | undefined): void {
    this.eventsCompared++;
    const at = { streamId: recorded.streamId, revision: recorded.revision.toString() };
    if (replayed === undefined) {
      this.diverge({ ...at, kind: 'not-reproduced', message: `recorded ${recorded.type} was not produced by the replay` });
    } else if (!sameCanonicalJson(compared(recorded), compared(replayed))) {
      const diff = firstDifference(compared(recorded), compared(replayed));
      this.diverge({ ...at, kind: 'different', ...diff, message: `${recorded.type} differs at ${diff.path}` });
    }
  }

  /** Makes the scratch stream hold exactly the recorded events before `revision`. */
  private async holdRecordedPrefix(streamId: string, revision: bigint): Promise<void> {
    if (revision === 0n || this.scratch.snapshot(streamId).length > 0) return;
    const prefix = await collect(this.source.readStream(streamId, { fromRevision: 0n, maxCount: Number(revision) }));
    if (prefix.length > 0) await this.scratch.append(streamId, prefix, 'no_stream');
  }

  /**
   * Re-derives a dropped stream up to `revision` in a throwaway store: the recorded events before
   * the last input at or before `revision`, then that input through the handler. Returns the
   * re-derived events of `streamOfInterest` (the candidate stream itself by default).
   */
  private async reproduce(streamId: string, revision: bigint, streamOfInterest: string = streamId): Promise<readonly RecordedEvent[]> {
    const recorded = await collect(this.source.readStream(streamId, { fromRevision: 0n, maxCount: Number(revision) + 1 }));
    const lastInput = recorded.map((e) => INPUTS.has(e.type)).lastIndexOf(true);
    if (lastInput < 0) return [];
    const throwaway = new InMemoryEventStore(() => new Date(0), { globalLog: false });
    await throwaway.append(streamId, recorded.slice(0, lastInput + 1), 'no_stream');
    try {
      await handleCandidateStreamEvent(throwaway.snapshot(streamId)[lastInput] as RecordedEvent, this.contextFor(throwaway));
    } catch {
      return throwaway.snapshot(streamOfInterest); // the comparison reports what is missing
    }
    return throwaway.snapshot(streamOfInterest);
  }

  private async findIncidentCreated(candidateStream: string, incidentId: unknown): Promise<RecordedEvent | undefined> {
    for await (const e of this.source.readStream(candidateStream)) {
      if (e.type === 'IncidentCreated' && (e.data as { incidentId?: unknown }).incidentId === incidentId) return e;
    }
    return undefined;
  }

  private scratchAt(streamId: string, revision: bigint): RecordedEvent | undefined {
    return this.scratch.snapshot(streamId)[Number(revision)];
  }

  private touch(streamId: string, seen: number): void {
    this.open.delete(streamId);
    this.open.set(streamId, seen);
    while (this.open.size > this.maxOpen) {
      const [oldest, oldestSeen] = this.open.entries().next().value as [string, number];
      this.open.delete(oldest);
      this.dropped(oldest, oldestSeen);
    }
  }

  /** Forgets a stream, remembering only how many of its replayed events history has yet to show. */
  private dropped(streamId: string, seen: number): void {
    const extras = this.scratch.snapshot(streamId).length - seen;
    if (extras > 0) this.unconfirmed.set(streamId, extras);
    else this.unconfirmed.delete(streamId);
    this.scratch.forget(streamId);
  }

  private confirm(streamId: string): void {
    const count = this.unconfirmed.get(streamId);
    if (count === undefined) return;
    if (count <= 1) this.unconfirmed.delete(streamId);
    else this.unconfirmed.set(streamId, count - 1);
  }

  private diverge(d: Divergence): void {
    this.divergenceCount++;
    this.divergentStreams.add(d.streamId);
    if (this.divergences.length < MAX_REPORTED_DIVERGENCES) this.divergences.push(d);
  }
}

/** What is compared of an event: type, id, data and metadata (nothing server-assigned). */
const compared = (event: Pick<RecordedEvent, 'type' | 'id' | 'data' | 'metadata'>): object => ({ type: event.type, id: event.id, data: event.data, metadata: event.metadata });


async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** The first field where two JSON values differ, as a path, with both values. */
export function firstDifference(recorded: unknown, replayed: unknown, path = ''): { path: string; recorded: unknown; replayed: unknown } {
  if (typeof recorded === 'object' && recorded !== null && typeof replayed === 'object' && replayed !== null) {
    const keys = [...new Set([...Object.keys(recorded), ...Object.keys(replayed)])].sort();
    for (const key of keys) {
      const a = (recorded as Record<string, unknown>)[key];
      const b = (replayed as Record<string, unknown>)[key];
      if (canonicalJson(a ?? null) !== canonicalJson(b ?? null) || (a === undefined) !== (b === undefined)) {
        return firstDifference(a, b, path === '' ? key : `${path}.${key}`);
      }
    }
  }
  return { path: path === '' ? '(root)' : path, recorded: recorded ?? null, replayed: replayed ?? null };
}
