import { CANDIDATE_INPUT_TYPES, CANDIDATE_STREAM_PREFIX } from '../candidates/candidate-events.js';
import { CandidateStore } from '../candidates/candidate-store.js';
import type { OpxConfig } from '../container/config.js';
import type { EventReader, EventStore, RecordedEvent } from '../eventstore/event-store.js';
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
  /**
   * The first {@link MAX_REPORTED_DIVERGENCES}, in the order the audit found them: a stream's in
   * revision order, streams about in history order (a deferred input's are found when its
   * stream's outputs come, a pending one's at the end).
   */
  readonly divergences: readonly Divergence[];
  readonly policyDrift: readonly PolicyDrift[];
}

export interface ReplayOptions {
  /** Candidate streams audited whole at once (reads overlap; memory is a few streams per unit). */
  readonly concurrency?: number;
  /** Candidate streams held or replayed live, from the scan itself, at once (see {@link ReplayAudit}). */
  readonly liveWindow?: number;
  /**
   * Deferred inputs held at once by the second cursor (see {@link DeferredInputs}); 0 turns
   * deferral off, so an input met with the live window full is read whole at once.
   */
  readonly inputWindow?: number;
  readonly onProgress?: (eventsRead: number) => void;
}

export const MAX_REPORTED_DIVERGENCES = 100;
export const DEFAULT_REPLAY_CONCURRENCY = 16;
export const DEFAULT_LIVE_WINDOW = 256;
export const DEFAULT_INPUT_WINDOW = 4_096;

const INPUTS = new Set<string>(CANDIDATE_INPUT_TYPES);

/** The write-only attempt log is observability: a replay writes none. */
const discardingOrchestrationLog = { logAttempt: async () => undefined, getAttempts: async () => [] } as unknown as OrchestrationStore;

/**
 * The replay audit. It scans the candidate and incident streams in global order, feeds every
 * recorded input (CandidateCreated, ManualPromotionRequested) through the same handlers, CP-6 and
 * CP-7 into a scratch store, and compares every output those write, on the candidate stream and
 * on the incident streams it opens, with the recorded one: type, id, data and metadata must have
 * identical RFC 8785 canonical bytes (decided structurally, see sameCanonicalJson; serialized only
 * to report a divergence). Revision, position and `created` are server-assigned and not compared.
 * Every recorded IncidentOpened must have been opened by its candidate's replay (no incident
 * without a promotion), and every human transition must decode.
 *
 * Two ways to replay one candidate stream, with the same {@link CandidateReplay}:
 * - live: from the scan itself, event by event, while it awaits outputs; once it has all it
 *   produced, it is dropped. An input the scan meets is held (the event only) until its stream's
 *   next event comes, and replayed then: a live replay lives from its stream's first output to its
 *   last, briefly (with a worker running, a candidate's outputs follow its input within moments),
 *   and costs no read. (Replaying at the input instead kept, in a history recorded ingest-first,
 *   the first `liveWindow` replays alive for a third of the scan, and V8, seeing the objects of
 *   the handlers live long, allocated much of every later replay's in the old generation.)
 * - deferred: an input met while `liveWindow` inputs are held or replayed live (a history
 *   recorded ingest-first: every candidate created, then every one decided) is passed over, and
 *   fetched again by a second cursor over `$all` when its stream's outputs come; its replay is
 *   then live (see {@link DeferredInputs}).
 * - whole: when a stream's event comes after its live replay was dropped (a manual promotion
 *   days later), when deferral is off (`inputWindow` 0) or the second cursor let the input go, or
 *   when live replays pile up past twice the window, the stream is read whole and replayed from
 *   it, `concurrency` at a time so reads over the network overlap; the scan then skips what that
 *   read covered.
 * Memory is flat whatever the history's length: at most about twice `liveWindow` live replays,
 * `inputWindow` deferred inputs held, `concurrency` whole replays, and compact records of the
 * deferred streams and of what whole reads covered until the scan passes it. Results reach the
 * tally in scan order whatever order the whole reads finish in. An input that is the last event of
 * its stream has not been handled yet (a live system): it is replayed, so an input the handlers
 * cannot take is still reported, but its outputs are not expected; it counts as pending.
 */
