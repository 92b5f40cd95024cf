/**
 * The embedded server in a thread of its own (src/esdb-server/server-thread.ts), as the CLI's
 * in-process store and `opx serve` run it: reached through its endpoint exactly as before, its
 * errors the server's own, its data durable when it closes, and its work off the caller's thread.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { startServerThread, type ServerThread } from '../../src/esdb-server/server-thread.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';

describe('the embedded server in a thread of its own', function () {
  this.timeout(60_000);
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'opx-server-thread-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const event = (n: number) => ({ id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, type: 'Noted', data: { n }, metadata: {} });

  it('serves the official client over TLS with the credentials made for this process, and what it acknowledged is there after it closes', async () => {
    let server: ServerThread = await startServerThread({ dataDir });
    expect(server.endpoint).to.include({ tls: true });
    expect(server.endpoint.credentials?.username).to.be.a('string');
    let store = EsdbEventStore.fromEndpoint(server.endpoint);
    await store.append('noted-1', [event(1), event(2)], 'no_stream');
    await store.close();
    await server.close();

    server = await startServerThread({ dataDir });
    store = EsdbEventStore.fromEndpoint(server.endpoint);
    try {
      const read = [];
      for await (const recorded of store.readStream('noted-1')) read.push(recorded.data);
      expect(read).to.deep.equal([{ n: 1 }, { n: 2 }]);
    } finally {
      await store.close();
      await server.close();
    }
  });

  it("rejects with the server's own error when it cannot start", async () => {
    writeFileSync(join(dataDir, 'opx-store.sqlite'), 'this is not a SQLite database, it is a text file of some length'.repeat(100));
    await expect(startServerThread({ dataDir })).to.be.rejectedWith(/not a database/);
  });

  it("runs off the caller's thread: another process appends through it while this thread is blocked", async () => {
    const server = await startServerThread({ dataDir });
    try {
      // spawnSync blocks this thread until the child exits: a server on this thread could not answer it.
      const client = new URL('../../src/eventstore/esdb/esdb-event-store.js', import.meta.url).href;
      const script = `
        const { EsdbEventStore } = await import(${JSON.stringify(client)});
        const store = EsdbEventStore.fromEndpoint(JSON.parse(process.env.ENDPOINT));
        const result = await store.append('from-child', [{ id: '00000000-0000-4000-8000-000000000007', type: 'Noted', data: { n: 7 }, metadata: {} }], 'no_stream');
        process.stdout.write(String(result.nextExpectedRevision));
        await store.close();`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ENDPOINT: JSON.stringify(server.endpoint) }, encoding: 'utf8', timeout: 30_000 });
      expect(child.stderr).to.equal('');
      expect(child.stdout).to.equal('0');
    } finally {
      await server.close();
    }
  });
});
