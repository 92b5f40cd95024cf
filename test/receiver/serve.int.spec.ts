/**
 * `opx serve` as an operator runs it: a process of its own over a store (`opx store serve`'s, here
 * the embedded server started in the test), reached over real sockets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { newToken } from '../../src/principals/principals.js';
import { requestHandler } from '../../src/http/http-app.js';
import { OPX_BIN, opx, tempDir } from '../cli/opx-cli.js';
import { startSecureStore, type SecureStore } from '../support/secure-store.js';
import { alert, webhook } from './support/receiver.js';

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<number | null>;
}

/** The store flags among `args` (they go before the command). */
const globalArgs = (args: readonly string[]): string[] => {
  const i = args.indexOf('--connection');
  return i < 0 ? [] : ['--connection', args[i + 1] as string];
};

/** Starts `opx serve` and waits for its `listening` line. */
function serve(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [OPX_BIN, '--json', ...globalArgs(args), 'serve', '--port', '0', ...args.filter((a) => !globalArgs(args).includes(a))], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((done) => child.on('exit', done));
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"event":"listening"'));
      if (line !== undefined) resolve({ child, url: (JSON.parse(line) as { url: string }).url, exited });
    });
    void exited.then((code) => reject(new Error(`opx serve exited with ${code}: ${err}`)));
  });
}