export class ReplayAudit {
  constructor(private readonly config: OpxConfig) {}

  async run(source: EventReader, options: ReplayOptions = {}): Promise<ReplayReport> {
    const tally = new Tally(this.config);
    const pipeline = new OrderedPipeline<StreamAudit>(options.concurrency ?? DEFAULT_REPLAY_CONCURRENCY, (audit) => tally.add(audit));
    const liveWindow = options.liveWindow ?? DEFAULT_LIVE_WINDOW;
    const live = new Map<string, CandidateReplay>();
    /** Inputs the scan met, held (the event only) until their stream's next event comes: then replayed live. */
    const waiting = new Map<string, RecordedEvent>();
    const liveIncidents = new Map<string, CandidateReplay>();
    const covered = new CoveredStreams();
    const scratch = new ScratchPool(this.config);
    const inputs = new DeferredInputs(source, options.inputWindow ?? DEFAULT_INPUT_WINDOW);
    /** Reads a candidate stream whole, in the pipeline; the scan skips what the read covers. */
    const readWhole = async (streamId: string, from: bigint): Promise<void> => {
      covered.reading(streamId);
      await flushLive();
      await pipeline.push(() => this.auditWhole(source, streamId, from, covered, scratch.for(from)));
    };
    /** A live replay of a stream from its input (the scan's, or a deferred one the second cursor found). */
    const startLive = (streamId: string): CandidateReplay => {
      const replay = new CandidateReplay(streamId, scratch.for(0n));
      live.set(streamId, replay);
      return replay;
    };
    /**
     * Hands one event to its stream's live replay, then drops the replay once it awaits nothing. A
     * promise only when the event is an input to handle (most are outputs, compared at once: an
     * async function here cost every one of them a promise).
     */
    const feed = (replay: CandidateReplay, recorded: RecordedEvent): Promise<void> | undefined => {
      const handling = replay.accept(recorded, liveAudit);
      if (handling !== undefined) return handling.then(() => fed(replay, recorded));
      fed(replay, recorded);
      return undefined;
    };
    const fed = (replay: CandidateReplay, recorded: RecordedEvent): void => {
      if (replay.opensIncidents) for (const incident of replay.awaitedIncidents()) liveIncidents.set(incident, replay);
      if (replay.broken) covered.forever(recorded.streamId);
      settle(replay);
    };
    let previous: bigint | undefined;
    // What live replays find, in scan order, handed to the tally between whole replays' results.
    let liveAudit = new StreamAudit();
    const flushLive = async (): Promise<void> => {
      if (liveAudit.isEmpty()) return;
      const audit = liveAudit;
      liveAudit = new StreamAudit();
      await pipeline.push(async () => audit);
    };
    const settle = (replay: CandidateReplay): void => {
      if (replay.pending) return;
      live.delete(replay.streamId);
      for (const incident of replay.incidentStreams()) liveIncidents.delete(incident);
    };
    for await (const recorded of source.readAll({ streamPrefixes: [CANDIDATE_STREAM_PREFIX, INCIDENT_STREAM_PREFIX] })) {
      tally.eventsRead++;
      if (options.onProgress !== undefined && tally.eventsRead % 10_000 === 0) options.onProgress(tally.eventsRead);
      if (recorded.revision === 0n) tally.streamsChecked++;
      const before = previous;
      previous = recorded.position;
      if (recorded.streamId.startsWith(CANDIDATE_STREAM_PREFIX)) {
        let replay = live.get(recorded.streamId);
        if (replay === undefined) {
          if (covered.covers(recorded.streamId, recorded.revision)) continue;
          const input = waiting.get(recorded.streamId);
          if (input !== undefined) {
            waiting.delete(recorded.streamId);
            replay = startLive(recorded.streamId);
            await feed(replay, input);
          } else if (inputs.isDeferred(recorded.streamId)) {
            // Its input was deferred: the second cursor finds it (or it is read whole after all).
            const input = live.size < liveWindow * 2 + 1 ? await inputs.take(recorded.streamId, readWhole) : undefined;
            if (input === undefined) {
              inputs.forget(recorded.streamId);
              await readWhole(recorded.streamId, 0n);
              continue;
            }
            replay = startLive(recorded.streamId);
            await feed(replay, input);
          } else if (recorded.revision === 0n && live.size + waiting.size < liveWindow) {
            waiting.set(recorded.streamId, recorded); // replayed when its stream goes on
            continue;
          } else if (recorded.revision === 0n && inputs.defer(recorded, before)) {
            continue;
          } else {
            await readWhole(recorded.streamId, recorded.revision);
            continue;
          }
        }
        const feeding = feed(replay, recorded);
        if (feeding !== undefined) await feeding;
      } else if (recorded.type === 'IncidentOpened') {
        const replay = liveIncidents.get(recorded.streamId);
        if (replay !== undefined) {
          replay.acceptIncident(recorded, liveAudit);
          liveIncidents.delete(recorded.streamId);
          settle(replay);
        } else {
          // Opened by a whole replay (the tally knows by then), or by none.
          await flushLive();
          const audit = new StreamAudit();
          audit.incidentSeen = recorded.streamId;
          await pipeline.push(async () => audit);
        }
      } else {
        await flushLive();
        const audit = this.auditHumanTransition(recorded);
        await pipeline.push(async () => audit);
      }
      if (liveAudit.eventsCompared >= LIVE_AUDIT_BATCH) await flushLive();
    }
    // Held and deferred inputs nothing claimed are the last events of their streams (not handled
    // yet): each is replayed and finished at once.
    for await (const input of chain(waiting.values(), inputs.unclaimed())) {
      const replay = new CandidateReplay(input.streamId, scratch.for(0n));
      const handling = replay.accept(input, liveAudit);
      if (handling !== undefined) await handling;
      replay.finish(liveAudit);
      if (liveAudit.eventsCompared + liveAudit.inputsPending >= LIVE_AUDIT_BATCH) await flushLive();
    }
    for (const replay of live.values()) replay.finish(liveAudit);
    await flushLive();
    await pipeline.drain();
    return tally.report();
  }

