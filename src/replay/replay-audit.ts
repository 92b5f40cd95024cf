import { CANDIDATE_INPUT_TYPES, CANDIDATE_STREAM_PREFIX } from '../candidates/candidate-events.js';
import { CandidateStore } from '../candidates/candidate-store.js';
import type { OpxConfig } from '../container/config.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.js';
import { InMemoryEventStore } from '../eventstore/in-memory-event-store.js';
import { incidentCodec, incidentStreamId, INCIDENT_STREAM_PREFIX } from '../incidents/incident-events.js';
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
  /** Events of candidate and incident streams in history. */
  readonly eventsRead: number;
  /** Handler outputs re-derived and compared byte for byte. */
  readonly eventsCompared: number;
  readonly inputsReplayed: number;
  /** Inputs that were the last event of their stream when read: replayed, outputs not expected yet. */
  readonly inputsPending: number;
  readonly streamsChecked: number;
  readonly identicalStreams: number;
  readonly divergentStreams: number;
  readonly divergenceCount: number;
  /** The first {@link MAX_REPORTED_DIVERGENCES}, in history order. */
  readonly divergences: readonly Divergence[];
  readonly policyDrift: readonly PolicyDrift[];
}

export interface ReplayOptions {
  /** Candidate streams audited at once (reads overlap; memory is a few streams per unit). */
  readonly concurrency?: number;
  readonly onProgress?: (eventsRead: number) => void;
}

export const MAX_REPORTED_DIVERGENCES = 100;
export const DEFAULT_REPLAY_CONCURRENCY = 16;

const INPUTS = new Set<string>(CANDIDATE_INPUT_TYPES);

/** The write-only attempt log is observability: a replay writes none. */
const discardingOrchestrationLog = { logAttempt: async () => undefined, getAttempts: async () => [] } as unknown as OrchestrationStore;

/**
 * The replay audit. It scans the candidate and incident streams in global order and audits each
 * candidate stream when its first event passes: the whole recorded stream is read, every input in
 * it (CandidateCreated, ManualPromotionRequested) is fed, in order, through the same handlers,
 * CP-6 and CP-7 into a scratch store, and every output those write, on the candidate stream and on
 * the incident streams it opens, is compared with the recorded one: type, id, data and metadata
 * must have identical RFC 8785 canonical bytes (decided structurally, see sameCanonicalJson;
 * serialized only to report a divergence). Revision, position and `created` are server-assigned
 * and not compared. Every recorded IncidentOpened must also have been opened by its candidate's
 * replay (no incident without a promotion), and every human transition must decode.
 *
 * Memory is flat whatever the history's length or interleaving: a unit of work is one candidate
 * stream, at most `concurrency` are in flight (so reads over the network overlap), and results
 * are reported in history order whatever order they finish in. An input that is the last event of
 * its stream when read has not been handled yet (a live system): it is replayed, so an input the
 * handlers cannot take is still reported, but its outputs are not expected; it counts as pending.
 */
export class ReplayAudit {
  constructor(private readonly config: OpxConfig) {}

  async run(source: EventStore, options: ReplayOptions = {}): Promise<ReplayReport> {
    const tally = new Tally(this.config);
    const pipeline = new OrderedPipeline<StreamAudit>(options.concurrency ?? DEFAULT_REPLAY_CONCURRENCY, (audit) => tally.add(audit));
    for await (const recorded of source.readAll({ streamPrefixes: [CANDIDATE_STREAM_PREFIX, INCIDENT_STREAM_PREFIX] })) {
      tally.eventsRead++;
      if (options.onProgress !== undefined && tally.eventsRead % 10_000 === 0) options.onProgress(tally.eventsRead);
      if (recorded.revision === 0n) tally.streamsChecked++;
      if (recorded.streamId.startsWith(CANDIDATE_STREAM_PREFIX)) {
        if (recorded.revision === 0n) await pipeline.push(() => this.auditCandidate(source, recorded.streamId));
      } else if (recorded.type === 'IncidentOpened') {
        const audit = this.auditIncidentOrigin(recorded);
        await pipeline.push(async () => audit);
      } else {
        const audit = this.auditHumanTransition(recorded);
        await pipeline.push(async () => audit);
      }
    }
    await pipeline.drain();
    return tally.report();
  }

