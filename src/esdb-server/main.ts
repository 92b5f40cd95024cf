import { pathToFileURL } from 'node:url';
import { jsonLinesLog } from './log.js';
import { startEmbeddedServer, type EmbeddedServer } from './server.js';

/**
 * Process entry of the embedded EventStoreDB-compatible server:
 *   node dist/src/esdb-server/main.js --port 2113 (--data DIR | --memory)
 * Prints one JSON line `{"event":"listening","port":N,"connectionString":"..."}` when ready and
 * closes gracefully (checkpoints flushed, SQLite closed) on SIGTERM/SIGINT.
 */
export interface ServeOptions {
  readonly port?: number;
  readonly host?: string;
  /** SQLite data directory; omitted (or `memory: true`) = in-memory. */
  readonly data?: string;
  readonly memory?: boolean;
  /** Start over a data dir that lost acknowledged events (see SqliteEngine's acceptDataLoss). */
  readonly acceptDataLoss?: boolean;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\nusage: --port <n> [--host <addr>] (--data <dir> [--accept-data-loss] | --memory)`);
    this.name = 'UsageError';
  }
}

/** Whether a listen address is reachable from this machine only. */
export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** Minimal, self-contained parsing of `--port N --host H --data DIR --memory` (also `--x=v`). */
export const parseServeArgs = (argv: readonly string[]): ServeOptions => {
  const options: { port?: number; host?: string; data?: string; memory?: boolean; acceptDataLoss?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port': {
        const port = Number(value());
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0..65535');
        options.port = port;
        break;
      }
      case '--host':
        options.host = value();
        break;
      case '--data':
        options.data = value();
        break;
      case '--memory':
        options.memory = true;
        break;
      case '--accept-data-loss':
        options.acceptDataLoss = true;
        break;
      default:
        throw new UsageError(`unknown argument '${arg}'`);
    }
  }
  if (options.memory === true && options.data !== undefined) throw new UsageError('--data and --memory exclude each other');
  return options;
};

/**
 * Starts the server from argv-like options or parsed options; resolves once it is listening,
 * with the server (the caller may close it; signals close it too).
 */
export async function serve(
  args: readonly string[] | ServeOptions,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<EmbeddedServer> {
  const options = Array.isArray(args) ? parseServeArgs(args as readonly string[]) : (args as ServeOptions);
  const log = jsonLinesLog();
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    // the server has neither TLS nor authentication: on any other interface it is open to everyone who can reach it
    log.warn(
      `listening on ${host}, not loopback, with no TLS and no authentication: anyone who can reach this port can read, write, delete and tombstone every stream`,
      { host },
    );
  }
  const server = await startEmbeddedServer({
    port: options.port ?? 2113,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.memory === true || options.data === undefined ? {} : { dataDir: options.data }),
    log,
    ...(options.acceptDataLoss === true ? { acceptDataLoss: true } : {}),
  });
  const shutdown = (): void => {
    process.off('SIGTERM', shutdown);
    process.off('SIGINT', shutdown);
    void server.close().then(() => out(JSON.stringify({ event: 'closed' })));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  out(JSON.stringify({ event: 'listening', port: server.port, connectionString: server.connectionString }));
  return server;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  serve(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