  /**
   * Reads one candidate stream whole and replays it; compares what it has from revision `from`
   * on (what came before was compared by a live replay), and the incident streams those outputs
   * open, read too.
   */
  private async auditWhole(source: EventReader, streamId: string, from: bigint, covered: CoveredStreams, scratch: Scratch): Promise<StreamAudit> {
    const audit = new StreamAudit();
    try {
      const recorded = await collect(source.readStream(streamId));
      covered.through(streamId, recorded.at(-1)?.revision ?? from);
      const replay = new CandidateReplay(streamId, scratch, from);
      for (const event of recorded) {
        const handling = replay.accept(event, audit);
        if (handling !== undefined) await handling;
      }
      for (const incidentStream of replay.incidentsDue()) {
        audit.incidentsOpened.push(incidentStream);
        const [opened] = await collect(source.readStream(incidentStream, { maxCount: 1 }));
        if (opened !== undefined) replay.acceptIncident(opened, audit);
      }
      replay.finish(audit);
    } catch (error) {
      covered.through(streamId, from);
      audit.diverge({ streamId, revision: '?', kind: 'handler-error', message: `auditing ${streamId} failed: ${(error as Error).message}` });
    }
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
}

/**
 * One candidate stream replayed event by event through the production handlers (CP-5/6/7 wired
 * to a scratch store): a recorded input is handled as the worker handles a delivery, a recorded
 * output is compared with what the handlers wrote at its revision, and the incident streams the
 * replay opens are compared with the recorded ones as they come. Outputs below `compareFrom`
 * were compared by an earlier replay of the same stream: they are replayed, not compared again.
 */
class CandidateReplay {
  private readonly scratch: InMemoryEventStore;
  private readonly candidates: CandidateStore;
  private readonly context: HandlerContext;
  /** Recorded events of the stream accepted so far: the revision the next one must have. */
  private seen = 0;
  private lastWasInput = false;
  /** After a divergence the handlers could not get past: nothing more of the stream is compared. */
  broken = false;
  /** Incident streams the replay opened, by the revision of the IncidentCreated that opened each. */
  private readonly incidents = new Map<string, { readonly revision: number; seen: boolean }>();
  private readonly compareFrom: number;

  constructor(
    readonly streamId: string,
    scratch: Scratch,
    compareFrom = 0n,
  ) {
    this.compareFrom = Number(compareFrom);
    ({ store: this.scratch, candidates: this.candidates, context: this.context } = scratch);
  }

