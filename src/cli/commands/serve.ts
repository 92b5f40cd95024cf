import { readFileSync } from 'node:fs';

import { Command } from 'commander';
import { ContainerModule } from 'inversify';
import { pino } from 'pino';

import { createOpxContainer } from '../../container/modules.js';
import { TOKENS } from '../../container/tokens.js';
import { HistorySealer } from '../../integrity/sealer.js';
import type { EventStore, PersistentSubscriptions } from '../../eventstore/event-store.js';
import { PrincipalDirectory } from '../../principals/principals.js';
import { guardPolicies } from '../../promotion/policy-record.js';
import type { Logger } from '../../shared/logger.js';
import { WORKER_TOKENS } from '../../worker/tokens.js';
import type { CliContext } from '../context.js';
import { CliUsageError, EXIT, type ExitCode } from '../exit-codes.js';
import { openStore, selectStore, type OpenedStore } from '../store-selection.js';
import type { Action } from './action.js';

export const INGEST_TOKEN_ENV = 'OPX_INGEST_TOKEN';
export const PRINCIPALS_ENV = 'OPX_PRINCIPALS';

interface ServeFlags {
  readonly port: number;
  readonly host: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly principals?: string;
  readonly insecure?: boolean;
  readonly receiverOnly?: boolean;
  readonly correlation: boolean;
  /** Seal history into the integrity chain as it is recorded (`--no-seal`: another process does). */
  readonly seal: boolean;
  readonly orchestration: boolean;
  readonly maxBodyBytes: number;
  readonly requestTimeoutMs: number;
  readonly maxInFlight: number;
  readonly deadlineMs: number;
  readonly concurrency: number;
}

const int =
  (flag: string, min: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new CliUsageError(`${flag} must be an integer of at least ${min}, got '${value}'`);
    return n;
  };

export function serveCommand(action: Action): Command {
  return new Command('serve')
    .summary('receive alerts over HTTP (Alertmanager webhook, signal JSON), correlate and orchestrate them')
    .description(
      'the receiver: POST /api/v1/alerts/alertmanager (Alertmanager webhook, version 4) and POST /api/v1/signals (signal ' +
        'JSON, an array or NDJSON), authenticated (bearer token or basic auth of a principal with the ingest role: env ' +
        `${INGEST_TOKEN_ENV}, or --principals FILE made with \`opx principals add\`), answered 200 only once every accepted ` +
        'input is durably appended; /healthz, /readyz, /metrics. By default the same process correlates and orchestrates ' +
        '(the single-machine deployment); --receiver-only runs the receiver alone beside `opx worker` processes. Listens on ' +
        '127.0.0.1 unless --host says otherwise; --tls-cert/--tls-key for HTTPS. Runs until SIGTERM/SIGINT.',
    )
    .option('--port <port>', 'TCP port (0 = any free port)', int('--port', 0), 9095)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--principals <file>', `principals allowed to post (env ${PRINCIPALS_ENV}); made with \`opx principals add\``)
    .option('--insecure', 'accept posts without credentials (recorded as anonymous): for a throwaway local try only')
    .option('--receiver-only', 'receive only: no correlation or orchestration in this process')
    .option('--no-correlation', 'do not run live correlation in this process')
    .option('--no-orchestration', 'do not run the orchestrator in this process')
    .option('--no-seal', 'do not seal history into the integrity chain in this process (another process does)')
    .option('--max-body-bytes <n>', 'largest request body (413 beyond)', int('--max-body-bytes', 1024), 8 * 1024 * 1024)
    .option('--request-timeout-ms <ms>', 'the longest a request may take to arrive whole', int('--request-timeout-ms', 100), 30_000)
    .option('--max-in-flight <n>', 'requests handled at once (503 with Retry-After beyond)', int('--max-in-flight', 1), 64)
    .option('--deadline-ms <ms>', 'the longest a request waits for the store to acknowledge (503 beyond, the sender retries)', int('--deadline-ms', 100), 10_000)
    .option('--concurrency <n>', "the orchestrator's events handled at once", int('--concurrency', 1), 16)
    .action(action<ServeFlags>(async (ctx, _args, o) => serve(ctx, o)));
}

