import { CandidateStore } from '../candidates/candidate-store.js';
import type { OpxConfig } from '../container/config.js';
import { InMemoryEventStore } from '../eventstore/in-memory-event-store.js';
import { IncidentManager } from '../incidents/incident-manager.js';
import type { HandlerContext } from '../orchestration/candidate-event-handler.js';
import { IncidentOrchestrator } from '../orchestration/incident-orchestrator.js';
import type { OrchestrationStore } from '../orchestration/orchestration-store.js';
import { PromotionEngine } from '../promotion/promotion-engine.js';
import { FixedClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';

/**
 * The production handlers, CP-5, CP-6 and CP-7 wired to a scratch in-memory store: what a replay
 * writes its outputs to. No decision reads the clock; the attempt log does, and a replay discards
 * it, so the clock here stands still and the log writes nothing.
 */
export class Scratch {
  readonly store = new InMemoryEventStore(epoch);
  readonly candidates = new CandidateStore(this.store);
  readonly context: HandlerContext;

  constructor(config: OpxConfig) {
    const orchestrator = new IncidentOrchestrator(
      {
        candidateStore: this.candidates,
        promotionEngine: new PromotionEngine(this.store, this.candidates, config.policies, config.authorityMatrix),
        incidentManager: new IncidentManager(this.store, this.candidates, config.authorityMatrix),
        eventEmitter: { emit: async () => undefined },
        orchestrationStore: discardingAttemptLog(),
      },
      { clock: new FixedClock('1970-01-01T00:00:00.000Z'), logger: silentLogger },
    );
    this.context = { orchestrator, logger: silentLogger, candidates: this.candidates };
  }
}

/** The scratch store's `created` (server-assigned, never compared). */
const epoch = (): Date => new Date(0);

/** The write-only attempt log is observability: a replay writes none (and nothing reads it). */
const discardingAttemptLog = (): OrchestrationStore => ({ logAttempt: async () => undefined, getAttempts: async () => [] }) as unknown as OrchestrationStore;

/**
 * Scratch graphs for the replays of candidate streams from their first event: one graph serves
 * {@link SCRATCH_SHARE} such replays in a row, then the next is built, so a replay costs a graph's
 * construction only now and then. Sharing is sound because each of those replays is of another
 * stream: a stream has one revision 0, so at most one replay from it, and CP-5/6/7 touch only the
 * candidate's own stream and the incident streams its decisions open (the handler refuses an input
 * naming another candidate than its stream's before CP-6 sees it). A graph is dropped with the
 * last replay using it. A replay from a later revision may follow an earlier replay of the same
 * stream, so it gets a graph of its own.
 */
export class ScratchPool {
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

export const SCRATCH_SHARE = 16;
