import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveSecurity, type ServedSecurity } from './auth/server-security.js';
import { jsonLinesLog } from './log.js';
import { startEmbeddedServer, type EmbeddedServer } from './server.js';

/**
 * Process entry of the embedded EventStoreDB-compatible server:
 *   node dist/src/esdb-server/main.js --port 2113 (--data DIR | --memory)
 *     (--tls-cert FILE --tls-key FILE [--tls-ca FILE] [--admin-password-file FILE] | --insecure)
 * Secure unless `--insecure`, like EventStoreDB: TLS and users (see auth/server-security.ts).
 * Prints one JSON line `{"event":"listening","port":N,"connectionString":"..."}` when ready (with
 * `initialAdmin` the one time a password is generated) and closes gracefully (checkpoints flushed,
 * SQLite closed) on SIGTERM/SIGINT.
 */
export interface ServeOptions {
  readonly port?: number;
  readonly host?: string;
  /** SQLite data directory; omitted (or `memory: true`) = in-memory. */
  readonly data?: string;
  readonly memory?: boolean;
  /** Start over a data dir that lost acknowledged events (see SqliteEngine's acceptDataLoss). */
  readonly acceptDataLoss?: boolean;
  /** Plaintext, no authentication (EventStoreDB's --insecure). */
  readonly insecure?: boolean;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  /** The CA of `tlsCertFile`, named in the printed connection string (`tlsCAFile=`) for clients. */
  readonly tlsCaFile?: string;
  /** The initial admin's password, on a first start (else env OPX_ADMIN_PASSWORD, else generated). */
  readonly adminPasswordFile?: string;
}

/** A served store: the server and what its start decided about security. */
export interface ServedStore extends EmbeddedServer {
  readonly security: ServedSecurity;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(
      `${message}\nusage: --port <n> [--host <addr>] (--data <dir> [--accept-data-loss] | --memory) ` +
        '(--tls-cert <file> --tls-key <file> [--tls-ca <file>] [--admin-password-file <file>] | --insecure)',
    );
    this.name = 'UsageError';
  }
}

/** Whether a listen address is reachable from this machine only. */
export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** Minimal, self-contained parsing of `--port N --host H --data DIR --memory` (also `--x=v`). */
export const parseServeArgs = (argv: readonly string[]): ServeOptions => {
  const options: { -readonly [K in keyof ServeOptions]: ServeOptions[K] } = {};
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
      case '--insecure':
        options.insecure = true;
        break;
      case '--tls-cert':
        options.tlsCertFile = value();
        break;
      case '--tls-key':
        options.tlsKeyFile = value();
        break;
      case '--tls-ca':
        options.tlsCaFile = value();
        break;
      case '--admin-password-file':
        options.adminPasswordFile = value();
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
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServedStore> {
  const options = Array.isArray(args) ? parseServeArgs(args as readonly string[]) : (args as ServeOptions);
  const log = jsonLinesLog();
  const host = options.host ?? '127.0.0.1';
  const dataDir = options.memory === true ? undefined : options.data;
  const where = `${host}:${options.port ?? 2113}`;
  // wall-clock time at an edge: a certificate that expired is refused before a client meets it
  const security = resolveSecurity(options, { ...(dataDir === undefined ? {} : { dataDir }), where, env, now: new Date() });
  if (security.mode === 'insecure') {
    log.warn(security.warning, { host, insecure: true, off: ['TLS', 'authentication', 'ACLs'] });
    if (!isLoopback(host)) log.warn(`listening on ${host}, not loopback, with no TLS and no authentication: anyone who can reach this port can read, write, delete and tombstone every stream`, { host });
  } else {
    for (const warning of security.warnings) log.warn(warning);
  }
  const server = await startEmbeddedServer({
    port: options.port ?? 2113,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(dataDir === undefined ? {} : { dataDir }),
    log,
    ...(options.acceptDataLoss === true ? { acceptDataLoss: true } : {}),
    ...(security.mode === 'insecure' ? { insecure: true } : { tls: { cert: security.tls.cert, key: security.tls.key }, users: security.users }),
  });
  const shutdown = (): void => {
    process.off('SIGTERM', shutdown);
    process.off('SIGINT', shutdown);
    const commits = server.commitStats();
    void server.close().then(() => out(JSON.stringify({ event: 'closed', commits })));
  };
  if (security.mode === 'secure') {
    try {
      security.persist();
    } catch (error) {
      await server.close();
      throw error;
    }
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  const connectionString = clientConnectionString(server, security, options.tlsCaFile);
  const generated = security.mode === 'secure' ? security.initialAdmin?.generatedPassword : undefined;
  out(
    JSON.stringify({
      event: 'listening',
      port: server.port,
      connectionString,
      ...(security.mode === 'secure' && security.initialAdmin !== undefined
        ? { initialAdmin: { username: security.initialAdmin.username, passwordFrom: security.initialAdmin.passwordFrom, ...(generated === undefined ? {} : { password: generated }) } }
        : {}),
    }),
  );
  return { ...server, connectionString, commitStats: () => server.commitStats(), close: () => server.close(), security };
}

/**
 * What a client writes to reach a served store: the server's own string, by name over TLS (the
 * certificate names `localhost`, not the address), with the CA when it is known.
 */
function clientConnectionString(server: EmbeddedServer, security: ServedSecurity, caFile: string | undefined): string {
  if (security.mode === 'insecure') return server.connectionString;
  const host = server.endpoint.host.includes(':') ? `[${server.endpoint.host}]` : server.endpoint.host;
  return `esdb://${host}:${server.port}?tls=true${caFile === undefined ? '' : `&tlsCAFile=${encodeURIComponent(resolve(caFile)).replace(/%2F/g, '/')}`}`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  serve(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