  /** Still awaiting something history should show: its outputs, or an incident stream they opened. */
  get pending(): boolean {
    if (this.broken) return false;
    if (this.lastWasInput || this.replayed().length > this.seen) return true;
    for (const incident of this.incidents.values()) if (!incident.seen && incident.revision < this.seen) return true;
    return false;
  }

  /** Whether the replay opened an incident stream. */
  get opensIncidents(): boolean {
    return this.incidents.size > 0;
  }

  /** Every incident stream the replay opened. */
  incidentStreams(): IterableIterator<string> {
    return this.incidents.keys();
  }

  /** Incident streams the replay opened whose recorded IncidentOpened has not come yet. */
  *awaitedIncidents(): Generator<string> {
    for (const [stream, incident] of this.incidents) if (!incident.seen) yield stream;
  }

  /** Incident streams opened by outputs history has shown and this replay compares, not seen yet. */
  incidentsDue(): string[] {
    const due: string[] = [];
    for (const [stream, incident] of this.incidents) {
      if (!incident.seen && incident.revision < this.seen && incident.revision >= this.compareFrom) due.push(stream);
    }
    return due;
  }

  /** One recorded event of the stream, in order: a promise only when it is an input to handle. */
  accept(recorded: RecordedEvent, audit: StreamAudit): Promise<void> | undefined {
    if (this.broken) return undefined;
    const index = Number(recorded.revision);
    if (index !== this.seen) return this.fail(audit, index, `cannot replay ${recorded.type}: history shows revision ${index} after ${this.seen} events of the stream`);
    this.seen++;
    if (INPUTS.has(recorded.type)) return this.handle(recorded, index, audit);
    this.lastWasInput = false;
    if (index < this.compareFrom) return undefined;
    if (recorded.type === 'PromotionDecided') audit.decisions.push(recorded);
    audit.compare(recorded, this.replayed()[index]);
    return undefined;
  }

  private async handle(recorded: RecordedEvent, index: number, audit: StreamAudit): Promise<void> {
    this.lastWasInput = true;
    const before = this.replayed().length;
    if (before !== index) return this.fail(audit, index, `cannot replay ${recorded.type}: the replayed stream has ${before} events before it, history ${index}`);
    if (index >= this.compareFrom) audit.inputsReplayed++;
    try {
      this.scratch.appendSync(this.streamId, [recorded], index === 0 ? 'no_stream' : BigInt(index - 1));
      // Delivered to the handler as the worker delivers it (the handler shows it to CP-5 first).
      await handleCandidateStreamEvent(this.replayed()[index] as RecordedEvent, this.context);
    } catch (error) {
      return this.fail(audit, index, `replaying ${recorded.type} failed: ${(error as Error).message}`);
    }
    const produced = this.replayed();
    for (let i = index + 1; i < produced.length; i++) {
      const output = produced[i] as RecordedEvent;
      if (output.type === 'IncidentCreated') this.incidents.set(incidentStreamId((output.data as { incidentId: string }).incidentId), { revision: i, seen: false });
    }
  }

  private fail(audit: StreamAudit, index: number, message: string): undefined {
    audit.diverge({ streamId: this.streamId, revision: String(index), kind: 'handler-error', message });
    this.broken = true;
    return undefined;
  }

  /** The recorded IncidentOpened of an incident stream this replay opened. */
  acceptIncident(opened: RecordedEvent, audit: StreamAudit): void {
    const incident = this.incidents.get(opened.streamId);
    if (incident !== undefined) incident.seen = true;
    audit.compare(opened, this.scratch.snapshot(opened.streamId)[0]);
  }

  /** History has no more of the stream: what the replay produced and history lacks diverges. */
  finish(audit: StreamAudit): void {
    if (this.broken) return;
    for (const incidentStream of this.incidentsDue()) {
      audit.diverge({ streamId: incidentStream, revision: '0', kind: 'not-recorded', message: `the replay opened ${incidentStream}, which history does not have` });
    }
    if (this.lastWasInput) {
      // Handled fine, but history has no outputs after it yet: not handled when recorded (live).
      audit.inputsPending++;
      return;
    }
    for (const extra of this.replayed().slice(this.seen)) {
      audit.diverge({ streamId: this.streamId, revision: extra.revision.toString(), kind: 'not-recorded', message: `the replay produced ${extra.type}, which history does not have` });
    }
  }

