import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { jsonEvent, persistentSubscriptionToStreamSettingsFromDefaults } from '@eventstore/db-client';
import { expect } from 'chai';
import { startEmbeddedServer } from '../../src/esdb-server/server.js';
import { collect, connect, eventually, freshStream } from './helpers.js';

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
});
