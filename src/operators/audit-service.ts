import { randomUUID } from 'node:crypto';

import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { OpxConfig } from '../container/config.js';
import type { EventStore } from '../eventstore/event-store.js';
import type { Authenticated } from '../principals/principals.js';
import { auditHistory, type HistoryAuditReport } from '../replay/history-audit.js';
import { OpxError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { lastAudit, recordAudit, summarize, type AuditSummary } from './audit-record.js';

/**
 * The replay audit on demand in `opx serve`: one run at a time, in this process, its progress
 * readable while it runs; each finished report is recorded (see audit-record.ts), so the last
 * verdict survives a restart and any reader of the store (`opx status`, another serve) shows it.
 */
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
    return lastAudit(this.deps.store);
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
    const runId = `audit-${randomUUID()}`;
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
      await recordAudit(this.deps.store, summary);
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
