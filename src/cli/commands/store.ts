import { resolve } from 'node:path';

import { Command } from 'commander';

import type { CliContext } from '../context.js';
import { CliUsageError, EXIT, type ExitCode } from '../exit-codes.js';
import { ADMIN_PASSWORD_ENV, SecurityConfigError } from '../../esdb-server/auth/server-security.js';
import { UserStoreError } from '../../esdb-server/auth/users.js';
import { sealHistory } from '../../integrity/sealer.js';
import { createDataDir, lockDataDir, openStore, selectStore } from '../store-selection.js';
import type { Action } from './action.js';
import { usersCommand } from './store-users.js';

interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly acceptDataLoss?: boolean;
  readonly insecure?: boolean;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  readonly adminPasswordFile?: string;
}

export function storeCommand(action: Action): Command {
  const store = new Command('store').description('the event store');
  store
    .command('serve')
    .summary('run the embedded EventStoreDB-protocol server in the foreground')
    .description(
      'run the embedded EventStoreDB-protocol server in the foreground until SIGINT/SIGTERM: over a data dir ' +
        '(--data DIR, SQLite; default ./.opx-data) or in memory (--memory). Secure by default, like EventStoreDB: TLS ' +
        '(--tls-cert/--tls-key; `opx store dev-certs` makes a pair for this machine) and users (the data dir\'s; the first ' +
        `start makes \`admin\` with the password from env ${ADMIN_PASSWORD_ENV} or --admin-password-file, else prints a generated ` +
        'one once), with EventStoreDB\'s ACLs. Other `opx` commands (and the official client) talk to it with ' +
        '--connection \'esdb://USER:PASSWORD@localhost:PORT?tls=true&tlsCAFile=CA\'. --insecure turns TLS, authentication and ACLs off.',
    )
    .option('--port <port>', 'TCP port (0 = any free port)', (v) => port(v), 2113)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--tls-cert <file>', 'the server certificate (PEM), e.g. from `opx store dev-certs`')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM, unencrypted)')
    .option('--tls-ca <file>', 'the CA that signed --tls-cert: checked, and named in the printed connection string')
    .option('--admin-password-file <file>', `the initial admin's password on a first start (else env ${ADMIN_PASSWORD_ENV}, else generated and printed once)`)
    .option('--insecure', 'plaintext with no authentication and no ACLs: anyone who can reach the port may do anything')
    .option('--accept-data-loss', 'start over a data dir that lost events it had acknowledged (its WAL lost or cut short), accepting the loss')
    .action(action<ServeOptions>(async (ctx, _args, o) => serveStore(ctx, o)));
  store
    .command('dev-certs')
    .summary('make a local CA and a server certificate for this machine (development)')
    .description(
      'write ca.crt, node.crt and node.key (0600, EventStoreDB\'s names) to DIR (default ./.opx-certs): a CA made for this pair alone (its key ' +
        'is discarded once it has signed) and a server certificate for localhost, 127.0.0.1 and ::1 (and --host names), ' +
        'for `opx store serve --tls-cert DIR/node.crt --tls-key DIR/node.key --tls-ca DIR/ca.crt`; clients trust ' +
        'DIR/ca.crt (tlsCAFile=). For development: in production use certificates from your own CA.',
    )
    .argument('[dir]', 'where to write them', DEFAULT_CERT_DIR)
    .option('--host <name...>', 'more DNS names or IP addresses the certificate is for')
    .option('--days <n>', 'days the certificates are valid', (v) => positive(v, '--days'), 365)
    .option('--force', 'overwrite certificates in DIR')
    .action(action<DevCertsOptions>(async (ctx, args, o) => devCerts(ctx, String(args[0] ?? DEFAULT_CERT_DIR), o)));
  store.addCommand(usersCommand(action));
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

const DEFAULT_CERT_DIR = './.opx-certs';

interface DevCertsOptions {
  readonly host?: readonly string[];
  readonly days: number;
  readonly force?: boolean;
}

