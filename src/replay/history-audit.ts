import { auditAutoResolution, AUTO_RESOLUTION_AUDIT_PREFIXES, type AutoResolutionAuditReport } from '../auto-resolution/auto-resolution-audit.js';
import type { OpxConfig } from '../container/config.js';
import { auditCorrelation, CORRELATION_AUDIT_PREFIXES, type CorrelationAuditReport } from '../correlation/correlation-audit.js';
import type { EventReader } from '../eventstore/event-store.js';
import { shareScan } from '../eventstore/shared-scan.js';
import { verifyHistory, type IntegrityReport } from '../integrity/verify.js';
import { SCANNED_PREFIXES } from './history-scan.js';
import { ReplayAudit, type ReplayOptions, type ReplayReport } from './replay-audit.js';

/** The audit of a whole history: correlation (signals -> candidates), then orchestration (candidates -> decisions -> incidents), and the integrity chain. */
export interface HistoryAuditReport extends ReplayReport {
  readonly correlation: CorrelationAuditReport;
  /**
   * The alert automation's transitions (ALERT_AUTOMATION resolving an incident whose alerts all
   * resolved): outputs of neither replayed process, re-derived from the recorded facts and compared.
   */
  readonly autoResolution: AutoResolutionAuditReport;
  /** Whether every recorded event, input or output, still reads as it was sealed (see src/integrity). */
  readonly integrity: IntegrityReport;
}

export interface HistoryAuditOptions extends ReplayOptions {
  /** A chain head recorded earlier: the integrity check fails unless the chain still has it. */
  readonly anchor?: string;
}

/** Events handed to a stage at once, and batches read ahead of the slowest: 64 x 2 instead of shareScan's 256 x 5. */
const AUDIT_SCAN = { batch: 64, ahead: 1 } as const;

/**
 * Replays recorded history in both stages and proves each byte-identical: correlation's outputs
 * from the recorded signal facts, ticks and incident closes; then the orchestration's from the
 * recorded candidates and human requests; then the alert automation's transitions, which neither
 * stage replays (to both they are inputs), re-derived from the recorded resolutions. A replay proves outputs follow from inputs, not that the
 * inputs are what was recorded: the integrity chain checks that (every event, inputs included,
 * against its seal). IDENTICAL only when both stages are and nothing sealed was changed; history
 * not sealed yet (or recorded before the chain existed) is reported, not counted against it.
 * The four run at once over one read of `$all` (see shareScan): history is read once, and each
 * sees the same history, even of a store still being written to.
 */
export async function auditHistory(config: OpxConfig, source: EventReader, options: HistoryAuditOptions = {}): Promise<HistoryAuditReport> {
  const verifyOptions = options.anchor === undefined ? {} : { anchor: options.anchor };
  const [correlation, orchestration, autoResolution, integrity] = await shareScan<[CorrelationAuditReport, ReplayReport, AutoResolutionAuditReport, IntegrityReport]>(
    (streamPrefixes) => source.readAll(streamPrefixes === undefined ? {} : { streamPrefixes }),
    [
      { streamPrefixes: CORRELATION_AUDIT_PREFIXES, consume: (events) => auditCorrelation(source, config.correlationRules, events) },
      { streamPrefixes: SCANNED_PREFIXES, consume: (events) => new ReplayAudit(config).run(source, options, events) },
      { streamPrefixes: AUTO_RESOLUTION_AUDIT_PREFIXES, consume: (events) => auditAutoResolution(source, config.authorityMatrix, events) },
      { consume: (events) => verifyHistory(source, verifyOptions, events) },
    ],
    // Little read ahead: an event waiting in the scan lives on through scavenges (see docs/performance.md).
    AUDIT_SCAN,
  );
  const identical = orchestration.verdict === 'IDENTICAL' && correlation.verdict === 'IDENTICAL' && autoResolution.verdict === 'IDENTICAL' && integrity.verdict !== 'TAMPERED';
  return { ...orchestration, verdict: identical ? 'IDENTICAL' : 'DIVERGENT', correlation, autoResolution, integrity };
}
