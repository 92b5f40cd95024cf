#!/usr/bin/env node
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';

import { esdbEventStoreModule } from '../container/esdb-module.js';
import { createOpxContainer } from '../container/modules.js';
import { TOKENS } from '../container/tokens.js';
import { CORRELATION_TOKENS } from '../correlation/module.js';
import { HistorySealer } from '../integrity/sealer.js';
import { PolicyChanged } from '../promotion/policy-lock.js';
import { guardPolicies } from '../promotion/policy-record.js';
import { OpxError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { countParkedEvents } from './parked.js';
import { DEFAULT_OPS_HOST, startOpsServer, type OpsServer } from './http.js';
import { workerModule } from './module.js';
import { WORKER_TOKENS } from './tokens.js';
import { DEFAULT_GROUP, DEFAULT_GROUP_SETTINGS, DEFAULT_WORKER_OPTIONS, type CandidateWorkerOptions } from './worker.js';

export const USAGE = `usage: node dist/src/worker/main.js --connection esdb://USER:PASSWORD@host:2113?tls=true&tlsCAFile=CA
  [--group ${DEFAULT_GROUP}] [--concurrency ${DEFAULT_WORKER_OPTIONS.concurrency}] [--http-port 9464 (0 = none)] [--http-host 127.0.0.1]
  [--max-retry-count ${DEFAULT_GROUP_SETTINGS.maxRetryCount}] [--message-timeout-ms ${DEFAULT_GROUP_SETTINGS.messageTimeoutMs}]
  [--no-correlation (leave signals -> candidates to another process)] [--no-seal (another process seals history)]
  (the connection string may also come from OPX_EVENTSTORE; logs: JSON on stdout, level OPX_LOG_LEVEL, default info)`;

export interface WorkerCommand {
  readonly connection: string;
  readonly httpPort: number;
  readonly httpHost: string;
  /** Run live correlation (signals -> candidates) beside the orchestrator; default true. */
  readonly correlation: boolean;
  /** Seal history into the integrity chain as it is recorded; default true (several sealers at once are safe). */
  readonly seal: boolean;
  readonly worker: Partial<CandidateWorkerOptions>;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const positiveInt = (name: string, value: string | undefined, fallback: number, min = 1): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
};

export function parseWorkerArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): WorkerCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        connection: { type: 'string' },
        group: { type: 'string' },
        concurrency: { type: 'string' },
        'http-port': { type: 'string' },
        'http-host': { type: 'string' },
        'max-retry-count': { type: 'string' },
        'message-timeout-ms': { type: 'string' },
        'no-correlation': { type: 'boolean' },
        'no-seal': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) throw new UsageError('');
  const connection = values.connection ?? env['OPX_EVENTSTORE'];
  if (connection === undefined || connection === '') throw new UsageError('--connection (or OPX_EVENTSTORE) is required');
  return {
    connection,
    httpPort: positiveInt('http-port', values['http-port'], 9464, 0),
    httpHost: values['http-host'] ?? DEFAULT_OPS_HOST,
    correlation: values['no-correlation'] !== true,
    seal: values['no-seal'] !== true,
    worker: {
      group: values.group ?? DEFAULT_GROUP,
      concurrency: positiveInt('concurrency', values.concurrency, DEFAULT_WORKER_OPTIONS.concurrency),
      settings: {
        ...DEFAULT_GROUP_SETTINGS,
        maxRetryCount: positiveInt('max-retry-count', values['max-retry-count'], DEFAULT_GROUP_SETTINGS.maxRetryCount, 0),
        messageTimeoutMs: positiveInt('message-timeout-ms', values['message-timeout-ms'], DEFAULT_GROUP_SETTINGS.messageTimeoutMs),
      },
    },
  };
}

/**
 * The standalone worker: container, worker, /metrics + /healthz, signal handling. Resolves with the
 * exit code once it has shut down (0 after a graceful SIGTERM/SIGINT, 2 on a usage error).
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  let command: WorkerCommand;
  try {
    command = parseWorkerArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const help = error.message === '';
    (help ? process.stdout : process.stderr).write(`${help ? '' : `${error.message}\n`}${USAGE}\n`);
    return help ? 0 : 2;
  }
  const logger = pino({ level: process.env['OPX_LOG_LEVEL'] ?? 'info', base: { service: 'opx-worker', pid: process.pid } }) as unknown as Logger;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const container = createOpxContainer({ storeModule: esdbEventStoreModule(command.connection) });
  container.rebind(TOKENS.Logger).toConstantValue(logger);
  container.load(workerModule({ worker: command.worker, registry }));
  // The policy lock before anything that decides is made: a policy changed under its version refuses the start.
  try {
    logger.info({ policies: await guardPolicies(container.get(TOKENS.EventStore), container.get(TOKENS.Config)) }, 'policies match their lock and history');
  } catch (error) {
    if (!OpxError.hasCode(error, PolicyChanged.code)) throw error;
    logger.error({ err: error }, 'refusing to start: a policy changed under its version');
    process.stderr.write(`opx worker: ${(error as Error).message}\n`);
    await container.get(TOKENS.EventStore).close();
    return 1;
  }
  const worker = container.get(WORKER_TOKENS.CandidateWorker);
  const subscriptions = container.get(WORKER_TOKENS.PersistentSubscriptions);
  worker.metrics.addParkedGauge(() => countParkedEvents(subscriptions, { group: worker.options.group, target: worker.options.target }));

  let ops: OpsServer | undefined;
  if (command.httpPort > 0) ops = await startOpsServer({ port: command.httpPort, host: command.httpHost, registry, health: () => worker.health() });

  // made before the signal handlers that stop it (a signal may come before it starts)
  const sealer = command.seal ? new HistorySealer(container.get(TOKENS.EventStore), { logger }) : undefined;
  let stopping = false;
  let stopped: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (stopped = resolve));
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void (async () => {
      await worker.stop();
      await correlation?.stop();
      await sealer?.stop(); // seals what it has received
      await ops?.close();
      await container.get(TOKENS.OrchestrationStore).flush(); // the attempt log writes behind orchestration
      await container.get(TOKENS.EventStore).close();
      logger.info({}, 'shut down');
      stopped(0);
    })().catch((error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      stopped(1);
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  const correlation = command.correlation ? container.get(CORRELATION_TOKENS.Correlation).live() : undefined;
  correlation?.start();
  sealer?.start();
  worker.start();
  logger.info(
    { group: worker.options.group, concurrency: worker.options.concurrency, httpPort: ops?.port ?? null, settings: worker.options.settings, correlation: command.correlation, seal: command.seal },
    'worker started',
  );
  return done;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
