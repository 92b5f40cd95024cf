import { AutoResolver, type AutoResolverStats } from '../auto-resolution/auto-resolver.js';
import { LiveAutoResolution } from '../auto-resolution/live-auto-resolution.js';
import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import type { IncidentManager } from '../incidents/incident-manager.js';
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
 * recorded ({@link correlateOnce}). Either way the alert automation (src/auto-resolution) runs
 * after it over what it recorded, when the authority matrix grants it anything.
 */
export class CorrelationService {
  constructor(
    private readonly store: EventStore,
    private readonly candidates: CandidateStore,
    private readonly rules: CorrelationRuleSet,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly automation?: { readonly incidents: IncidentManager; readonly matrix: AuthorityMatrix },
  ) {}

  newCorrelator(): LiveCorrelator {
    return new LiveCorrelator(this.rules, this.store, new StoreCorrelationOutputs(this.store, this.candidates, this.logger), this.logger);
  }

  /** From the last checkpoint to the end of `$all`; with `tick`, then releases what is still held. */
  async correlateOnce(options: { readonly tick: boolean } = { tick: true }): Promise<CorrelateOnceReport & { readonly autoResolution?: AutoResolverStats }> {
    const report = await this.correlateOnly(options);
    const resolver = this.newAutoResolver();
    if (resolver?.enabled !== true) return report;
    const autoResolution = await resolver.runOnce();
    if (autoResolution.resolved === 0) return { ...report, autoResolution };
    // The incidents it resolved are inputs to correlation (their episodes close): taken now, as a live correlator would.
    const closes = await this.correlateOnly(options);
    const stats = { ...report.stats };
    for (const key of Object.keys(stats) as Array<keyof typeof stats>) stats[key] += closes.stats[key];
    return { eventsRead: report.eventsRead + closes.eventsRead, stats, held: closes.held, autoResolution };
  }

  private correlateOnly(options: { readonly tick: boolean }): Promise<CorrelateOnceReport> {
    return correlateOnce(this.store, this.newCorrelator(), { tick: options.tick, ruleSetVersion: this.rules.version });
  }

  /** A live correlation, with the alert automation beside it (call start(), and stop() before closing the store). */
  live(options: Omit<LiveCorrelationOptions, 'ruleSetVersion' | 'companion'> = {}): LiveCorrelation {
    const logger = this.logger.child({ component: 'alert-automation' });
    const companion = this.automation === undefined ? undefined : new LiveAutoResolution(this.store, () => this.newAutoResolver() as AutoResolver, logger);
    return new LiveCorrelation(this.store, () => this.newCorrelator(), this.clock, this.logger, { ...options, ruleSetVersion: this.rules.version, ...(companion === undefined ? {} : { companion }) });
  }

  /** The alert automation's consumer (undefined in a container without CP-7). */
  newAutoResolver(): AutoResolver | undefined {
    if (this.automation === undefined) return undefined;
    return new AutoResolver(this.store, this.automation.incidents, this.automation.matrix, this.logger.child({ component: 'alert-automation' }));
  }
}