  private replayed(): readonly RecordedEvent[] {
    return this.scratch.snapshot(this.streamId);
  }
}

/** The same handlers, CP-5, CP-6 and CP-7 as production, wired to a scratch store. */
class Scratch {
  readonly store = new InMemoryEventStore(epoch);
  readonly candidates = new CandidateStore(this.store);
  readonly context: HandlerContext;

  constructor(config: OpxConfig) {
    this.context = replayContext(this.store, this.candidates, config);
  }
}

/** The scratch store's `created` (server-assigned, never compared). */
const epoch = (): Date => new Date(0);
/** No decision reads the clock (the attempt log does, and a replay discards it). */
const REPLAY_CLOCK = new FixedClock('1970-01-01T00:00:00.000Z');

/**
 * Scratch graphs for the replays of candidate streams from their first event: one graph serves
 * {@link SCRATCH_SHARE} such replays in a row, then the next is built, so a replay costs a graph's
 * construction only now and then. Sharing is sound because each of those replays is of another
 * stream: a stream has one revision 0, so at most one replay from it, and CP-5/6/7 touch only the
 * candidate's own stream and the incident streams its decisions open (the handler refuses an input
 * naming another candidate than its stream's before CP-6 sees it). A graph is dropped with the
 * last replay using it (at most SCRATCH_SHARE streams' events held per replay still running). A
 * replay from a later revision may follow an earlier replay of the same stream, so it gets a
 * graph of its own.
 */
class ScratchPool {
  private current: Scratch | undefined;
  private served = 0;

  constructor(private readonly config: OpxConfig) {}

  /** A graph for a replay of a stream from revision `from`. */
  for(from: bigint): Scratch {
    if (from !== 0n) return new Scratch(this.config);
    if (this.current === undefined || this.served >= SCRATCH_SHARE) {
      this.current = new Scratch(this.config);
      this.served = 0;
    }
    this.served++;
    return this.current;
  }
}

const SCRATCH_SHARE = 16;

/** The same handlers, CP-6 and CP-7 as production, wired to a scratch store. */
function replayContext(scratch: EventStore, candidateStore: CandidateStore, config: OpxConfig): HandlerContext {
  const orchestrator = new IncidentOrchestrator(
    {
      candidateStore,
      promotionEngine: new PromotionEngine(scratch, candidateStore, config.policies, config.authorityMatrix),
      incidentManager: new IncidentManager(scratch, candidateStore, config.authorityMatrix),
      eventEmitter: { emit: async () => undefined },
      orchestrationStore: discardingOrchestrationLog,
    },
    { clock: REPLAY_CLOCK, logger: silentLogger },
  );
  return { orchestrator, logger: silentLogger, candidates: candidateStore };
}

/**
 * Inputs the scan met with the live window full, kept as positions only and fetched again, when
 * their stream's outputs come, by a second cursor over `$all` that follows the first: a history
 * recorded ingest-first (every candidate created, then every one decided, in creation order) is
 * then replayed live all through, with two sequential reads of history instead of one read per
 * candidate stream. The cursor holds up to `window` deferred inputs it passed while looking for
 * another (outputs in another order than their inputs); past that, the oldest is read whole. The
 * deferred streams are held compactly (see {@link StreamIdTable}), their positions in a queue of
 * numbers.
 */
class DeferredInputs {
  private readonly deferred = new StreamIdTable(`${CANDIDATE_STREAM_PREFIX}cand-`);
  private positions = new Float64Array(1024);
  private head = 0;
  private tail = 0;
  /** Deferred inputs the cursor passed, not claimed yet, in history order. */
  private readonly held = new Map<string, RecordedEvent>();
  private cursor: AsyncIterator<RecordedEvent> | undefined;
  /** Where the cursor starts: after the event the scan met just before the first deferred input. */
  private start: bigint | undefined;

  constructor(
    private readonly source: EventReader,
    private readonly window: number,
  ) {}

