import type { FastifyInstance } from 'fastify';
import type { Container } from 'inversify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

import { ConsoleIndex } from '../console/console-api.js';
import { OperatorConsole } from '../console/operator-console.js';
import { TOKENS } from '../container/tokens.js';
import type { LiveCorrelation } from '../correlation/correlation-runner.js';
import { CORRELATION_TOKENS } from '../correlation/module.js';
import { buildHttpApp, type HttpLimits } from '../http/http-app.js';
import { AuditService } from '../operators/audit-service.js';
import { HumanActs } from '../operators/human-acts.js';
import { operatorApi } from '../operators/operator-api.js';
import { LiveReadModels } from '../projections/live-read-models.js';
import { countParkedEvents } from '../worker/parked.js';
import type { PrincipalDirectory } from '../principals/principals.js';
import { ReceiverMetrics } from '../receiver/receiver-metrics.js';
import { receiverRoutes } from '../receiver/receiver.js';
import type { Logger } from '../shared/logger.js';
import { settlesWithin } from '../shared/time-limit.js';
import { WORKER_TOKENS } from '../worker/tokens.js';
import { CandidateWorker, type CandidateWorkerOptions } from '../worker/worker.js';

export interface ServeOptions extends HttpLimits {
  readonly port: number;
  /** Default 127.0.0.1: nothing listens beyond this machine unless told. */
  readonly host: string;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly principals: PrincipalDirectory;
  /** Accept posts without credentials (recorded as `anonymous`). */
  readonly insecure: boolean;
  /** The longest a request waits for the store to acknowledge its appends (503 beyond). Default 10 s. */
  readonly deadlineMs?: number;
  /** Run live correlation in this process (default true). */
  readonly correlation: boolean;
  /** Run the orchestrator (a worker on the persistent subscription) in this process (default true). */
  readonly orchestration: boolean;
  /** Hold time of live correlation (ms). */
  readonly correlationHoldMs?: number;
  readonly worker?: Partial<CandidateWorkerOptions>;
  /** The console's sign-in sessions: lifetime and idle limit (defaults 8 h and 1 h). */
  readonly sessions?: { readonly ttlMs?: number; readonly idleMs?: number };
}

export interface RunningServe {
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly registry: Registry;
  readonly readModels: LiveReadModels;
  close(): Promise<void>;
}

/**
 * `opx serve`: the receiver over HTTP, and, by default, live correlation and the orchestrator in
 * the same process (the single-machine deployment). With both off it is the receiver alone,
 * beside `opx worker` processes; several receivers on one store are safe (every fact is written
 * once, at `no_stream`, under an id from its identity). The container must bind the store and
 * the persistent subscriptions (an EventStoreDB store: `opx store serve`, a data dir or the real one).
 */
