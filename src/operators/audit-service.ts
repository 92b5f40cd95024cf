import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { OpxConfig } from '../container/config.js';
import type { CorrelationDivergence } from '../correlation/correlation-audit.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.js';
import type { Authenticated } from '../principals/principals.js';
import { auditHistory, type HistoryAuditReport } from '../replay/history-audit.js';
import type { Divergence } from '../replay/replay-audit.js';
import { OpxError } from '../shared/errors.js';
import { eventId, randomEventId } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';

/**
 * The replay audit on demand in `opx serve`: one run at a time, in this process, its progress
 * readable while it runs; each finished report is recorded on {@link AUDIT_REPORTS_STREAM}
 * (the newest {@link AUDIT_REPORTS_KEEP}), so the last verdict survives a restart and any reader
 * of the store (`opx status`, another serve) can show it without replaying.
 */
export const AUDIT_REPORTS_STREAM = 'opx-audit-reports';
export const AUDIT_REPORT_RECORDED = 'ReplayAuditRecorded';
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
}

export interface AuditRunView {
  readonly runId: string;
  readonly state: 'running' | 'done' | 'failed';
  readonly by: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  /** Candidate and incident events read so far (reported every 10,000). */
  readonly eventsRead: number;
  /** How many the orchestration stage will read, as far as the read models know (for a progress bar). */
  readonly expectedEvents?: number;
  readonly report?: AuditSummary;
  readonly error?: string;
}

export interface AuditServiceDeps {
  readonly config: OpxConfig;
  readonly store: EventStore;
  readonly logger: Logger;
  /** Wall clock, for the run's start and end times (observability: no decision reads them). */
  readonly now?: () => Date;
  /** The audit itself; by default {@link auditHistory} over `store`. */
  readonly audit?: (onProgress: (eventsRead: number) => void) => Promise<HistoryAuditReport>;
  /** Events the audit will read, when known (the read models count them). */
  readonly expectedEvents?: () => number | undefined;
}

export class AuditAlreadyRunning extends OpxError {
  static readonly code = 'opx.audit.running';

  constructor(readonly runId: string) {
    super(AuditAlreadyRunning.code, `a replay audit is already running (${runId}); one runs at a time`);
  }
}

export class AuditService {
  private readonly now: () => Date;
  private readonly runs = new Map<string, AuditRunView>();
  private running: { readonly runId: string; readonly done: Promise<void> } | undefined;
  private stopping = false;