  isDeferred(streamId: string): boolean {
    return this.deferred.get(streamId) !== undefined;
  }

  /** Defers an input (revision 0) the scan met, `after` the position of the event before it; false when deferral is off. */
  defer(input: RecordedEvent, after: bigint | undefined): boolean {
    if (this.window === 0) return false;
    if (this.tail === 0 && this.cursor === undefined) this.start = after; // the first one: the cursor starts there
    if (this.tail === this.positions.length) this.grow();
    this.positions[this.tail++] = Number(input.position);
    this.deferred.set(input.streamId, 1);
    return true;
  }

  /** The stream is no longer deferred (read whole instead): the cursor drops its input when it passes it. */
  forget(streamId: string): void {
    this.deferred.delete(streamId);
    this.held.delete(streamId);
  }

  /**
   * The deferred input of `streamId`, found by the cursor: inputs it passes on the way are held,
   * up to the window; the oldest one held beyond it is handed to `readWhole`. Undefined when the
   * cursor cannot find it (it was handed to `readWhole` on the way).
   */
  async take(streamId: string, readWhole: (streamId: string, from: bigint) => Promise<void>): Promise<RecordedEvent | undefined> {
    for (;;) {
      const held = this.held.get(streamId);
      if (held !== undefined) return this.claim(held);
      if (!this.isDeferred(streamId)) return undefined;
      const next = await this.nextDeferred();
      if (next === undefined) return undefined;
      if (next.streamId === streamId) return this.claim(next);
      this.held.set(next.streamId, next);
      if (this.held.size > this.window) {
        const [oldest] = this.held.keys();
        this.forget(oldest as string);
        await readWhole(oldest as string, 0n);
      }
    }
  }

  /** Every deferred input nothing claimed, in history order, once the scan is over. */
  async *unclaimed(): AsyncGenerator<RecordedEvent> {
    try {
      for (const input of [...this.held.values()]) yield this.claim(input);
      for (let next = await this.nextDeferred(); next !== undefined; next = await this.nextDeferred()) yield this.claim(next);
    } finally {
      await this.cursor?.return?.();
    }
  }

  private claim(input: RecordedEvent): RecordedEvent {
    this.forget(input.streamId);
    return input;
  }

  /** The next deferred input still deferred, from the cursor, or undefined when none is left. */
  private async nextDeferred(): Promise<RecordedEvent | undefined> {
    while (this.head < this.tail) {
      const position = this.positions[this.head++] as number;
      this.cursor ??= this.open();
      for (;;) {
        const next: IteratorResult<RecordedEvent> = await this.cursor.next();
        if (next.done === true) throw new Error(`replay: the second cursor over $all ended before position ${position}`);
        const value = next.value;
        const at = Number(value.position);
        if (at < position) continue;
        if (at > position) throw new Error(`replay: the second cursor over $all passed position ${position} (at ${at})`);
        if (this.isDeferred(value.streamId)) return value;
        break; // read whole since: dropped
      }
    }
    this.head = this.tail = 0;
    return undefined;
  }

  private open(): AsyncIterator<RecordedEvent> {
    const options = { streamPrefixes: [CANDIDATE_STREAM_PREFIX], ...(this.start === undefined ? {} : { after: this.start }) };
    return this.source.readAll(options)[Symbol.asyncIterator]();
  }

  private grow(): void {
    const live = this.positions.subarray(this.head, this.tail);
    const next = new Float64Array(live.length * 2 > this.positions.length ? this.positions.length * 2 : this.positions.length);
    next.set(live);
    this.positions = next;
    this.tail -= this.head;
    this.head = 0;
  }
}

/**
 * The candidate streams whole replays read, and through which revision: the scan skips those
 * events. Held until the scan passes the last one read, so for a history recorded ingest-first
 * about one per candidate at a time: compactly (see {@link StreamIdTable}).
 */
class CoveredStreams {
  private readonly revisions = new StreamIdTable(`${CANDIDATE_STREAM_PREFIX}cand-`);

  /** A whole read of the stream is under way: skip its events until it says how far it read. */
  reading(streamId: string): void {
    this.revisions.set(streamId, READING);
  }

  /** A stream whose replay broke: the scan skips the rest of it (the divergence is reported once). */
  forever(streamId: string): void {
    this.revisions.set(streamId, FOREVER);
  }