export async function startServe(container: Container, options: ServeOptions, logger: Logger): Promise<RunningServe> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const store = container.get(TOKENS.EventStore);
  const config = container.get(TOKENS.Config);

  let correlation: LiveCorrelation | undefined;
  if (options.correlation) {
    correlation = container.get(CORRELATION_TOKENS.Correlation).live(options.correlationHoldMs === undefined ? {} : { holdMs: options.correlationHoldMs });
    registerCorrelationMetrics(registry, correlation);
  }
  let worker: CandidateWorker | undefined;
  if (options.orchestration) {
    worker = new CandidateWorker(
      { subscriptions: container.get(WORKER_TOKENS.PersistentSubscriptions), context: container.get(TOKENS.HandlerContext), logger, metrics: registry },
      options.worker ?? {},
    );
  }

  const readModels = new LiveReadModels(store, logger.child({ component: 'read-models' }));
  const consoleIndex = new ConsoleIndex(readModels);
  const audits = new AuditService({ config, store, logger: logger.child({ component: 'audit' }), expectedEvents: () => consoleIndex.auditableEvents });
  const operatorConsole = new OperatorConsole({
    readModels,
    index: consoleIndex,
    audits,
    principals: options.principals,
    matrix: config.authorityMatrix,
    secure: options.tls !== undefined,
    logger: logger.child({ component: 'console' }),
    ...(options.sessions === undefined ? {} : { sessions: options.sessions }),
  });
  const incidents = container.get(TOKENS.IncidentManager);
  const candidates = container.get(TOKENS.CandidateStore);
  const acts = new HumanActs(store, candidates, incidents, config.authorityMatrix, container.get(TOKENS.Clock));
  const subscriptions = options.orchestration || container.isBound(WORKER_TOKENS.PersistentSubscriptions) ? container.get(WORKER_TOKENS.PersistentSubscriptions) : undefined;
  const status = async (): Promise<Record<string, unknown>> => ({
    readModels: { position: readModels.position?.toString() ?? null, eventsProjected: readModels.projected, poison: readModels.poison.slice(-20), deferred: Object.keys(readModels.current.deferred).length, incidents: Object.keys(readModels.current.incidents).length },
    ...(worker === undefined ? {} : { worker: worker.health() }),
    ...(correlation === undefined ? {} : { correlation: correlation.status }),
    ...(subscriptions === undefined ? {} : { parked: await countParkedEvents(subscriptions, {}).catch(() => null) }),
    audit: await lastAuditVerdict(audits),
  });

  const app = await buildHttpApp(
    {
      ...options,
      logger,
      registry,
      ready: async () => {
        const probe = await settlesWithin(store.getStreamMetadata('opx-readiness'), 2_000);
        return probe.settled;
      },
      health: () => ({
        ...(worker === undefined ? {} : { worker: worker.health() }),
        ...(correlation === undefined ? {} : { correlation: correlation.status }),
      }),
    },
    [
      // First: its CSRF guard runs before every route registered after it.
      operatorConsole.routes,
      (instance) =>
        receiverRoutes(instance, {
          recorder: container.get(CORRELATION_TOKENS.SignalRecorder),
          sources: config.sources,
          principals: options.principals,
          insecure: options.insecure,
          metrics: new ReceiverMetrics(registry),
          logger: logger.child({ component: 'receiver' }),
          deadlineMs: options.deadlineMs ?? 10_000,
        }),
      (instance) =>
        operatorApi(instance, {
          acts,
          explain: { reader: store, candidates, incidents, attempts: container.get(TOKENS.OrchestrationStore), policies: config.policies, matrix: config.authorityMatrix },
          readModels,
          principals: options.principals,
          matrix: config.authorityMatrix,
          logger: logger.child({ component: 'operator-api' }),
          status,
          authenticate: operatorConsole.authenticate,
          extend: operatorConsole.extend,
          ...(subscriptions === undefined ? {} : { parked: { subscriptions, store, clock: container.get(TOKENS.Clock) } }),
        }),
    ],
  );
  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const urlHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  readModels.start();
  correlation?.start();
  worker?.start();

  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://${urlHost}:${port}`,
    port,
    app,
    registry,
    readModels,
    close: () =>
      (closing ??= (async () => {
        await app.close(); // stops taking requests; those in flight finish (their appends acknowledged) first
        await audits.stop();
        await worker?.stop();
        await correlation?.stop();
        await readModels.stop();
        await container.get(TOKENS.OrchestrationStore).flush(); // the attempt log is written behind orchestration
      })()),
  };
}

/** The last replay audit's verdict for status: recorded on the store, so it outlives this process. */
async function lastAuditVerdict(audits: AuditService): Promise<Record<string, unknown> | null> {
  const running = audits.current();
  const last = await audits.last().catch(() => undefined);
  if (last === undefined && running === undefined) return null;
  return {
    ...(last === undefined ? {} : { verdict: last.verdict, finishedAt: last.finishedAt, runId: last.runId, by: last.by, divergenceCount: last.divergenceCount + last.correlation.divergenceCount, policyDrift: last.policyDrift.length }),
    ...(running === undefined ? {} : { running: { runId: running.runId, eventsRead: running.eventsRead } }),
  };
}

/** The correlation's counts as gauges read on each scrape: inputs, late, taken by no rule, candidates opened, unreadable. */
function registerCorrelationMetrics(registry: Registry, correlation: LiveCorrelation): void {
  new Gauge({
    name: 'opx_correlation_inputs',
    help: 'Signal facts and incident closes taken in by this process since it started, by kind: all, late (after correlation moved past their time), uncorrelated (no rule takes them), poison (unreadable), candidates opened.',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      const stats = correlation.status.stats;
      if (stats === undefined) return;
      this.set({ kind: 'all' }, stats.inputs);
      this.set({ kind: 'late' }, stats.late);
      this.set({ kind: 'uncorrelated' }, stats.uncorrelated);
      this.set({ kind: 'poison' }, stats.poison);
      this.set({ kind: 'candidates_opened' }, stats.candidatesOpened);
    },
  });
  new Gauge({
    name: 'opx_correlation_held',
    help: 'Inputs held for stragglers, waiting for the watermark or a tick.',
    registers: [registry],
    collect() {
      this.set(correlation.status.held);
    },
  });
}
