import type { OpxConfig } from '../container/config.js';
import { auditCorrelation, type CorrelationAuditReport } from '../correlation/correlation-audit.js';
import type { EventReader } from '../eventstore/event-store.js';
import { ReplayAudit, type ReplayOptions, type ReplayReport } from './replay-audit.js';

/** The audit of a whole history: correlation (signals -> candidates), then orchestration (candidates -> decisions -> incidents). */
export interface HistoryAuditReport extends ReplayReport {
  readonly correlation: CorrelationAuditReport;
}

/**
 * Replays recorded history in both stages and proves each byte-identical: correlation's outputs
 * from the recorded signal facts, ticks and incident closes; then the orchestration's from the
 * recorded candidates and human requests. IDENTICAL only when both are.
 */
export async function auditHistory(config: OpxConfig, source: EventReader, options: ReplayOptions = {}): Promise<HistoryAuditReport> {
  const correlation = await auditCorrelation(source, config.correlationRules);
  const orchestration = await new ReplayAudit(config).run(source, options);
  return { ...orchestration, verdict: orchestration.verdict === 'IDENTICAL' && correlation.verdict === 'IDENTICAL' ? 'IDENTICAL' : 'DIVERGENT', correlation };
}