  through(streamId: string, revision: bigint): void {
    this.revisions.set(streamId, FIRST_REVISION + Number(revision));
  }

  /** Whether a whole read already covered this event; forgets the stream once the scan passes its last one. */
  covers(streamId: string, revision: bigint): boolean {
    const value = this.revisions.get(streamId);
    if (value === undefined) return false;
    if (value === READING || value === FOREVER) return true;
    const through = value - FIRST_REVISION;
    const at = Number(revision);
    if (at < through) return true;
    this.revisions.delete(streamId);
    return at === through;
  }
}

const READING = 0;
const FOREVER = 1;
/** Revision r is held as FIRST_REVISION + r (the values below it are the markers). */
const FIRST_REVISION = 2;

/**
 * Stream ids to numbers, held compactly when the number is below 2^20 and the id is an OPX id under
 * `prefix` (the prefix and 24 hex digits of SHA-256, as candidate and incident ids are): its
 * first 13 hex digits are the key of a {@link NumberTable} entry whose value carries the next 8
 * (a check) beside the number, no object or heap number per entry. An id under the same 13
 * digits as one already held, but another check, goes to a plain map, as does any other id: the
 * table is exact, never mistaking one stream for another.
 */
class StreamIdTable {
  private readonly compact = new NumberTable();
  private readonly byId = new Map<string, number>();

  constructor(private readonly prefix: string) {}

  get(streamId: string): number | undefined {
    const bits = this.bits(streamId);
    if (bits !== undefined) {
      const value = this.compact.get(bits.key);
      if (value !== undefined && Math.floor(value / VALUE_SPAN) === bits.check) return value % VALUE_SPAN;
    }
    return this.byId.size === 0 ? undefined : this.byId.get(streamId);
  }

  set(streamId: string, value: number): void {
    const bits = this.bits(streamId);
    if (bits !== undefined) {
      const held = this.compact.get(bits.key);
      const mine = held !== undefined && Math.floor(held / VALUE_SPAN) === bits.check;
      if (value < VALUE_SPAN && (held === undefined || mine)) {
        this.compact.set(bits.key, bits.check * VALUE_SPAN + value);
        if (this.byId.size > 0) this.byId.delete(streamId); // it may have been held there while larger
        return;
      }
      if (mine) this.compact.delete(bits.key);
    }
    this.byId.set(streamId, value);
  }

  delete(streamId: string): boolean {
    const bits = this.bits(streamId);
    if (bits !== undefined) {
      const held = this.compact.get(bits.key);
      if (held !== undefined && Math.floor(held / VALUE_SPAN) === bits.check) return this.compact.delete(bits.key);
    }
    return this.byId.delete(streamId);
  }

  /** `prefix` and 24 hex digits: the first 13 (52 bits) as the key, the next 8 (32 bits) as the check. */
  private bits(streamId: string): { key: number; check: number } | undefined {
    const at = this.prefix.length;
    if (streamId.length !== at + 24 || !streamId.startsWith(this.prefix)) return undefined;
    const key = hexValue(streamId, at, at + 13);
    const check = hexValue(streamId, at + 13, at + 21);
    if (key === undefined || check === undefined || hexValue(streamId, at + 21, at + 24) === undefined) return undefined;
    return { key, check };
  }
}

/** Values a {@link StreamIdTable} holds compactly: below 2^20, so check * 2^20 + value stays below 2^52. */
const VALUE_SPAN = 2 ** 20;

/** The number lowercase hex digits `from`..`to` of `text` make, or undefined if one is not one. */
function hexValue(text: string, from: number, to: number): number | undefined {
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (digit < 0) return undefined;
    value = value * 16 + digit;
  }
  return value;
}

/**
 * A map from numbers (below 2^53) to numbers in two typed arrays, open addressing with linear
 * probing: no object and no heap number per entry, so a few hundred thousand entries cost a few
 * MB and nothing for the garbage collector to trace.
 */
export class NumberTable {
  private keys = new Float64Array(1024);
  private values = new Float64Array(1024);
  /** 0 empty, 1 full, 2 deleted. */
  private states = new Uint8Array(1024);
  private used = 0;
  size = 0;

