import { spawn } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { jsonEvent, persistentSubscriptionToStreamSettingsFromDefaults } from '@eventstore/db-client';
import { expect } from 'chai';
import { startEmbeddedServer } from '../../src/esdb-server/server.js';
import { verifyDataDir } from '../../src/esdb-server/storage/verify.js';
import { collect, connect, eventually, freshStream, spawnServer } from './helpers.js';

const event = (i: number) => jsonEvent({ type: 'Numbered', data: { i } });

describe('embedded EventStoreDB server: SQLite durability', function () {
  let dataDir: string;

  beforeEach(function () {
    dataDir = mkdtempSync(join(tmpdir(), 'opx-esdb-'));
  });

  afterEach(function () {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps events, groups and the acknowledged checkpoint across a restart, then resumes delivery', async function () {
    const stream = freshStream();
    const first = await startEmbeddedServer({ dataDir });
    const client1 = connect(first.connectionString);
    await client1.appendToStream(stream, [1, 2, 3, 4].map(event));
    await client1.createPersistentSubscriptionToStream(
      stream,
      'g',
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: 'start', checkPointLowerBound: 1, checkPointUpperBound: 1 }),
    );
    const sub1 = client1.subscribeToPersistentSubscriptionToStream(stream, 'g', { bufferSize: 1 });
    const acked: number[] = [];
    for await (const d of sub1) {
      const i = (d.event!.data as { i: number }).i;
      await sub1.ack(d);
      acked.push(i);
      if (acked.length === 2) break;
    }
    // the last ack travels asynchronously: wait until the server has checkpointed it
    await eventually(async () => {
      const info = await client1.getPersistentSubscriptionToStreamInfo(stream, 'g');
      return info.stats.lastCheckpointedEventRevision === 1n ? true : undefined;
    });
    await sub1.unsubscribe();
    await client1.dispose();
    await first.close();

    const second = await startEmbeddedServer({ dataDir });
    const client2 = connect(second.connectionString);
    try {
      const read = await collect(client2.readStream(stream));
      expect(read.map((e) => (e.event!.data as { i: number }).i)).to.deep.equal([1, 2, 3, 4]);
      const info = await client2.getPersistentSubscriptionToStreamInfo(stream, 'g');
      expect(info.stats.lastCheckpointedEventRevision).to.equal(1n);
      const sub2 = client2.subscribeToPersistentSubscriptionToStream(stream, 'g');
      const resumed: number[] = [];
      for await (const d of sub2) {
        await sub2.ack(d);
        resumed.push((d.event!.data as { i: number }).i);
        if (resumed.length === 2) break;
      }
      expect(acked).to.deep.equal([1, 2]);
      expect(resumed).to.deep.equal([3, 4]);
      await sub2.unsubscribe();
      // positions keep growing after the restart
      const next = await client2.appendToStream(stream, event(5), { expectedRevision: 3n });
      expect(next.position!.commit > read[3]!.event!.position!.commit).to.equal(true);
    } finally {
      await client2.dispose();
      await second.close();
    }
  });

  it('runs as a process: prints the listening line and closes on SIGTERM', async function () {
    const main = fileURLToPath(new URL('../../src/esdb-server/main.js', import.meta.url));
    const child = spawn(process.execPath, [main, '--port', '0', '--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const iterator = lines[Symbol.asyncIterator]();
    const listening = JSON.parse((await iterator.next()).value as string) as { event: string; port: number; connectionString: string };
    expect(listening.event).to.equal('listening');
    expect(listening.connectionString).to.equal(`esdb://127.0.0.1:${listening.port}?tls=false`);
    const client = connect(listening.connectionString);
    const stream = freshStream();
    await client.appendToStream(stream, event(1));
    expect(await collect(client.readStream(stream))).to.have.length(1);
    await client.dispose();
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
  });

  it('warns on stderr, naming what it leaves open, when it listens on an interface other than loopback', async function () {
    const main = fileURLToPath(new URL('../../src/esdb-server/main.js', import.meta.url));
    const child = spawn(process.execPath, [main, '--port', '0', '--memory', '--host', '0.0.0.0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    expect(stderr).to.match(/listening on 0\.0\.0\.0, not loopback, with no TLS and no authentication/);
  });

  it('serves $all from any uint64 position: past the end is empty forwards and the end backwards', async function () {
    const server = await startEmbeddedServer({ dataDir });
    const client = connect(server.connectionString);
    try {
      const stream = freshStream();
      await client.appendToStream(stream, [1, 2].map(event));
      for (const commit of [2n ** 63n, 2n ** 64n - 1n]) {
        const position = { commit, prepare: commit };
        expect(await collect(client.readAll({ fromPosition: position, maxCount: 10 }))).to.deep.equal([]);
        const backwards = await collect(client.readAll({ fromPosition: position, direction: 'backwards', maxCount: 2 }));
        expect(backwards.map((e) => e.event!.streamId)).to.deep.equal([stream, stream]);
        const subscription = client.subscribeToAll({ fromPosition: position });
        await new Promise((resolve, reject) => subscription.once('caughtUp', resolve).once('error', reject));
        await subscription.unsubscribe();
      }
    } finally {
      await client.dispose();
      await server.close();
    }
  });

  it('keeps its data to its owner: the data dir it creates is 0700, the database and its WAL files 0600', async function () {
    const nested = join(dataDir, 'fresh');
    const server = await startEmbeddedServer({ dataDir: nested });
    const client = connect(server.connectionString);
    try {
      await client.appendToStream(freshStream(), event(1));
      const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);
      expect(mode(nested)).to.equal('700');
      for (const file of ['opx-store.sqlite', 'opx-store.sqlite-wal', 'opx-store.sqlite-shm']) expect(mode(join(nested, file)), file).to.equal('600');
    } finally {
      await client.dispose();
      await server.close();
    }
  });

  describe('integrity', function () {
    const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const verifyCli = (dir: string): { status: number | null; stdout: string } => {
      const run = spawnSync(process.execPath, [cli, '--json', 'store', 'verify', dir], { encoding: 'utf8' });
      return { status: run.status, stdout: run.stdout };
    };

    it('never serves a record whose bytes changed on disk: the read fails naming its position, and store verify finds it', async function () {
      const server = await startEmbeddedServer({ dataDir });
      const client = connect(server.connectionString);
      const stream = freshStream();
      await client.appendToStream(stream, [1, 2, 3].map((i) => jsonEvent({ type: 'Marked', data: { marker: `MARKER-${i}-${stream}` } })));
      await client.dispose();
      await server.close(); // closing checkpoints the WAL into the database file
      const file = join(dataDir, 'opx-store.sqlite');
      const bytes = readFileSync(file);
      const at = bytes.indexOf(`MARKER-2-${stream}`);
      expect(at).to.be.above(0);
      bytes[at] = 'N'.charCodeAt(0); // MARKER -> NARKER: still valid JSON, still a valid SQLite page
      writeFileSync(file, bytes);
      expect(verifyCli(dataDir).status).to.equal(1);
      const report = verifyDataDir(dataDir);
      expect(report.corrupt.map((c) => c.detail)).to.deep.equal(['checksum mismatch']);
      const again = await startEmbeddedServer({ dataDir });
      const reader = connect(again.connectionString);
      try {
        await expect(collect(reader.readStream(stream))).to.be.rejectedWith(new RegExp(`record at position ${report.corrupt[0]!.position} is corrupt`));
        await expect(collect(reader.readAll())).to.be.rejectedWith(/is corrupt \(checksum mismatch\)/);
      } finally {
        await reader.dispose();
        await again.close();
      }
    });

    it('refuses to start when acknowledged events are missing (the WAL lost after a crash), unless told to accept the loss', async function () {
      const child = await spawnServer(['--data', dataDir]);
      const client = connect(child.connectionString);
      const stream = freshStream();
      for (let i = 0; i < 50; i++) await client.appendToStream(stream, event(i));
      await client.dispose();
      await child.stop(); // SIGKILL: the 50 acknowledged events are in the WAL only
      rmSync(join(dataDir, 'opx-store.sqlite-wal'));
      // the 50 and the server's start-up `$epoch-information` event, acknowledged in the same WAL
      await expect(startEmbeddedServer({ dataDir })).to.be.rejectedWith(/51 acknowledged events are missing.*--accept-data-loss/s);
      expect(verifyCli(dataDir).status).to.equal(1);
      const accepted = await startEmbeddedServer({ dataDir, acceptDataLoss: true });
      const after = connect(accepted.connectionString);
      try {
        await expect(collect(after.readStream(stream))).to.be.rejected;
        await after.appendToStream(stream, event(1));
      } finally {
        await after.dispose();
        await accepted.close();
      }
      const restarted = await startEmbeddedServer({ dataDir });
      await restarted.close();
      expect(verifyCli(dataDir)).to.deep.include({ status: 0 });
    });

    it('gives the records of a data dir made before checksums theirs, and serves them', async function () {
      const db = new Database(join(dataDir, 'opx-store.sqlite'));
      db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, revision INTEGER NOT NULL, event_id TEXT NOT NULL,
        type TEXT NOT NULL, content_type TEXT NOT NULL, data BLOB NOT NULL, metadata BLOB NOT NULL, created INTEGER NOT NULL)`);
      db.prepare('INSERT INTO events VALUES (1, ?, 0, ?, ?, ?, ?, ?, ?)').run('old', randomUUID(), 'Old', 'application/json', Buffer.from('{"i":1}'), Buffer.alloc(0), 638_000_000_000_000_000n);
      db.close();
      const server = await startEmbeddedServer({ dataDir });
      const client = connect(server.connectionString);
      try {
        expect((await collect(client.readStream('old'))).map((e) => e.event!.data)).to.deep.equal([{ i: 1 }]);
      } finally {
        await client.dispose();
        await server.close();
      }
      expect(verifyDataDir(dataDir).ok).to.equal(true);
    });
  });
});
