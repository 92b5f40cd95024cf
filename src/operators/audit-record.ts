import type { EventReader, EventStore, RecordedEvent } from '../eventstore/event-store.js';
import type { HistoryAuditReport } from '../replay/history-audit.js';

/** Where the verdict of every replay audit run is recorded (the last few: `opx status`, the console). */
export const AUDIT_REPORTS_STREAM = 'opx-audit-reports';
export const AUDIT_REPORTED = 'ReplayAuditReported';
const KEEP = 20;

/** What is kept of an audit: its verdict and counts, and the first divergences (the full report goes to --report). */
export interface AuditSummary {
  readonly verdict: HistoryAuditReport['verdict'];
  readonly ranAt: string;
  readonly ranBy: string;
  readonly eventsRead: number;
  readonly divergences: number;
  readonly correlationDivergences: number;
  readonly policyDrift: readonly string[];
  readonly first?: { readonly streamId: string; readonly revision: string; readonly path?: string };
}

export function summarize(report: HistoryAuditReport, ranAt: string, ranBy: string): AuditSummary {
  const first = report.correlation.divergences[0] ?? report.divergences[0] ?? report.autoResolution.divergences[0];
  return {
    verdict: report.verdict,
    ranAt,
    ranBy,
    eventsRead: report.eventsRead,
    divergences: report.divergenceCount + report.autoResolution.divergenceCount,
    correlationDivergences: report.correlation.divergenceCount,
    policyDrift: report.policyDrift.map((d) => d.policy),
    ...(first === undefined ? {} : { first: { streamId: first.streamId, revision: first.revision, ...(first.path === undefined ? {} : { path: first.path }) } }),
  };
}

/** Records an audit's summary (observability: never read by a decision). */
export async function recordAudit(store: EventStore, summary: AuditSummary): Promise<void> {
  const result = await store.append(AUDIT_REPORTS_STREAM, [{ id: crypto.randomUUID(), type: AUDIT_REPORTED, data: { ...summary, policyDrift: [...summary.policyDrift] }, metadata: { schemaVersion: 1 } }], 'any');
  if (result.nextExpectedRevision === 0n) await store.setStreamMetadata(AUDIT_REPORTS_STREAM, { maxCount: KEEP });
}

/** The last audit recorded, if any. */
export async function lastAudit(reader: EventReader): Promise<AuditSummary | undefined> {
  let last: RecordedEvent | undefined;
  for await (const recorded of reader.readStream(AUDIT_REPORTS_STREAM, { direction: 'backwards', maxCount: 1 })) last ??= recorded;
  return last?.type === AUDIT_REPORTED ? (last.data as unknown as AuditSummary) : undefined;
}