  get(key: number): number | undefined {
    const slot = this.find(key);
    return slot < 0 ? undefined : this.values[slot];
  }

  set(key: number, value: number): void {
    const slot = this.find(key);
    if (slot >= 0) {
      this.values[slot] = value;
      return;
    }
    if ((this.used + 1) * 4 > this.states.length * 3) this.resize();
    const mask = this.states.length - 1;
    let i = key % this.states.length;
    while (this.states[i] === 1) i = (i + 1) & mask;
    if (this.states[i] === 0) this.used++;
    this.keys[i] = key;
    this.values[i] = value;
    this.states[i] = 1;
    this.size++;
  }

  delete(key: number): boolean {
    const slot = this.find(key);
    if (slot < 0) return false;
    this.states[slot] = 2;
    this.size--;
    return true;
  }

  private find(key: number): number {
    const mask = this.states.length - 1;
    for (let i = key % this.states.length; ; i = (i + 1) & mask) {
      const state = this.states[i];
      if (state === 0) return -1;
      if (state === 1 && this.keys[i] === key) return i;
    }
  }

  private resize(): void {
    const { keys, values, states } = this;
    // Grow when mostly full; rebuild at the same size when mostly deleted.
    const capacity = this.size * 2 > states.length ? states.length * 2 : states.length;
    this.keys = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
    this.states = new Uint8Array(capacity);
    this.used = 0;
    this.size = 0;
    for (let i = 0; i < states.length; i++) if (states[i] === 1) this.set(keys[i] as number, values[i] as number);
  }
}

/** Live replays' findings are handed to the tally in batches of this many compared events. */
const LIVE_AUDIT_BATCH = 1_000;

/** What auditing one unit found: counts, divergences, and the decisions to check for drift. */
class StreamAudit {
  eventsCompared = 0;
  inputsReplayed = 0;
  inputsPending = 0;
  readonly divergences: Divergence[] = [];
  readonly decisions: RecordedEvent[] = [];
  /** Incident streams a whole replay of this candidate opened (for the tally's origin check). */
  readonly incidentsOpened: string[] = [];
  /** A recorded IncidentOpened on this stream passed in history. */
  incidentSeen: string | undefined;

  isEmpty(): boolean {
    return this.eventsCompared === 0 && this.inputsReplayed === 0 && this.inputsPending === 0 && this.divergences.length === 0 && this.decisions.length === 0;
  }

  compare(recorded: RecordedEvent, replayed: RecordedEvent | undefined): void {
    this.eventsCompared++;
    const at = { streamId: recorded.streamId, revision: recorded.revision.toString() };
    if (replayed === undefined) {
      this.diverge({ ...at, kind: 'not-reproduced', message: `recorded ${recorded.type} was not produced by the replay` });
    } else if (!sameEvent(recorded, replayed)) {
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
   * Incident streams whole replays opened whose recorded IncidentOpened has not passed yet (a live
   * replay checks its own as they pass): for a history recorded ingest-first, about every promoted
   * candidate at some point, so they are held compactly (see {@link IncidentStreamTally}).
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

/** A multiset of incident stream ids (exact, compact: see {@link StreamIdTable}). */
export class IncidentStreamTally {
  private readonly counts = new StreamIdTable(`${INCIDENT_STREAM_PREFIX}inc-`);

  add(streamId: string): void {
    this.counts.set(streamId, (this.counts.get(streamId) ?? 0) + 1);
  }

  /** Takes one out; false when there was none. */
  delete(streamId: string): boolean {
    const count = this.counts.get(streamId);
    if (count === undefined) return false;
    if (count === 1) this.counts.delete(streamId);
    else this.counts.set(streamId, count - 1);
    return true;
  }
}

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

/** Whether the {@link compared} forms of two events have the same canonical bytes (field by field: no form built per event). */
const sameEvent = (a: RecordedEvent, b: RecordedEvent): boolean =>
  a.type === b.type && a.id === b.id && sameCanonicalJson(a.data, b.data) && sameCanonicalJson(a.metadata, b.metadata);


/** The items of `first`, then those of `then`. */
async function* chain<T>(first: Iterable<T>, then: AsyncIterable<T>): AsyncGenerator<T> {
  yield* first;
  yield* then;
}

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