function positive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliUsageError(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

async function devCerts(ctx: CliContext, dir: string, o: DevCertsOptions): Promise<ExitCode> {
  const { FileExists, LOOPBACK_HOSTS, makeLocalCertificates, writeLocalCertificates } = await import('../../esdb-server/auth/certificates.js');
  const hosts = [...new Set([...LOOPBACK_HOSTS, ...(o.host ?? [])])];
  // wall-clock time at an edge: the certificates' validity
  const certificates = makeLocalCertificates({ now: new Date(), validDays: o.days, hosts });
  let files: ReturnType<typeof writeLocalCertificates>;
  try {
    files = writeLocalCertificates(resolve(dir), certificates, { overwrite: o.force === true });
  } catch (error) {
    if (error instanceof FileExists) throw new CliUsageError(`${error.message} (--force to replace the certificates)`);
    throw error;
  }
  ctx.output.result({ ...files, hosts, notAfter: certificates.notAfter.toISOString() }, () => [
    `wrote ${files.caFile}, ${files.certFile} and ${files.keyFile} (for ${hosts.join(', ')}; valid until ${certificates.notAfter.toISOString()})`,
    `  serve: opx store serve --tls-cert ${files.certFile} --tls-key ${files.keyFile} --tls-ca ${files.caFile}`,
    `  connect: --connection 'esdb://USER:PASSWORD@localhost:2113?tls=true&tlsCAFile=${files.caFile}'`,
  ]);
  return EXIT.OK;
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
      {
        port: o.port,
        host: o.host,
        ...(dataDir === undefined ? { memory: true } : { data: dataDir }),
        ...(o.acceptDataLoss === true ? { acceptDataLoss: true } : {}),
        ...(o.insecure === true ? { insecure: true } : {}),
        ...(o.tlsCert === undefined ? {} : { tlsCertFile: o.tlsCert }),
        ...(o.tlsKey === undefined ? {} : { tlsKeyFile: o.tlsKey }),
        ...(o.tlsCa === undefined ? {} : { tlsCaFile: o.tlsCa }),
        ...(o.adminPasswordFile === undefined ? {} : { adminPasswordFile: o.adminPasswordFile }),
      },
      () => undefined,
    );
    const { connectionString, security } = server;
    const close = (): Promise<void> => server.close();
    const where = dataDir === undefined ? 'in memory (lost on exit)' : `data dir ${resolve(dataDir)}`;
    const admin = security.mode === 'secure' ? security.initialAdmin : undefined;
    const example = security.mode === 'insecure' ? connectionString : connectionString.replace('esdb://', 'esdb://USER:PASSWORD@');
    ctx.output.result(
      {
        event: 'listening',
        port: server.port,
        connectionString,
        secure: security.mode === 'secure',
        ...(admin === undefined ? {} : { initialAdmin: { username: admin.username, passwordFrom: admin.passwordFrom, ...(admin.generatedPassword === undefined ? {} : { password: admin.generatedPassword }) } }),
        dataDir: dataDir === undefined ? null : resolve(dataDir),
        pid: process.pid,
      },
      () => [
        `opx store serving ${where}${security.mode === 'insecure' ? ' WITHOUT TLS, authentication or ACLs (--insecure)' : ' over TLS, with authentication'}`,
        `  ${connectionString}`,
        ...(admin === undefined
          ? []
          : admin.generatedPassword === undefined
            ? [`  user '${admin.username}' (in $admins) made with the password from ${admin.passwordFrom === 'env' ? ADMIN_PASSWORD_ENV : '--admin-password-file'}`]
            : [
                `  user '${admin.username}' (in $admins) made with the password ${admin.generatedPassword}`,
                `  it is shown this once${dataDir === undefined ? '' : ' and stored only hashed'}: keep it (change it with \`opx store users passwd ${admin.username}\`)`,
              ]),
        ...(security.mode === 'secure' && !connectionString.includes('tlsCAFile=') ? ['  clients that do not trust its CA already add &tlsCAFile=CA-FILE (or give --tls-ca)'] : []),
        `  e.g. opx --connection '${example}' incidents list`,
        'Ctrl-C to stop',
      ],
    );
    const signal = await stopped;
    await close();
    ctx.output.note(`opx store stopped (${signal})`);
    return EXIT.OK;
  } catch (error) {
    if (error instanceof SecurityConfigError || error instanceof UserStoreError) throw new CliUsageError(error.message);
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
