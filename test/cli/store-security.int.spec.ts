/**
 * `opx store serve` is secure by default, as EventStoreDB is: TLS and users unless --insecure.
 * Run as an operator runs it (a process of its own), reached with the official client.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

import { AccessDeniedError, EventStoreDBClient, jsonEvent, persistentSubscriptionToStreamSettingsFromDefaults } from '@eventstore/db-client';
import { expect } from 'chai';

import { collect, freshStream } from '../esdb-server/helpers.js';
import { OPX_BIN, opx, tempDir } from './opx-cli.js';

interface Listening {
  readonly connectionString: string;
  readonly secure: boolean;
  readonly initialAdmin?: { readonly username: string; readonly passwordFrom: string; readonly password?: string };
}

interface Served {
  readonly listening: Listening;
  /** Everything it wrote to stdout, and to stderr, until now. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  stop(): Promise<number | null>;
}

/** `opx --json ... store serve --port 0 ...`, resolved at its listening line. */
function serve(globalArgs: readonly string[], args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Served> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('OPX_')) env[key] = value;
  const child = spawn(process.execPath, [OPX_BIN, '--json', ...globalArgs, 'store', 'serve', '--port', '0', ...args], { cwd: options.cwd, env: { ...env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) {
        resolve({
          listening: JSON.parse(line) as Listening,
          stdout: () => out,
          stderr: () => err,
          stop: async () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`store serve exited with ${code}: ${err}`)));
  });
}

const withCredentials = (connectionString: string, username: string, password: string): string =>
  connectionString.replace('esdb://', `esdb://${encodeURIComponent(username)}:${encodeURIComponent(password)}@`);

