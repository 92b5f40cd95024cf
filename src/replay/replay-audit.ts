import type { OpxConfig } from '../container/config.js';
import type { EventReader, RecordedEvent } from '../eventstore/event-store.js';
import { HistoryScan } from './history-scan.js';
import type { ReplayReport } from './report.js';

export { firstDifference, MAX_REPORTED_DIVERGENCES, type Divergence, type PolicyDrift, type ReplayReport } from './report.js';

export interface ReplayOptions {
  /** Candidate streams audited whole at once (reads overlap; memory is a few streams per unit). */
  readonly concurrency?: number;
  /** Candidate streams held or replayed live, from the scan itself, at once (see {@link ReplayAudit}). */
  readonly liveWindow?: number;
  /**
   * Deferred inputs held at once by the second cursor (see DeferredInputs); 0 turns deferral
   * off, so an input met with the live window full is read whole at once.
   */
  readonly inputWindow?: number;
  readonly onProgress?: (eventsRead: number) => void;
}

export const DEFAULT_REPLAY_CONCURRENCY = 16;
export const DEFAULT_LIVE_WINDOW = 256;
export const DEFAULT_INPUT_WINDOW = 4_096;

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
 * Its parts, each a module: the scan of `$all` and the routing of each event (history-scan), in
 * history order (ordered-pipeline); one candidate stream's replay (candidate-replay, on scratch
 * graphs from scratch); inputs passed over and fetched again (deferred-inputs); what is known of
 * streams between events (stream-tracking); findings and totals (report).
 *
 * Three ways to replay one candidate stream, with the same CandidateReplay:
 * - live: from the scan itself, event by event, while it awaits outputs; once it has all it
 *   produced, it is dropped. An input the scan meets is held (the event only) until its stream's
 *   next event comes, and replayed then: a live replay lives from its stream's first output to its
 *   last, briefly (with a worker running, a candidate's outputs follow its input within moments),
 *   and costs no read (see docs/performance.md on why an input is held, not replayed at once).
 * - deferred: an input met while `liveWindow` inputs are held or replayed live (a history
 *   recorded ingest-first: every candidate created, then every one decided) is passed over, and
 *   fetched again by a second cursor over `$all` when its stream's outputs come; its replay is
 *   then live (see DeferredInputs).
 * - whole: when a stream's event comes after its live replay was dropped (a manual promotion
 *   days later), when deferral is off (`inputWindow` 0) or the second cursor let the input go, or
 *   when live replays pile up past twice the window, the stream is read whole and replayed from
 *   it, `concurrency` at a time so reads over the network overlap; the scan then skips what that
 *   read covered.
 * Memory is flat whatever the history's length: at most about twice `liveWindow` live replays,
 * `inputWindow` deferred inputs held, `concurrency` whole replays, and records of the deferred
 * streams and of what whole reads covered until the scan passes it. An input that is the last
 * event of its stream has not been handled yet (a live system): it is replayed, so an input the
 * handlers cannot take is still reported, but its outputs are not expected; it counts as pending.
 */
export class ReplayAudit {
  constructor(private readonly config: OpxConfig) {}

  /** Replays `source`'s history; `events` are its candidate and incident streams when a shared scan reads them (see auditHistory). */
  async run(source: EventReader, options: ReplayOptions = {}, events?: AsyncIterable<RecordedEvent>): Promise<ReplayReport> {
    const settings = {
      concurrency: options.concurrency ?? DEFAULT_REPLAY_CONCURRENCY,
      liveWindow: options.liveWindow ?? DEFAULT_LIVE_WINDOW,
      inputWindow: options.inputWindow ?? DEFAULT_INPUT_WINDOW,
      onProgress: options.onProgress,
    };
    return new HistoryScan(source, this.config, settings, events).run();
  }
}