  /** Replays one candidate stream's inputs and compares every output they produce. */
  private async auditCandidate(source: EventStore, streamId: string): Promise<StreamAudit> {
    const audit = new StreamAudit();
    try {
      const recorded = await collect(source.readStream(streamId));
      const scratch = new InMemoryEventStore(() => new Date(0));
      const candidates = new CandidateStore(scratch);
      const context = this.handlerContext(scratch, candidates);
      const replayed = (): readonly RecordedEvent[] => scratch.snapshot(streamId);
      let complete = true;
      for (const [index, event] of recorded.entries()) {
        if (!INPUTS.has(event.type)) {
          if (event.type === 'PromotionDecided') audit.decisions.push(event);
          audit.compare(event, replayed()[index]);
          continue;
        }
        const last = index === recorded.length - 1;
        if (replayed().length !== index) {
          audit.diverge({ streamId, revision: String(index), kind: 'handler-error', message: `cannot replay ${event.type}: the replayed stream has ${replayed().length} events before it, history ${index}` });
          complete = false;
          break;
        }
        audit.inputsReplayed++;
        try {
          await scratch.append(streamId, [event], index === 0 ? 'no_stream' : BigInt(index - 1));
          // Delivered to the handler as the worker delivers it: CP-5 is told of it first.
          const delivered = replayed()[index] as RecordedEvent;
          candidates.observe(delivered);
          await handleCandidateStreamEvent(delivered, context);
        } catch (error) {
          audit.diverge({ streamId, revision: String(index), kind: 'handler-error', message: `replaying ${event.type} failed: ${(error as Error).message}` });
          complete = false;
          break;
        }
        if (last) {
          // Handled fine, but history has no outputs after it yet: not handled when read (live).
          audit.inputsPending++;
          complete = false;
        }
      }
      if (complete) {
        for (const extra of replayed().slice(recorded.length)) {
          audit.diverge({ streamId, revision: extra.revision.toString(), kind: 'not-recorded', message: `the replay produced ${extra.type}, which history does not have` });
        }
      }
      // The incident streams opened by outputs history also has (a pending input's are not due yet).
      for (const output of replayed().slice(0, recorded.length)) {
        if (output.type !== 'IncidentCreated') continue;
        const incidentStream = incidentStreamId((output.data as { incidentId: string }).incidentId);
        audit.incidentsOpened.push(incidentStream);
        const [opened] = await collect(source.readStream(incidentStream, { maxCount: 1 }));
        const produced = scratch.snapshot(incidentStream)[0];
        if (opened === undefined) audit.diverge({ streamId: incidentStream, revision: '0', kind: 'not-recorded', message: `the replay opened ${incidentStream}, which history does not have` });
        else audit.compare(opened, produced);
      }
    } catch (error) {
      audit.diverge({ streamId, revision: '?', kind: 'handler-error', message: `auditing ${streamId} failed: ${(error as Error).message}` });
    }
    return audit;
  }

  /**
   * A recorded IncidentOpened must have been opened by its candidate's replay (INV-P2.3.2, no
   * incident without a promotion). The candidate's unit comes first in history order, so the tally
   * knows by then which incident streams the replay opened.
   */
  private auditIncidentOrigin(opened: RecordedEvent): StreamAudit {
    const audit = new StreamAudit();
    audit.incidentSeen = opened.streamId;
    return audit;
  }

  /** Human lifecycle transitions are inputs with no handler to replay: they must still decode. */
  private auditHumanTransition(recorded: RecordedEvent): StreamAudit {
    const audit = new StreamAudit();
    try {
      incidentCodec.decode(recorded);
    } catch (error) {
      audit.diverge({ streamId: recorded.streamId, revision: recorded.revision.toString(), kind: 'undecodable', message: (error as Error).message });
    }
    return audit;
  }

  /** The same handlers, CP-6 and CP-7 as production, wired to a scratch store. */
  private handlerContext(scratch: EventStore, candidateStore: CandidateStore): HandlerContext {
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
}

/** What auditing one unit found: counts, divergences, and the decisions to check for drift. */
class StreamAudit {
  eventsCompared = 0;
  inputsReplayed = 0;
  inputsPending = 0;
  readonly divergences: Divergence[] = [];
  readonly decisions: RecordedEvent[] = [];
  /** Incident streams the replay of this candidate opened. */
  readonly incidentsOpened: string[] = [];
  /** A recorded IncidentOpened on this stream passed in history. */
  incidentSeen: string | undefined;

  compare(recorded: RecordedEvent, replayed: RecordedEvent | undefined): void {
    this.eventsCompared++;
    const at = { streamId: recorded.streamId, revision: recorded.revision.toString() };
    if (replayed === undefined) {
      this.diverge({ ...at, kind: 'not-reproduced', message: `recorded ${recorded.type} was not produced by the replay` });
    } else if (!sameCanonicalJson(compared(recorded), compared(replayed))) {
      const diff = firstDifference(compared(recorded), compared(replayed));
      this.diverge({ ...at, kind: 'different', ...diff, message: `${recorded.type} differs at ${diff.path}` });
    }
  }

  diverge(divergence: Divergence): void {
    this.divergences.push(divergence);
  }
}

/** The audit's totals, folded from the units in history order. */
class Tally {
  eventsRead = 0;
  streamsChecked = 0;
  private eventsCompared = 0;
  private inputsReplayed = 0;
  private inputsPending = 0;
  private divergenceCount = 0;
  private readonly divergences: Divergence[] = [];
  private readonly divergentStreams = new Set<string>();
  private readonly drift = new Map<string, { -readonly [K in keyof PolicyDrift]: PolicyDrift[K] }>();
  /**
   * Incident streams replays opened whose recorded IncidentOpened has not passed yet, held from a
   * candidate's first event to its incident's: for a history recorded ingest-first (every
   * candidate created, then every one decided) that is every promoted candidate, so they are
   * held compactly (see {@link IncidentStreamTally}).
   */
  private readonly openedByReplay = new IncidentStreamTally();

