import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonEvent } from '@eventstore/db-client';
import { expect } from 'chai';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import { SqliteEngine, WATERMARK_FILE_NAME } from '../../src/esdb-server/storage/sqlite-engine.js';
import { collect, connect, eventually, freshStream } from './helpers.js';

const event = (i: number) => jsonEvent({ type: 'Numbered', data: { i } });

/** The SQLite engine with its flushes held until the test lets them go (a disk that takes its time), or failing. */
class HeldFlushEngine extends SqliteEngine {
  commits = 0;
  failNext = false;
  #release: (() => void) | undefined;
  #held: Promise<void> | undefined;

  hold(): void {
    this.#held = new Promise((resolve) => (this.#release = resolve));
  }

  release(): void {
    this.#release?.();
    this.#held = undefined;
  }

  override transactionBeforeFlush<T>(work: () => T): T {
    this.commits++;
    return super.transactionBeforeFlush(work);
  }

  override async flush(): Promise<void> {
    await this.#held;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('EIO: the disk failed the flush');
    }
    await super.flush();
  }
}

describe('embedded EventStoreDB server: commits flushed off the event loop', function () {
  let dataDir: string;
  let engine: HeldFlushEngine;
  let server: EmbeddedServer;

  beforeEach(async function () {
    dataDir = mkdtempSync(join(tmpdir(), 'opx-esdb-flush-'));
    engine = new HeldFlushEngine(dataDir);
    server = await startEmbeddedServer({ engine });
  });

  afterEach(async function () {
    engine.release();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves reads while a commit waits for the disk, and acknowledges the append only once it is flushed', async function () {
    const client = connect(server.connectionString);
    try {
      const earlier = freshStream();
      await client.appendToStream(earlier, [1, 2, 3].map(event));
      const before = engine.lastPosition();
      engine.hold();
      let acknowledged = false;
      const append = client.appendToStream(freshStream(), event(4)).then((result) => ((acknowledged = true), result));
      await eventually(() => (engine.lastPosition() > before ? true : undefined)); // committed, not yet flushed

      expect((await collect(client.readStream(earlier))).map((e) => (e.event!.data as { i: number }).i)).to.deep.equal([1, 2, 3]);
      expect(acknowledged).to.equal(false);
      engine.release();
      expect((await append).success).to.equal(true);
    } finally {
      await client.dispose();
    }
  });

  it('commits the writes that arrive while a flush is under way together, in the next commit', async function () {
    const client = connect(server.connectionString);
    try {
      const first = engine.lastPosition();
      engine.hold();
      const held = client.appendToStream(freshStream(), event(1));
      await eventually(() => (engine.lastPosition() > first ? true : undefined));
      const commitsBefore = engine.commits;
      const waiting = [2, 3, 4].map((i) => client.appendToStream(freshStream(), event(i)));
      // the three reach the server during the flush; none is committed before it ends
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(engine.commits).to.equal(commitsBefore);
      engine.release();
      await Promise.all([held, ...waiting]);
      expect(engine.commits).to.equal(commitsBefore + 1);
    } finally {
      await client.dispose();
    }
  });

  it('never acknowledges an append whose flush failed', async function () {
    const client = connect(server.connectionString);
    try {
      engine.failNext = true;
      await expect(client.appendToStream(freshStream(), event(1))).to.be.rejected;
      expect(engine.failNext).to.equal(false); // the flush was tried
    } finally {
      await client.dispose();
    }
  });

  describe('the acknowledged position (the lost-WAL check)', function () {
    const watermark = (): number => Number(readFileSync(join(dataDir, WATERMARK_FILE_NAME), 'utf8'));
    const row = () => ({ streamId: freshStream(), revision: 0n, eventId: randomUUID(), type: 'Numbered', contentType: 'application/json', data: new Uint8Array(2), metadata: new Uint8Array(0), created: 0n });

    it('moves only once a commit is flushed', async function () {
      const before = watermark();
      engine.transactionBeforeFlush(() => engine.append([row()]));
      expect(watermark()).to.equal(before);
      await engine.flush();
      expect(watermark()).to.equal(before + 1);
    });

    it('never moves back when a flush ends after a later commit that fsynced on its own', async function () {
      const direct = new SqliteEngine(join(dataDir, 'direct'));
      const directMark = (): number => Number(readFileSync(join(dataDir, 'direct', WATERMARK_FILE_NAME), 'utf8'));
      try {
        direct.transactionBeforeFlush(() => direct.append([row()]));
        const flushing = direct.flush(); // flushes position 1
        direct.append([row()]); // position 2, committed and fsynced in its own transaction
        expect(directMark()).to.equal(2);
        await flushing;
        expect(directMark()).to.equal(2);
      } finally {
        direct.close();
      }
    });
  });
});
