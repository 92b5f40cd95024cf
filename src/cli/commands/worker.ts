import { Command } from 'commander';

import type { CliContext } from '../context.js';
import { CliUsageError, EXIT, type ExitCode } from '../exit-codes.js';
import { selectStore } from '../store-selection.js';
import type { Action } from './action.js';

interface WorkerOptions {
  readonly group?: string;
  readonly concurrency?: string;
  readonly httpPort?: string;
  readonly httpHost?: string;
  readonly maxRetryCount?: string;
  readonly messageTimeoutMs?: string;
  readonly correlation?: boolean;
}

/**
 * `opx worker`: the production runtime (src/worker) in the foreground, on a persistent-subscription
 * group of EventStoreDB (or `opx store serve`). It runs until SIGTERM/SIGINT, then drains in-flight
 * events, acks them and exits 0.
 */
export function workerCommand(action: Action): Command {
  return new Command('worker')
    .summary('run the orchestrator on a persistent subscription until SIGTERM/SIGINT')
    .description(
      'correlate recorded signals into candidates as they arrive (live correlation; --no-correlation to leave it to ' +
        'another process), and join the persistent-subscription group on candidate streams to orchestrate every CandidateCreated and ' +
        'ManualPromotionRequested (ack on success, nack-retry on failure, parked after --max-retry-count). Needs a ' +
        'server: --connection URL (or OPX_EVENTSTORE), e.g. to `opx store serve`. Logs JSON on stdout (OPX_LOG_LEVEL); ' +
        '/metrics and /healthz on --http-port.',
    )
    .option('--group <name>', 'persistent-subscription group', 'opx-orchestrator')
    .option('--concurrency <n>', 'events handled at once across candidates', '16')
    .option('--http-port <port>', '/metrics and /healthz port (0 = none)', '9464')
    .option('--http-host <host>', 'interface for /metrics and /healthz (default 127.0.0.1)')
    .option('--max-retry-count <n>', 'deliveries before an event is parked', '5')
    .option('--message-timeout-ms <ms>', 'redelivery after this long without ack', '30000')
    .option('--no-correlation', 'do not run live correlation (signals -> candidates) in this process')
    .action(action<WorkerOptions>(async (ctx, _args, o) => startWorker(ctx, o)));
}

async function startWorker(ctx: CliContext, o: WorkerOptions): Promise<ExitCode> {
  const selection = selectStore(ctx.options);
  if (selection.kind !== 'connection') {
    throw new CliUsageError('the worker needs an EventStoreDB server: pass --connection URL (or set OPX_EVENTSTORE); for a local one run `opx store serve`');
  }
  const flags: Array<[string, string | undefined]> = [
    ['--group', o.group],
    ['--concurrency', o.concurrency],
    ['--http-port', o.httpPort],
    ['--http-host', o.httpHost],
    ['--max-retry-count', o.maxRetryCount],
    ['--message-timeout-ms', o.messageTimeoutMs],
  ];
  const { main: runWorker } = await import('../../worker/main.js'); // loaded by the command that runs it
  const code = await runWorker([
    '--connection',
    selection.connectionString,
    ...flags.flatMap(([flag, value]) => (value === undefined ? [] : [flag, value])),
    ...(o.correlation === false ? ['--no-correlation'] : []),
  ]);
  return code === 0 ? EXIT.OK : code === 2 ? EXIT.USAGE : EXIT.REFUSED;
}
