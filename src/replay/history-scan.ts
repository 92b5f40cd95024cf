import { CANDIDATE_STREAM_PREFIX } from '../candidates/candidate-events.js';
import type { OpxConfig } from '../container/config.js';
import type { EventReader, RecordedEvent } from '../eventstore/event-store.js';
import { incidentCodec, INCIDENT_STREAM_PREFIX } from '../incidents/incident-events.js';
import { CandidateReplay } from './candidate-replay.js';
import { DeferredInputs } from './deferred-inputs.js';
import { OrderedPipeline } from './ordered-pipeline.js';
import { Findings, Tally, type ReplayReport } from './report.js';
import { ScratchPool, type Scratch } from './scratch.js';
import { CoveredStreams } from './stream-tracking.js';

/** The streams the scan reads from `$all`: each prefix has its branch in {@link HistoryScan.route}. */
export const SCANNED_PREFIXES: readonly string[] = [CANDIDATE_STREAM_PREFIX, INCIDENT_STREAM_PREFIX];

export interface ScanSettings {
  readonly concurrency: number;
  readonly liveWindow: number;
  readonly inputWindow: number;
  readonly onProgress?: ((eventsRead: number) => void) | undefined;
}

/** Live replays' findings are handed to the tally in batches of this many compared events. */
const LIVE_BATCH = 1_000;

/**
 * One run of the audit: a single scan of `$all` in global order, each event routed by its stream
 * (see ReplayAudit for the three ways a candidate stream is replayed). What each unit finds goes
 * through an {@link OrderedPipeline} to the {@link Tally}, so the report is in history order
 * whatever order whole reads finish in.
 */
export class HistoryScan {
  private readonly tally: Tally;
  private readonly pipeline: OrderedPipeline<Findings>;
  private readonly scratch: ScratchPool;
  private readonly inputs: DeferredInputs;
  private readonly covered = new CoveredStreams();
  /** Candidate streams replayed live from the scan. */
  private readonly live = new Map<string, CandidateReplay>();
  /** Inputs the scan met, held (the event only) until their stream's next event comes: then replayed live. */
  private readonly waiting = new Map<string, RecordedEvent>();
  /** Incident streams live replays opened, awaiting their recorded IncidentOpened. */
  private readonly liveIncidents = new Map<string, CandidateReplay>();
  /** What live replays find, in scan order, handed to the tally between whole replays' findings. */
  private liveFindings = new Findings();
  /** The position of the last event scanned. */
  private previous: bigint | undefined;

  constructor(
    private readonly source: EventReader,
    config: OpxConfig,
    private readonly settings: ScanSettings,
    /** The candidate and incident streams in `$all` order (a shared scan's, or a read of its own). */
    private readonly events: AsyncIterable<RecordedEvent> = source.readAll({ streamPrefixes: SCANNED_PREFIXES }),
  ) {
    this.tally = new Tally(config);
    this.pipeline = new OrderedPipeline<Findings>(settings.concurrency, (findings) => this.tally.add(findings));
    this.scratch = new ScratchPool(config);
    this.inputs = new DeferredInputs(source, settings.inputWindow);
  }

  async run(): Promise<ReplayReport> {
    const { onProgress } = this.settings;
    for await (const recorded of this.events) {
      this.tally.eventsRead++;
      if (onProgress !== undefined && this.tally.eventsRead % 10_000 === 0) onProgress(this.tally.eventsRead);
      if (recorded.revision === 0n) this.tally.streamsChecked++;
      const before = this.previous;
      this.previous = recorded.position;
      const routing = this.route(recorded, before);
      if (routing !== undefined) await routing;
      if (this.liveFindings.eventsCompared >= LIVE_BATCH) await this.flushLive();
    }
    await this.finishScan();
    return this.tally.report();
  }

  /**
   * Where every recorded event goes, by the stream it is on. A promise only when there is work to
   * wait for (most events are outputs of a live replay, compared at once).
   */
  private route(recorded: RecordedEvent, before: bigint | undefined): Promise<void> | undefined {
    if (recorded.streamId.startsWith(CANDIDATE_STREAM_PREFIX)) return this.candidateEvent(recorded, before);
    if (recorded.type === 'IncidentOpened') return this.incidentOpened(recorded);
    return this.humanTransition(recorded);
  }

  private candidateEvent(recorded: RecordedEvent, before: bigint | undefined): Promise<void> | undefined {
    const replay = this.live.get(recorded.streamId);
    if (replay !== undefined) return this.feed(replay, recorded);
    if (this.covered.covers(recorded.streamId, recorded.revision)) return undefined;
    return this.firstOfStream(recorded, before);
  }

  /** An event of a candidate stream with no live replay: hold it, defer it, start a live replay, or read the stream whole. */
  private async firstOfStream(recorded: RecordedEvent, before: bigint | undefined): Promise<void> {
    const { streamId, revision } = recorded;
    let input = this.waiting.get(streamId);
    if (input !== undefined) {
      this.waiting.delete(streamId);
    } else if (this.inputs.isDeferred(streamId)) {
      // Its input was deferred: the second cursor finds it (or it is read whole after all).
      input = this.live.size < this.settings.liveWindow * 2 + 1 ? await this.inputs.take(streamId, this.readWhole) : undefined;
      if (input === undefined) {
        this.inputs.forget(streamId);
        return this.readWhole(streamId, 0n);
      }
    } else if (revision === 0n && this.live.size + this.waiting.size < this.settings.liveWindow) {
      this.waiting.set(streamId, recorded); // replayed when its stream goes on
      return;
    } else if (revision === 0n && this.inputs.defer(recorded, before)) {
      return;
    } else {
      return this.readWhole(streamId, revision);
    }
    const replay = new CandidateReplay(streamId, this.scratch.for(0n));
    this.live.set(streamId, replay);
    await this.feed(replay, input);
    await this.feed(replay, recorded);
  }