function postJson(url: string, body: unknown, headers: Record<string, string>, options: { ca?: Buffer } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, ...(options.ca === undefined ? {} : { ca: options.ca }) }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('opx serve (a process, real sockets) on a secure store', function () {
  this.timeout(60_000);
  let secure: SecureStore;
  /** What the tests pass as --connection: the store over TLS, with the admin's credentials. */
  let store: { connectionString: string };
  const token = newToken();
  const cwd = tempDir('serve');

  before(async () => {
    secure = await startSecureStore();
    store = { connectionString: secure.connectionString() };
  });
  after(async () => {
    await secure.close();
  });

  it('refuses to start when the store refuses its credentials (exit 3, naming the refusal)', async () => {
    const anonymous = await opx(['--connection', secure.connectionString(null), 'serve', '--port', '0'], { cwd, env: { OPX_INGEST_TOKEN: token } });
    expect(anonymous.code).to.equal(3);
    expect(anonymous.stderr).to.match(/credentials are required/).and.include('EventStoreDB refused').and.include('esdb://USER:PASSWORD@');
    const wrong = await opx(['--connection', secure.connectionString({ username: 'admin', password: 'not-the-password' }), 'serve', '--port', '0'], { cwd, env: { OPX_INGEST_TOKEN: token } });
    expect(wrong.code).to.equal(3);
    expect(wrong.stderr).to.match(/bad username or password/);
  });

  it('refuses to start with no credentials configured (exit 2, naming the ways to give one)', async () => {
    const run = await opx(['--connection', store.connectionString, 'serve', '--port', '0'], { cwd });
    expect(run.code).to.equal(2);
    expect(run.stderr).to.include('OPX_INGEST_TOKEN').and.include('--principals').and.include('--insecure');
  });

  it('receives, correlates and orchestrates in one process: a posted critical alert becomes an incident; binds loopback; stops on SIGTERM', async () => {
    const served = await serve(['--connection', store.connectionString], { OPX_INGEST_TOKEN: token });
    try {
      expect(served.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      const answer = await postJson(`${served.url}/api/v1/alerts/alertmanager`, webhook([alert('e2e-1', { startsAt: '2026-06-01T10:00:00Z' })]), { authorization: `Bearer ${token}` });
      expect(answer.status, answer.body).to.equal(200);
      let incidents: Array<{ title?: string }> = [];
      for (let i = 0; i < 100 && incidents.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        incidents = (await opx(['--connection', store.connectionString, '--json', 'incidents', 'list'], { cwd })).json<{ incidents: Array<{ title?: string }> }>().incidents;
      }
      expect(incidents.map((i) => i.title)).to.deep.equal(['CheckoutDown: checkout is down']);
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).to.equal(0);
    // it sealed what it recorded as it went, and what it had received when it stopped
    const verified = (await opx(['--connection', store.connectionString, '--json', 'verify'], { cwd })).json<{ verdict: string; unsealed: number; eventsVerified: number }>();
    expect(verified).to.deep.include({ verdict: 'INTACT', unsealed: 0 });
    expect(verified.eventsVerified).to.be.greaterThan(3);
  });

  it('survives a slow client (request timeout) and a flood of idle connections, still answering others', async () => {
    const served = await serve(['--connection', store.connectionString, '--receiver-only', '--request-timeout-ms', '500'], { OPX_INGEST_TOKEN: token });
    try {
      const { port } = new URL(served.url);
      // A slow client: headers, then a body that never finishes.
      const slow = connect(Number(port), '127.0.0.1');
      const slowAnswer = new Promise<string>((resolve) => {
        let text = '';
        slow.on('data', (d: Buffer) => (text += d.toString()));
        slow.on('close', () => resolve(text));
      });
      slow.write(`POST /api/v1/alerts/alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"version":`);
      // A flood of idle connections.
      const idle = Array.from({ length: 200 }, () => connect(Number(port), '127.0.0.1'));
      const answer = await postJson(`${served.url}/api/v1/alerts/alertmanager`, webhook([alert('flood-1')]), { authorization: `Bearer ${token}` });
      expect(answer.status).to.equal(200);
      expect(await slowAnswer).to.match(/^HTTP\/1\.1 408/);
      for (const socket of idle) socket.destroy();
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).to.equal(0);
  });

  it('serves HTTPS with the certificate and key given', async function () {
    if (!existsSync('/usr/bin/openssl')) this.skip();
    const dir = tempDir('tls');
    execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const served = await serve(['--connection', store.connectionString, '--receiver-only', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')], { OPX_INGEST_TOKEN: token });
    try {
      expect(served.url).to.match(/^https:/);
      const answer = await postJson(`${served.url}/api/v1/alerts/alertmanager`, webhook([alert('tls-1')]), { authorization: `Bearer ${token}` }, { ca: readFileSync(join(dir, 'cert.pem')) });
      expect(answer.status, answer.body).to.equal(200);
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).to.equal(0);
  });

  it('is a request handler a host mounts in its own HTTP server', async () => {
    const { receiverRig, bearer, INGEST } = await import('./support/receiver.js');
    const rig = await receiverRig();
    const host = createServer(requestHandler(rig.app));
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    try {
      const address = host.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const answer = await postJson(`http://127.0.0.1:${port}/api/v1/alerts/alertmanager`, webhook([alert('host-1')]), bearer(INGEST));
      expect(answer.status).to.equal(200);
      expect(rig.facts('SignalFired')).to.have.length(1);
    } finally {
      host.close();
    }
  });

  it('several receivers on one store record a fact posted to both once', async () => {
    const first = await serve(['--connection', store.connectionString, '--receiver-only'], { OPX_INGEST_TOKEN: token });
    const second = await serve(['--connection', store.connectionString, '--receiver-only'], { OPX_INGEST_TOKEN: token });
    try {
      const body = webhook([alert('ha-pair-1'), alert('ha-pair-2')]);
      const answers = await Promise.all([first, second].map((s) => postJson(`${s.url}/api/v1/alerts/alertmanager`, body, { authorization: `Bearer ${token}` })));
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200]);
      // Each fact is recorded once, whichever receiver wrote it (which one reports it new is a race).
      const explained = await opx(['--connection', store.connectionString, '--json', 'explain', 'ha-pair-1'], { cwd });
      expect(explained.json<{ facts: unknown[] }>().facts).to.have.length(1);
    } finally {
      first.child.kill('SIGTERM');
      second.child.kill('SIGTERM');
    }
    expect(await Promise.all([first.exited, second.exited])).to.deep.equal([0, 0]);
  });
});

