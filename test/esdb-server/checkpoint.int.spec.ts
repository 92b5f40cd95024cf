import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { NewEvent } from '../../src/esdb-server/storage/engine.js';
import { SQLITE_FILE_NAME, SqliteEngine } from '../../src/esdb-server/storage/sqlite-engine.js';

/** A row of ~9 KB: its payload takes pages of its own, so a few hundred rows pass SQLite's 1,000-page autocheckpoint. */
const row = (position: number): NewEvent => ({
  streamId: `s-${position % 7}`,
  revision: BigInt(Math.floor(position / 7)),
  eventId: `e-${position}`,
  type: 'Sized',
  contentType: 'application/json',
  data: new TextEncoder().encode(JSON.stringify({ position, pad: 'x'.repeat(9_000) })),
  metadata: new Uint8Array(0),
  created: 638_000_000_000_000_000n,
});

const PAGE = 4096;

describe('SqliteEngine checkpoints (off the commit path)', function () {
  let dir: string;
  let dataDir: string;
  let engine: SqliteEngine | undefined;
  const size = (suffix = ''): number => statSync(join(dataDir, SQLITE_FILE_NAME + suffix)).size;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'opx-checkpoint-'));
    dataDir = join(dir, 'data');
  });

  afterEach(function () {
    engine?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Commits `rows` rows, `perCommit` to a commit, as the server does: the fsync after, then the engine's gate. */
  const commitAsServer = async (from: number, rows: number, perCommit = 4): Promise<void> => {
    const e = engine!;
    for (let i = from; i < from + rows; i += perCommit) {
      e.transactionBeforeFlush(() => {
        for (let j = i; j < Math.min(i + perCommit, from + rows); j++) e.append([row(j)]);
      });
      await e.flush();
      await e.commitGate();
    }
  };

  it("never checkpoints in a commit: the database file stays as it was while the WAL grows past SQLite's 1,000-page autocheckpoint", function () {
    engine = new SqliteEngine(dataDir, { checkpoint: { frames: 1e9 } }); // no checkpoint due
    const before = size();
    for (let i = 0; i < 600; i += 4) engine.transaction(() => [0, 1, 2, 3].forEach((j) => engine!.append([row(i + j)])));
    expect(size('-wal')).to.be.above(1_500 * PAGE); // SQLite's autocheckpoint would have copied it at 1,000 pages
    expect(size()).to.equal(before);
    expect(engine.checkpointStats()).to.deep.equal({ rounds: 0, complete: 0, inline: 0 });
  });

  it('copies the WAL into the database file in its thread, then starts the WAL over: the WAL stays within a few thresholds', async function () {
    engine = new SqliteEngine(dataDir, { checkpoint: { frames: 200 } });
    const before = size();
    await commitAsServer(0, 2_000);
    await engine.checkpointIdle();
    const stats = engine.checkpointStats();
    expect(stats.rounds).to.be.above(5);
    expect(stats.complete).to.be.above(2);
    expect(stats.inline, 'a writer waiting at the gate never checkpoints itself').to.equal(0);
    // 2,000 rows wrote ~10,000 pages to the WAL; started over, it never held more than a few rounds' worth
    expect(size('-wal')).to.be.below(3_000 * PAGE);
    expect(size()).to.be.above(before + 1_000 * PAGE);
    engine.close();
    expect(existsSync(join(dataDir, `${SQLITE_FILE_NAME}-wal`)), 'the WAL is removed on closing').to.equal(false);
    engine = new SqliteEngine(dataDir);
    expect(engine.lastPosition()).to.equal(2_000n);
    expect(engine.readAllForward(1_999n, 2).map((e) => e.eventId)).to.deep.equal(['e-1998', 'e-1999']);
  });

  it('keeps the WAL bounded when commits never leave the thread a quiet moment: the writer checkpoints the tail itself', async function () {
    engine = new SqliteEngine(dataDir, { checkpoint: { frames: 200 } });
    await commitAsServer(0, 400); // the thread started and answered
    await engine.checkpointIdle();
    const inline = engine.checkpointStats().inline;
    // one synchronous loop: the event loop never turns, the thread's rounds are read from shared memory
    for (let i = 400; i < 3_400; i += 4) engine.transaction(() => [0, 1, 2, 3].forEach((j) => engine!.append([row(i + j)])));
    expect(engine.checkpointStats().inline).to.be.above(inline);
    expect(size('-wal')).to.be.below(2_000 * PAGE); // ~15,000 pages written, the cap is 800
  });

  it('checkpoints on the writer connection, between commits, when told not to use a thread', function () {
    engine = new SqliteEngine(dataDir, { checkpoint: { frames: 200, inThread: false } });
    for (let i = 0; i < 1_000; i += 4) engine.transaction(() => [0, 1, 2, 3].forEach((j) => engine!.append([row(i + j)])));
    expect(engine.checkpointStats()).to.deep.include({ rounds: 0 });
    expect(engine.checkpointStats().inline).to.be.above(10);
    expect(size('-wal')).to.be.below(600 * PAGE);
  });
});