  constructor(private readonly deps: AuditServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** The newest report recorded on the store (by this process or another), or undefined when none was. */
  last(): Promise<AuditSummary | undefined> {
    return lastAuditReport(this.deps.store);
  }

  /** The run in progress, if any. */
  current(): AuditRunView | undefined {
    return this.running === undefined ? undefined : this.runs.get(this.running.runId);
  }

  run(runId: string): AuditRunView | undefined {
    return this.runs.get(runId);
  }

  /** Starts a run for `by`; refused with {@link AuditAlreadyRunning} while one runs. */
  start(by: string): AuditRunView {
    if (this.stopping) throw new Error('the audit service is stopping');
    if (this.running !== undefined) throw new AuditAlreadyRunning(this.running.runId);
    const runId = `audit-${randomEventId()}`;
    const expectedEvents = this.deps.expectedEvents?.();
    const view: AuditRunView = { runId, state: 'running', by, startedAt: this.now().toISOString(), eventsRead: 0, ...(expectedEvents === undefined ? {} : { expectedEvents }) };
    this.runs.set(runId, view);
    // Keep the views of the last few runs only.
    for (const id of this.runs.keys()) if (this.runs.size > 20 && id !== runId) this.runs.delete(id);
    this.running = { runId, done: this.execute(view) };
    return view;
  }

  /** Stops taking runs and ends the one in progress at its next progress report (every 10,000 events); resolves once it has. */
  async stop(): Promise<void> {
    this.stopping = true;
    while (this.running !== undefined) await this.running.done;
  }

  private async execute(started: AuditRunView): Promise<void> {
    const update = (change: Partial<AuditRunView>): void => void this.runs.set(started.runId, { ...(this.runs.get(started.runId) ?? started), ...change });
    try {
      const audit = this.deps.audit ?? ((onProgress) => auditHistory(this.deps.config, this.deps.store, { onProgress }));
      const report = await audit((eventsRead) => {
        if (this.stopping) throw new Error('stopped: opx serve is shutting down');
        update({ eventsRead });
      });
      const summary = summarize(report, started, this.now().toISOString());
      await recordAuditReport(this.deps.store, summary);
      update({ state: 'done', eventsRead: report.eventsRead, finishedAt: summary.finishedAt, report: summary });
      this.deps.logger.info({ runId: started.runId, verdict: summary.verdict, by: started.by, eventsRead: report.eventsRead }, 'replay audit finished');
    } catch (error) {
      this.deps.logger.error({ err: error, runId: started.runId }, 'replay audit failed');
      update({ state: 'failed', finishedAt: this.now().toISOString(), error: error instanceof Error ? error.message : String(error) });
    } finally {
      this.running = undefined;
    }
  }
}

const clip = (value: unknown): string | undefined => {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > VALUE_CHARS ? `${text.slice(0, VALUE_CHARS - 1)}…` : text;
};

const divergenceOf = (d: Divergence | CorrelationDivergence): AuditDivergence => {
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
export function summarize(report: HistoryAuditReport, run: Pick<AuditRunView, 'runId' | 'by' | 'startedAt'>, finishedAt: string): AuditSummary {
  const c = report.correlation;
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
  };
}

/** Appends a summary to {@link AUDIT_REPORTS_STREAM}, keeping the newest {@link AUDIT_REPORTS_KEEP}. */
export async function recordAuditReport(store: EventStore, summary: AuditSummary): Promise<void> {
  const result = await store.append(AUDIT_REPORTS_STREAM, [{ id: eventId(`${AUDIT_REPORT_RECORDED}:${summary.runId}`), type: AUDIT_REPORT_RECORDED, data: summary as never, metadata: { schemaVersion: 1 } }], 'any');
  if (result.nextExpectedRevision === 0n) await store.setStreamMetadata(AUDIT_REPORTS_STREAM, { maxCount: AUDIT_REPORTS_KEEP });
}

/** The newest recorded audit summary, or undefined (none recorded, or not one this version reads). */
export async function lastAuditReport(store: Pick<EventStore, 'readStream'>): Promise<AuditSummary | undefined> {
  let last: RecordedEvent | undefined;
  for await (const recorded of store.readStream(AUDIT_REPORTS_STREAM, { direction: 'backwards', maxCount: 1 })) last ??= recorded;
  if (last === undefined || last.type !== AUDIT_REPORT_RECORDED) return undefined;
  const data = last.data as Partial<AuditSummary>;
  return (data.verdict === 'IDENTICAL' || data.verdict === 'DIVERGENT') && typeof data.runId === 'string' ? (data as AuditSummary) : undefined;
}

/**
 * The audit's routes under the operator API (`extend`): the last verdict, a new run (202; 409
 * while one runs), a run's progress and report. Any principal the API admits may run one: it
 * reads, and only records its own report.
 */
export async function auditRoutes(api: FastifyInstance, who: (request: FastifyRequest) => Authenticated, audits: AuditService): Promise<void> {
  api.get('/audit/last', async () => ({ last: (await audits.last()) ?? null, running: audits.current() ?? null }));
  api.post('/audit/runs', async (request, reply) => {
    try {
      const run = audits.start(who(request).principal.name);
      return await reply.code(202).header('location', `/api/v1/audit/runs/${run.runId}`).send(run);
    } catch (error) {
      if (error instanceof AuditAlreadyRunning) return reply.code(409).send({ error: error.code, message: error.message, running: audits.current() ?? null });
      throw error;
    }
  });
  api.get<{ Params: { id: string } }>('/audit/runs/:id', async (request, reply) => {
    const run = audits.run(request.params.id);
    return run === undefined ? reply.code(404).send({ error: 'not_found', message: `no audit run ${request.params.id} in this process` }) : run;
  });
}