async function serve(ctx: CliContext, flags: ServeFlags): Promise<ExitCode> {
  const principals = principalsFor(flags);
  const tls = tlsFor(flags);
  if (!isLoopback(flags.host) && tls === undefined) {
    ctx.output.note(`opx serve: WARNING: listening on ${flags.host} without TLS: tokens and alerts cross the network in clear text (give --tls-cert/--tls-key)`);
  }
  const logger = pino({ level: process.env['OPX_LOG_LEVEL'] ?? 'info', base: { service: 'opx-serve', pid: process.pid } }) as unknown as Logger;
  const opened = await openServeStore(ctx);
  try {
    const store = opened.store as EventStore & PersistentSubscriptions;
    const container = createOpxContainer({
      config: ctx.config,
      storeModule: new ContainerModule(({ bind }) => {
        bind(TOKENS.EventStore).toConstantValue(store);
        bind(WORKER_TOKENS.PersistentSubscriptions).toConstantValue(store);
      }),
    });
    container.rebind(TOKENS.Logger).toConstantValue(logger);
    // a policy changed under its version refuses the start before anything decides (orchestration only decides)
    if (flags.receiverOnly !== true && flags.orchestration) await guardPolicies(store, ctx.config);
    const { startServe } = await import('../../serve/serve.js'); // the HTTP stack only for the command that serves
    const stopped = waitForSignal();
    const running = await startServe(
      container,
      {
        port: flags.port,
        host: flags.host,
        ...(tls === undefined ? {} : { tls }),
        principals,
        insecure: flags.insecure === true,
        correlation: flags.receiverOnly !== true && flags.correlation,
        orchestration: flags.receiverOnly !== true && flags.orchestration,
        bodyLimit: flags.maxBodyBytes,
        requestTimeoutMs: flags.requestTimeoutMs,
        maxInFlight: flags.maxInFlight,
        deadlineMs: flags.deadlineMs,
        worker: { concurrency: flags.concurrency },
      },
      logger,
    );
    const sealer = flags.seal ? new HistorySealer(store, { logger }) : undefined;
    sealer?.start();
    ctx.output.result(
      { event: 'listening', url: running.url, port: running.port, store: opened.description, correlation: flags.receiverOnly !== true && flags.correlation, orchestration: flags.receiverOnly !== true && flags.orchestration, pid: process.pid },
      () => [
        `opx serve on ${running.url} (${opened.description})`,
        `  operator console      ${running.url}/ (sign in with a token of a principal with a human role)`,
        `  Alertmanager webhook  ${running.url}/api/v1/alerts/alertmanager`,
        `  signals               ${running.url}/api/v1/signals`,
        `  health, readiness     ${running.url}/healthz ${running.url}/readyz; metrics ${running.url}/metrics`,
        'Ctrl-C to stop',
      ],
    );
    const signal = await stopped;
    await running.close();
    await sealer?.stop(); // seals what it has received
    ctx.output.note(`opx serve stopped (${signal})`);
    return EXIT.OK;
  } catch (error) {
    if (/EADDRINUSE/.test(String((error as Error).message))) throw new CliUsageError(`port ${flags.port} on ${flags.host} is already in use: choose another with --port`);
    throw error;
  } finally {
    await opened.close();
  }
}

/** Who may post: the principals file, plus the env token as principal `ingest`; none without --insecure is refused. */
function principalsFor(flags: ServeFlags): PrincipalDirectory {
  const file = flags.principals ?? process.env[PRINCIPALS_ENV];
  let principals = file === undefined || file === '' ? PrincipalDirectory.empty() : PrincipalDirectory.fromFile(file);
  const token = process.env[INGEST_TOKEN_ENV];
  if (token !== undefined && token !== '') {
    if (token.length < 16) throw new CliUsageError(`${INGEST_TOKEN_ENV} is too short to be a secret (at least 16 characters; \`opx principals add\` makes one)`);
    principals = principals.with('ingest', ['ingest'], token);
  }
  if (principals.size === 0 && flags.insecure !== true) {
    throw new CliUsageError(
      `no credentials: set ${INGEST_TOKEN_ENV}, or give --principals FILE (made with \`opx principals add NAME --role ingest --file FILE\`), or pass --insecure to accept posts from anyone who can reach the port`,
    );
  }
  return principals;
}

function tlsFor(flags: ServeFlags): { cert: Buffer; key: Buffer } | undefined {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) return undefined;
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new CliUsageError('--tls-cert and --tls-key go together');
  const read = (path: string, flag: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new CliUsageError(`${flag} ${path}: ${(error as Error).message}`);
    }
  };
  return { cert: read(flags.tlsCert, '--tls-cert'), key: read(flags.tlsKey, '--tls-key') };
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || host.startsWith('127.');

/** The store serve runs on: EventStoreDB semantics with persistent subscriptions (an in-memory one is served by the embedded server). */
async function openServeStore(ctx: CliContext): Promise<OpenedStore> {
  const selection = selectStore(ctx.options);
  if (selection.kind !== 'memory') return openStore(selection, 'opx serve');
  const { startServerThread } = await import('../../esdb-server/server-thread.js');
  const server = await startServerThread(); // in a thread of its own, credentials made for this process (see openStore)
  const { EsdbEventStore } = await import('../../eventstore/esdb/esdb-event-store.js');
  const store = EsdbEventStore.fromEndpoint(server.endpoint);
  return {
    store,
    description: 'throwaway in-memory store',
    close: async () => {
      await store.close().catch(() => undefined);
      await server.close();
    },
  };
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((done) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      done(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
