import { resolve } from 'node:path';

import { Command } from 'commander';

import type { CliContext } from '../context.js';
import { CliUsageError, EXIT, type ExitCode } from '../exit-codes.js';
import { sealHistory } from '../../integrity/sealer.js';
import { createDataDir, lockDataDir, openStore, selectStore } from '../store-selection.js';
import type { Action } from './action.js';

interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly acceptDataLoss?: boolean;
}

export function storeCommand(action: Action): Command {
  const store = new Command('store').description('the event store');
  store
    .command('serve')
    .summary('run the embedded EventStoreDB-protocol server in the foreground')
    .description(
      'run the embedded EventStoreDB-protocol server in the foreground until SIGINT/SIGTERM: over a data dir ' +
        '(--data DIR, SQLite; default ./.opx-data) or in memory (--memory). Other `opx` commands (and the official ' +
        'client) talk to it with --connection esdb://HOST:PORT?tls=false.',
    )
    .option('--port <port>', 'TCP port (0 = any free port)', (v) => port(v), 2113)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--accept-data-loss', 'start over a data dir that lost events it had acknowledged (its WAL lost or cut short), accepting the loss')
    .action(action<ServeOptions>(async (ctx, _args, o) => serveStore(ctx, o)));
  store
    .command('verify')
    .summary('check every record of a data dir: checksums, continuity, acknowledged events')
    .description(
      'read every record of a data dir (read-only; stop the server first) and check its checksum, that positions follow ' +
        'each other, SQLite\'s integrity check, and that no acknowledged event is missing. Exit 0 when all is well, 1 when not.',
    )
    .argument('<dir>', 'the data dir')
    .action(action<Record<string, never>>(async (ctx, args) => verifyStore(ctx, String(args[0]))));
  store
    .command('init')
    .summary('create an embedded store in DIR (private to you), its integrity chain started')
    .description(
      'create the data dir DIR (mode 0700) with an empty embedded store (its files 0600) and start its integrity chain, ' +
        'so every event it will hold is sealed from the first. A dir that holds a store already is left as it is. ' +
        'Other commands then use it with --data DIR (which they never create by themselves without --create).',
    )
    .argument('<dir>')
    .action(action(async (ctx, [dir]) => initStore(ctx, dir as string)));
  return store;
}

async function initStore(ctx: CliContext, dir: string): Promise<ExitCode> {
  const { data, memory, connection } = ctx.options;
  if (data !== undefined || memory === true || connection !== undefined) throw new CliUsageError('store init takes the data dir as its argument: opx store init DIR (no --data, --memory or --connection)');
  const created = createDataDir(dir);
  const opened = await openStore({ kind: 'data', dir, explicit: true, create: false }, 'opx store init');
  let sealed;
  try {
    sealed = await sealHistory(opened.store);
  } finally {
    await opened.close();
  }
  ctx.output.result({ dataDir: resolve(dir), created, chainStarted: sealed.chainStarted, head: sealed.head }, () => [
    created ? `created an embedded store in ${resolve(dir)}` : `${resolve(dir)} holds a store already: left as it is`,
    sealed.chainStarted ? '  integrity chain started' : `  integrity chain: ${sealed.eventsSealed} events sealed now, head ${sealed.head}`,
    `  use it with: opx --data ${dir} <command>`,
  ]);
  return EXIT.OK;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliUsageError(`--port must be 0..65535, got '${value}'`);
  return n;
}

async function serveStore(ctx: CliContext, o: ServeOptions): Promise<ExitCode> {
  const { data, memory, connection } = ctx.options;
  if (connection !== undefined) throw new CliUsageError('store serve serves a local store: use --data DIR or --memory, not --connection');
  if (data !== undefined && memory === true) throw new CliUsageError('choose one: --data DIR or --memory');
  // A local store, whatever OPX_EVENTSTORE says: the default data dir is made when missing, a named one needs --create.
  const selection = memory === true ? undefined : selectStore({ ...(data === undefined ? {} : { data }), ...(ctx.options.create === true ? { create: true } : {}) }, {}, { createDefault: true });
  const dataDir = selection?.kind === 'data' ? selection.dir : undefined;
  const release = selection?.kind === 'data' ? lockDataDir(selection, `opx store serve (port ${o.port})`) : () => undefined;
  try {
    const stopped = waitForSignal();
    // The embedded server's own entry point; its `listening` JSON line is kept for --json.
    const { serve } = await import('../../esdb-server/main.js'); // the server only for the command that serves
    const server = await serve(
      { port: o.port, host: o.host, ...(dataDir === undefined ? { memory: true } : { data: dataDir }), ...(o.acceptDataLoss === true ? { acceptDataLoss: true } : {}) },
      () => undefined,
    );
    const { connectionString } = server;
    const close = (): Promise<void> => server.close();
    const where = dataDir === undefined ? 'in memory (lost on exit)' : `data dir ${resolve(dataDir)}`;
    ctx.output.result({ event: 'listening', port: server.port, connectionString, dataDir: dataDir === undefined ? null : resolve(dataDir), pid: process.pid }, () => [
      `opx store serving ${where}`,
      `  ${connectionString}`,
      `  e.g. opx --connection '${connectionString}' incidents list`,
      'Ctrl-C to stop',
    ]);
    const signal = await stopped;
    await close();
    ctx.output.note(`opx store stopped (${signal})`);
    return EXIT.OK;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' || /EADDRINUSE|address already in use|No address added/i.test(String((error as Error).message))) {
      throw new CliUsageError(`port ${o.port} on ${o.host} is already in use: choose another with --port`);
    }
    throw error;
  } finally {
    release();
  }
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

async function verifyStore(ctx: CliContext, dir: string): Promise<ExitCode> {
  const { verifyDataDir } = await import('../../esdb-server/storage/verify.js');
  const release = lockDataDir({ dir, explicit: true, create: false }, 'opx store verify');
  let report: Awaited<ReturnType<typeof verifyDataDir>>;
  try {
    report = verifyDataDir(dir);
  } catch (error) {
    throw new CliUsageError(`cannot verify ${resolve(dir)}: ${(error as Error).message}`);
  } finally {
    release();
  }
  ctx.output.result(report, () => [
    `${resolve(dir)}: ${report.records} records, last position ${report.lastPosition}, acknowledged ${report.acknowledged ?? 'unknown'}`,
    ...report.integrity.map((line) => `  SQLite integrity: ${line}`),
    ...report.corrupt.map((c) => `  position ${c.position}: ${c.detail}`),
    ...(report.missingPositions > 0 ? [`  ${report.missingPositions} positions missing`] : []),
    ...(report.acknowledged !== undefined && report.acknowledged > report.lastPosition
      ? [`  ${report.acknowledged - report.lastPosition} acknowledged events missing (positions ${report.lastPosition + 1}..${report.acknowledged})`]
      : []),
    report.ok ? 'OK' : 'DAMAGED',
  ]);
  return report.ok ? EXIT.OK : EXIT.REFUSED;
}