describe('opx store serve: secure by default', function () {
  this.timeout(90_000);
  const cwd = tempDir('store-security');
  let certs: { caFile: string; certFile: string; keyFile: string };
  const clients: EventStoreDBClient[] = [];
  const client = (connectionString: string): EventStoreDBClient => {
    const made = EventStoreDBClient.connectionString(connectionString);
    clients.push(made);
    return made;
  };
  const tls = (): string[] => ['--tls-cert', certs.certFile, '--tls-key', certs.keyFile, '--tls-ca', certs.caFile];

  before(async () => {
    const made = await opx(['--json', 'store', 'dev-certs', 'certs'], { cwd });
    expect(made.code, made.stderr).to.equal(0);
    certs = made.json();
    expect(statSync(certs.keyFile).mode & 0o777).to.equal(0o600);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('refuses to start without a certificate (exit 2), naming --tls-cert, dev-certs and --insecure', async () => {
    const run = await opx(['--memory', 'store', 'serve', '--port', '0'], { cwd });
    expect(run.code).to.equal(2);
    expect(run.stderr).to.match(/TLS and authentication are required: give --tls-cert and --tls-key/).and.match(/opx store dev-certs/).and.match(/--insecure/);
  });

  it('with --insecure, serves plaintext to anyone and warns on stderr that TLS, authentication and ACLs are off', async () => {
    const served = await serve(['--memory'], ['--insecure'], { cwd });
    try {
      expect(served.listening).to.include({ secure: false });
      expect(served.listening.connectionString).to.match(/\?tls=false$/);
      expect(served.stderr()).to.match(/--insecure: TLS, authentication and ACLs are OFF/);
      expect((await client(served.listening.connectionString).appendToStream('$anything', jsonEvent({ type: 'T', data: {} }))).nextExpectedRevision).to.equal(0n);
    } finally {
      expect(await served.stop()).to.equal(0);
    }
    const mixed = await opx(['--memory', 'store', 'serve', '--port', '0', '--insecure', '--tls-cert', certs.certFile], { cwd });
    expect(mixed.code).to.equal(2);
    expect(mixed.stderr).to.match(/drop --tls-cert or --insecure/);
  });

  it('refuses reads and writes without credentials, or with wrong ones, by default', async () => {
    const served = await serve(['--memory'], tls(), { cwd, env: { OPX_ADMIN_PASSWORD: 'the-admin-password' } });
    try {
      const { connectionString } = served.listening;
      const stream = freshStream();
      await expect(client(connectionString).appendToStream(stream, jsonEvent({ type: 'T', data: {} }))).to.be.rejectedWith(AccessDeniedError);
      await expect(collect(client(connectionString).readStream(stream))).to.be.rejectedWith(AccessDeniedError);
      await expect(collect(client(withCredentials(connectionString, 'admin', 'changeit')).readAll({ maxCount: 1 }))).to.be.rejectedWith(AccessDeniedError);
      const admin = client(withCredentials(connectionString, 'admin', 'the-admin-password'));
      expect((await admin.appendToStream(stream, jsonEvent({ type: 'T', data: {} }))).nextExpectedRevision).to.equal(0n);
      expect(await collect(admin.readStream(stream))).to.have.length(1);
    } finally {
      await served.stop();
    }
  });

  it('prints a generated admin password once, at the first start of a data dir, and never again; it is stored only hashed', async () => {
    const data = join(cwd, 'generated');
    const first = await serve(['--data', data, '--create'], tls(), { cwd });
    const password = first.listening.initialAdmin?.password;
    try {
      expect(first.listening.initialAdmin).to.include({ username: 'admin', passwordFrom: 'generated' });
      expect(password).to.be.a('string').with.length.of.at.least(20);
      expect(first.stdout().split(password as string)).to.have.length(2); // on stdout once
      expect(first.stderr()).to.not.include(password);
      expect(await collect(client(withCredentials(first.listening.connectionString, 'admin', password as string)).readAll({ maxCount: 1 }))).to.have.length.of.at.most(1);
    } finally {
      expect(await first.stop()).to.equal(0);
    }
    const usersFile = readFileSync(join(data, 'opx-users.json'), 'utf8');
    expect(usersFile).to.include('"kdf": "scrypt"').and.not.include(password);
    expect(statSync(join(data, 'opx-users.json')).mode & 0o777).to.equal(0o600);

    // a second start: the same admin, its password not printed, an env password ignored with a warning
    const second = await serve(['--data', data], tls(), { cwd, env: { OPX_ADMIN_PASSWORD: 'another-password-too-late' } });
    try {
      expect(second.listening.initialAdmin).to.equal(undefined);
      expect(second.stdout() + second.stderr()).to.not.include(password);
      expect(second.stderr()).to.match(/has users already: OPX_ADMIN_PASSWORD and --admin-password-file apply to a first start only/);
      const stream = freshStream();
      await client(withCredentials(second.listening.connectionString, 'admin', password as string)).appendToStream(stream, jsonEvent({ type: 'T', data: {} }));
      await expect(client(withCredentials(second.listening.connectionString, 'admin', 'another-password-too-late')).appendToStream(stream, jsonEvent({ type: 'T', data: {} }))).to.be.rejectedWith(
        AccessDeniedError,
      );
    } finally {
      await second.stop();
    }
  });

  it('writes no users file when the first start fails (the port taken): no admin whose generated password nobody saw', async () => {
    const data = join(cwd, 'port-taken');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const run = await opx(['--data', data, '--create', 'store', 'serve', '--port', String(port), ...tls()], { cwd });
      expect(run.code).to.equal(2);
      expect(run.stderr).to.match(/already in use/);
      expect(existsSync(join(data, 'opx-users.json'))).to.equal(false);
    } finally {
      taken.close();
    }
  });

  it('lets a user who is not an admin write user streams, never $ streams or their metadata; ops manage subscription groups', async () => {
    const data = join(cwd, 'users');
    const passwordFile = (name: string, password: string): string => {
      const file = join(cwd, `${name}.password`);
      writeFileSync(file, `${password}\n`, { mode: 0o600 });
      return file;
    };
    const refused = await opx(['--data', data, '--create', 'store', 'users', 'add', 'alice', '--password-file', passwordFile('alice', 'alice-password-1')], { cwd });
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/the first one must be in \$admins/);
    const added = [
      await opx(['--data', data, 'store', 'users', 'add', 'root', '--admin', '--password-file', passwordFile('root', 'root-password-1')], { cwd }),
      await opx(['--data', data, 'store', 'users', 'add', 'alice', '--password-file', passwordFile('alice', 'alice-password-1')], { cwd }),
      await opx(['--data', data, '--json', 'store', 'users', 'add', 'oscar', '--ops'], { cwd }),
    ];
    expect(added.map((run) => run.code), added.map((run) => run.stderr).join('\n')).to.deep.equal([0, 0, 0]);
    const oscarPassword = added[2]!.json<{ password: string }>().password;
    const listed = await opx(['--data', data, '--json', 'store', 'users', 'list'], { cwd });
    expect(listed.json()).to.deep.equal({ users: [{ name: 'alice', groups: [] }, { name: 'oscar', groups: ['$ops'] }, { name: 'root', groups: ['$admins'] }] });
    const lastAdmin = await opx(['--data', data, 'store', 'users', 'remove', 'root'], { cwd });
    expect(lastAdmin.code).to.equal(2);
    expect(lastAdmin.stderr).to.match(/last member of \$admins/);

    const served = await serve(['--data', data], tls(), { cwd });
    try {
      expect(served.listening.initialAdmin).to.equal(undefined); // the users file had an admin already
      const { connectionString } = served.listening;
      const alice = client(withCredentials(connectionString, 'alice', 'alice-password-1'));
      const oscar = client(withCredentials(connectionString, 'oscar', oscarPassword));
      const root = client(withCredentials(connectionString, 'root', 'root-password-1'));
      const stream = freshStream();
      expect((await alice.appendToStream(stream, jsonEvent({ type: 'T', data: {} }))).nextExpectedRevision).to.equal(0n);
      await expect(alice.appendToStream('$system-thing', jsonEvent({ type: 'T', data: {} }))).to.be.rejectedWith(AccessDeniedError);
      await expect(alice.setStreamMetadata('$system-thing', { maxCount: 1 })).to.be.rejectedWith(AccessDeniedError);
      await expect(alice.appendToStream('$settings', jsonEvent({ type: 'settings', data: { $userStreamAcl: { $r: '$admins' } } }))).to.be.rejectedWith(AccessDeniedError);
      await expect(collect(alice.readAll({ maxCount: 1 }))).to.be.rejectedWith(AccessDeniedError);
      const settings = persistentSubscriptionToStreamSettingsFromDefaults();
      await expect(alice.createPersistentSubscriptionToStream(stream, 'g', settings)).to.be.rejectedWith(AccessDeniedError);
      await oscar.createPersistentSubscriptionToStream(stream, 'g', settings);
      expect((await root.appendToStream('$system-thing', jsonEvent({ type: 'T', data: {} }))).nextExpectedRevision).to.equal(0n);
      // per-call credentials are checked as well: alice's call as root is root's
      expect((await alice.appendToStream('$system-thing', jsonEvent({ type: 'T', data: {} }), { credentials: { username: 'root', password: 'root-password-1' } })).nextExpectedRevision).to.equal(1n);
    } finally {
      await served.stop();
    }
  });
});
