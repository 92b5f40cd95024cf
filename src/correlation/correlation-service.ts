import type { CandidateStore } from '../candidates/candidate-store.js';
import type { EventStore } from '../eventstore/event-store.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { StoreCorrelationOutputs } from './correlation-outputs.js';
import type { CorrelationRuleSet } from './correlation-rule.js';
import { correlateOnce, LiveCorrelation, type CorrelateOnceReport, type LiveCorrelationOptions } from './correlation-runner.js';
import { LiveCorrelator } from './live-correlator.js';

/**
 * Correlation over one store, as every runtime uses it: the worker and `opx serve` run it live
 * ({@link live}), `opx process`, the in-process runtime and tests run it to the end of what is
 * recorded ({@link correlateOnce}).
 */
export class CorrelationService {
  constructor(
    private readonly store: EventStore,
    private readonly candidates: CandidateStore,
    private readonly rules: CorrelationRuleSet,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  newCorrelator(): LiveCorrelator {
    return new LiveCorrelator(this.rules, this.store, new StoreCorrelationOutputs(this.store, this.candidates, this.logger), this.logger);
  }

  /** From the last checkpoint to the end of `$all`; with `tick`, then releases what is still held. */
  correlateOnce(options: { readonly tick: boolean } = { tick: true }): Promise<CorrelateOnceReport> {
    return correlateOnce(this.store, this.newCorrelator(), { tick: options.tick, ruleSetVersion: this.rules.version });
  }

  /** A live correlation (call start(), and stop() before closing the store). */
  live(options: Omit<LiveCorrelationOptions, 'ruleSetVersion'> = {}): LiveCorrelation {
    return new LiveCorrelation(this.store, () => this.newCorrelator(), this.clock, this.logger, { ...options, ruleSetVersion: this.rules.version });
  }
}