  constructor(private readonly config: OpxConfig) {}

  add(audit: StreamAudit): void {
    for (const stream of audit.incidentsOpened) this.openedByReplay.add(stream);
    if (audit.incidentSeen !== undefined && !this.openedByReplay.delete(audit.incidentSeen)) {
      audit.diverge({ streamId: audit.incidentSeen, revision: '0', kind: 'not-reproduced', message: 'recorded IncidentOpened that no replayed promotion opens' });
    }
    this.eventsCompared += audit.eventsCompared;
    this.inputsReplayed += audit.inputsReplayed;
    this.inputsPending += audit.inputsPending;
    for (const divergence of audit.divergences) {
      this.divergenceCount++;
      this.divergentStreams.add(divergence.streamId);
      if (this.divergences.length < MAX_REPORTED_DIVERGENCES) this.divergences.push(divergence);
    }
    for (const decision of audit.decisions) this.checkDrift(decision);
  }

  report(): ReplayReport {
    return {
      verdict: this.divergenceCount === 0 ? 'IDENTICAL' : 'DIVERGENT',
      eventsRead: this.eventsRead,
      eventsCompared: this.eventsCompared,
      inputsReplayed: this.inputsReplayed,
      inputsPending: this.inputsPending,
      streamsChecked: this.streamsChecked,
      identicalStreams: this.streamsChecked - this.divergentStreams.size,
      divergentStreams: this.divergentStreams.size,
      divergenceCount: this.divergenceCount,
      divergences: this.divergences,
      policyDrift: [...this.drift.values()],
    };
  }

  /** A recorded decision whose policy version now has other content (or none) is drift. */
  private checkDrift(recorded: RecordedEvent): void {
    const data = recorded.data as { policyId?: unknown; policyVersion?: unknown; policyHash?: unknown; candidateId?: unknown };
    if (typeof data.policyId !== 'string' || typeof data.policyVersion !== 'string' || typeof data.policyHash !== 'string') return;
    const current = this.config.policies.find(data.policyId, data.policyVersion);
    if (current !== undefined && current.hash === data.policyHash) return;
    const key = `${data.policyId}@${data.policyVersion}#${data.policyHash}`;
    const existing = this.drift.get(key);
    if (existing !== undefined) existing.decisions++;
    else
      this.drift.set(key, {
        policy: `${data.policyId}@${data.policyVersion}`,
        recordedHash: data.policyHash,
        currentHash: current?.hash ?? null,
        firstCandidateId: String(data.candidateId),
        decisions: 1,
      });
  }
}

/**
 * A multiset of incident stream ids. An OPX incident id is `inc-` and 24 hex digits of SHA-256;
 * such a stream is counted under the number its first 13 hex digits make (52 bits, exact in a
 * double: a few dozen bytes an entry instead of a string's hundred), any other id under itself.
 * Counting (not a set) keeps two ids that share a prefix apart; what a shared prefix could do
 * is let an orphan IncidentOpened pass as opened, with odds of n / 2^52 for n incidents in
 * flight (about 4e-11 at a million-event history).
 */
export class IncidentStreamTally {
  private readonly counts = new Map<number | string, number>();

  add(streamId: string): void {
    const key = IncidentStreamTally.key(streamId);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Takes one out; false when there was none. */
  delete(streamId: string): boolean {
    const key = IncidentStreamTally.key(streamId);
    const count = this.counts.get(key);
    if (count === undefined) return false;
    if (count === 1) this.counts.delete(key);
    else this.counts.set(key, count - 1);
    return true;
  }

  private static key(streamId: string): number | string {
    const hex = OPX_INCIDENT_STREAM.exec(streamId)?.[1];
    return hex === undefined ? streamId : Number.parseInt(hex, 16);
  }
}

const OPX_INCIDENT_STREAM = new RegExp(`^${INCIDENT_STREAM_PREFIX}inc-([0-9a-f]{13})[0-9a-f]{11}$`);

/**
 * Runs tasks `width` at a time and hands their results to `sink` in the order they were pushed,
 * whatever order they finish in. Tasks must not reject.
 */
class OrderedPipeline<T> {
  private readonly window: Array<Promise<T>> = [];

  constructor(
    private readonly width: number,
    private readonly sink: (result: T) => void,
  ) {}

  async push(task: () => Promise<T>): Promise<void> {
    this.window.push(task());
    while (this.window.length >= this.width) this.sink(await (this.window.shift() as Promise<T>));
  }

  async drain(): Promise<void> {
    while (this.window.length > 0) this.sink(await (this.window.shift() as Promise<T>));
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