  /** Hands one event to its stream's live replay, then drops the replay once it awaits nothing. */
  private feed(replay: CandidateReplay, recorded: RecordedEvent): Promise<void> | undefined {
    const handling = replay.accept(recorded, this.liveFindings);
    if (handling !== undefined) return handling.then(() => this.fed(replay, recorded));
    this.fed(replay, recorded);
    return undefined;
  }

  private fed(replay: CandidateReplay, recorded: RecordedEvent): void {
    if (replay.opensIncidents) for (const incident of replay.awaitedIncidents()) this.liveIncidents.set(incident, replay);
    if (replay.broken) this.covered.forever(recorded.streamId);
    this.settle(replay);
  }

  private settle(replay: CandidateReplay): void {
    if (replay.pending) return;
    this.live.delete(replay.streamId);
    for (const incident of replay.incidentStreams()) this.liveIncidents.delete(incident);
  }

  private incidentOpened(recorded: RecordedEvent): Promise<void> | undefined {
    const replay = this.liveIncidents.get(recorded.streamId);
    if (replay === undefined) {
      // Opened by a whole replay (the tally knows by then), or by none.
      const findings = new Findings();
      findings.incidentSeen = recorded.streamId;
      return this.pushFindings(findings);
    }
    replay.acceptIncident(recorded, this.liveFindings);
    this.liveIncidents.delete(recorded.streamId);
    this.settle(replay);
    return undefined;
  }

  /** Human lifecycle transitions are inputs with no handler to replay: they must still decode. */
  private async humanTransition(recorded: RecordedEvent): Promise<void> {
    const findings = new Findings();
    try {
      incidentCodec.decode(recorded);
    } catch (error) {
      findings.diverge({ streamId: recorded.streamId, revision: recorded.revision.toString(), kind: 'undecodable', message: (error as Error).message });
    }
    await this.pushFindings(findings);
  }

  /** Reads a candidate stream whole, in the pipeline; the scan skips what the read covers. */
  private readonly readWhole = async (streamId: string, from: bigint): Promise<void> => {
    this.covered.reading(streamId);
    await this.flushLive();
    const scratch = this.scratch.for(from);
    await this.pipeline.push(() => this.replayWhole(streamId, from, scratch));
  };

  /**
   * Reads one candidate stream whole and replays it; compares what it has from revision `from`
   * on (what came before was compared by a live replay), and the incident streams those outputs
   * open, read too.
   */
  private async replayWhole(streamId: string, from: bigint, scratch: Scratch): Promise<Findings> {
    const findings = new Findings();
    try {
      const recorded = await collect(this.source.readStream(streamId));
      this.covered.through(streamId, recorded.at(-1)?.revision ?? from);
      const replay = new CandidateReplay(streamId, scratch, from);
      for (const event of recorded) {
        const handling = replay.accept(event, findings);
        if (handling !== undefined) await handling;
      }
      for (const incidentStream of replay.incidentsDue()) {
        findings.incidentsOpened.push(incidentStream);
        const [opened] = await collect(this.source.readStream(incidentStream, { maxCount: 1 }));
        if (opened !== undefined) replay.acceptIncident(opened, findings);
      }
      replay.finish(findings);
    } catch (error) {
      this.covered.through(streamId, from);
      findings.diverge({ streamId, revision: '?', kind: 'handler-error', message: `auditing ${streamId} failed: ${(error as Error).message}` });
    }
    return findings;
  }

  /**
   * Held and deferred inputs nothing claimed are the last events of their streams (not handled
   * yet): each is replayed and finished at once. Then live replays still awaiting outputs finish.
   */
  private async finishScan(): Promise<void> {
    for await (const input of chain(this.waiting.values(), this.inputs.unclaimed())) {
      const replay = new CandidateReplay(input.streamId, this.scratch.for(0n));
      const handling = replay.accept(input, this.liveFindings);
      if (handling !== undefined) await handling;
      replay.finish(this.liveFindings);
      if (this.liveFindings.eventsCompared + this.liveFindings.inputsPending >= LIVE_BATCH) await this.flushLive();
    }
    for (const replay of this.live.values()) replay.finish(this.liveFindings);
    await this.flushLive();
    await this.pipeline.drain();
  }

  /** Findings of one unit, after what live replays found so far (history order). */
  private async pushFindings(findings: Findings): Promise<void> {
    await this.flushLive();
    await this.pipeline.push(async () => findings);
  }

  private async flushLive(): Promise<void> {
    if (this.liveFindings.isEmpty()) return;
    const findings = this.liveFindings;
    this.liveFindings = new Findings();
    await this.pipeline.push(async () => findings);
  }
}

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
