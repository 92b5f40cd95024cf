import type { AutoResolutionDivergence } from '../auto-resolution/auto-resolution-audit.js';
import type { CorrelationDivergence } from '../correlation/correlation-audit.js';
import type { EventReader, EventStore, RecordedEvent } from '../eventstore/event-store.js';
import type { HistoryAuditReport } from '../replay/history-audit.js';
import type { Divergence } from '../replay/replay-audit.js';
import { eventId } from '../shared/ids.js';

/**
 * Where the verdict of every replay audit run by `opx serve` is recorded (the newest
 * {@link AUDIT_REPORTS_KEEP}), so the last one survives a restart and any reader of the store
 * (`opx status`, the console of another serve) shows it without replaying. Observability: no
 * decision reads it.
 */
export const AUDIT_REPORTS_STREAM = 'opx-audit-reports';
export const AUDIT_REPORTED = 'ReplayAuditReported';
export const AUDIT_REPORTS_KEEP = 50;

/** Divergences and drifts a summary keeps (the report has up to 100 each; a person reads the first). */
const KEPT = 20;
/** A recorded or replayed value in a summary is cut to this many characters of its JSON. */
const VALUE_CHARS = 300;

export interface AuditDivergence {
  readonly streamId: string;
  readonly revision: string;
  readonly kind: string;
  readonly path?: string;
  readonly recorded?: string;
  readonly replayed?: string;
  readonly message: string;
}

/** What a person needs of a replay audit's report: the verdict and where it diverged. */
export interface AuditSummary {
  readonly runId: string;
  readonly verdict: 'IDENTICAL' | 'DIVERGENT';
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The principal who asked for the run. */
  readonly by: string;
  readonly eventsRead: number;
  readonly eventsCompared: number;
  readonly streamsChecked: number;
  readonly divergentStreams: number;
  readonly divergenceCount: number;
  readonly divergences: readonly AuditDivergence[];
  readonly policyDrift: ReadonlyArray<{ readonly policy: string; readonly recordedHash: string; readonly currentHash: string | null; readonly firstCandidateId: string; readonly decisions: number }>;
  readonly correlation: { readonly verdict: 'IDENTICAL' | 'DIVERGENT'; readonly inputs: number; readonly eventsCompared: number; readonly divergenceCount: number; readonly divergences: readonly AuditDivergence[] };
  /** The alert automation's transitions, re-derived (absent from summaries recorded before it existed). */
  readonly autoResolution?: { readonly verdict: 'IDENTICAL' | 'DIVERGENT'; readonly eventsCompared: number; readonly superseded: number; readonly pending: number; readonly divergenceCount: number; readonly divergences: readonly AuditDivergence[] };
  /** The integrity chain's verdict (absent from summaries recorded before the chain existed). */
  readonly integrity?: {
    readonly verdict: 'INTACT' | 'TAMPERED' | 'UNSEALED';
    readonly findingCount: number;
    readonly findings: ReadonlyArray<{ readonly kind: string; readonly streamId?: string; readonly revision?: string; readonly fields?: readonly string[] }>;
  };
}

/** Who ran an audit and when it started (the summary's run fields). */
export interface AuditRun {
  readonly runId: string;
  readonly by: string;
  readonly startedAt: string;
}

const clip = (value: unknown): string | undefined => {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > VALUE_CHARS ? `${text.slice(0, VALUE_CHARS - 1)}…` : text;
};

const divergenceOf = (d: Divergence | CorrelationDivergence | AutoResolutionDivergence): AuditDivergence => {
  const recorded = clip(d.recorded);
  const replayed = clip(d.replayed);
  return {
    streamId: d.streamId,
    revision: d.revision,
    kind: d.kind,
    ...(d.path === undefined ? {} : { path: d.path }),
    ...(recorded === undefined ? {} : { recorded }),
    ...(replayed === undefined ? {} : { replayed }),
    message: d.message.length > 1_000 ? `${d.message.slice(0, 999)}…` : d.message,
  };
};

/** The report as it is kept and shown: counts, the first divergences and drifts, values cut short. */
export function summarize(report: HistoryAuditReport, run: AuditRun, finishedAt: string): AuditSummary {
  const c = report.correlation;
  const a = report.autoResolution;
  return {
    runId: run.runId,
    verdict: report.verdict,
    startedAt: run.startedAt,
    finishedAt,
    by: run.by,
    eventsRead: report.eventsRead,
    eventsCompared: report.eventsCompared,
    streamsChecked: report.streamsChecked,
    divergentStreams: report.divergentStreams,
    divergenceCount: report.divergenceCount,
    divergences: report.divergences.slice(0, KEPT).map(divergenceOf),
    policyDrift: report.policyDrift.slice(0, KEPT).map((d) => ({ policy: d.policy, recordedHash: d.recordedHash, currentHash: d.currentHash, firstCandidateId: d.firstCandidateId, decisions: d.decisions })),
    correlation: {
      verdict: c.verdict,
      inputs: c.inputs,
      eventsCompared: c.eventsCompared,
      divergenceCount: c.divergenceCount,
      divergences: c.divergences.slice(0, KEPT).map(divergenceOf),
    },
    autoResolution: {
      verdict: a.verdict,
      eventsCompared: a.eventsCompared,
      superseded: a.superseded,
      pending: a.pending,
      divergenceCount: a.divergenceCount,
      divergences: a.divergences.slice(0, KEPT).map(divergenceOf),
    },
    integrity: {
      verdict: report.integrity.verdict,
      findingCount: report.integrity.findingCount,
      findings: report.integrity.findings.slice(0, KEPT).map((f) => ({
        kind: f.kind,
        ...(f.streamId === undefined ? {} : { streamId: f.streamId }),
        ...(f.revision === undefined ? {} : { revision: f.revision }),
        ...(f.fields === undefined ? {} : { fields: f.fields }),
      })),
    },
  };
}

/** Appends a summary to {@link AUDIT_REPORTS_STREAM}, keeping the newest {@link AUDIT_REPORTS_KEEP}. */
export async function recordAudit(store: EventStore, summary: AuditSummary): Promise<void> {
  const result = await store.append(AUDIT_REPORTS_STREAM, [{ id: eventId(`${AUDIT_REPORTED}:${summary.runId}`), type: AUDIT_REPORTED, data: summary as never, metadata: { schemaVersion: 1 } }], 'any');
  if (result.nextExpectedRevision === 0n) await store.setStreamMetadata(AUDIT_REPORTS_STREAM, { maxCount: AUDIT_REPORTS_KEEP });
}

/** The newest recorded audit summary, or undefined (none recorded, or not one this version reads). */
export async function lastAudit(store: EventReader): Promise<AuditSummary | undefined> {
  let last: RecordedEvent | undefined;
  for await (const recorded of store.readStream(AUDIT_REPORTS_STREAM, { direction: 'backwards', maxCount: 1 })) last ??= recorded;
  if (last === undefined || last.type !== AUDIT_REPORTED) return undefined;
  const data = last.data as Partial<AuditSummary>;
  return (data.verdict === 'IDENTICAL' || data.verdict === 'DIVERGENT') && typeof data.runId === 'string' ? (data as AuditSummary) : undefined;
}

