import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { NewEvent } from '../../src/esdb-server/storage/engine.js';
import { SqliteEngine } from '../../src/esdb-server/storage/sqlite-engine.js';

const row = (streamId: string, revision: bigint, eventId: string): NewEvent => ({
  streamId,
  revision,
  eventId,
  type: 'Numbered',
  contentType: 'application/json',
  data: new TextEncoder().encode(`{"r":${revision}}`),
  metadata: new Uint8Array(0),
  created: 638_000_000_000_000_000n,
});

describe(SqliteEngine.name, function () {
  let dir: string;
  let engine: SqliteEngine;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'opx-sqlite-engine-'));
    engine = new SqliteEngine(join(dir, 'data'));
  });

  afterEach(function () {
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // a group commit runs many appends in one transaction: one that fails must leave the others
  // (a single row is inserted without a savepoint of its own, several rows with one)
  for (const rows of [1, 3]) {
    it(`undoes only the failed append of ${rows} row(s) inside a group commit, and the rest commit at consecutive positions`, function () {
      engine.transactionBeforeFlush(() => {
        engine.append([row('a', 0n, 'a0')]);
        // its last row collides with a0's (stream, revision), after the rows before it went in
        const failing = Array.from({ length: rows }, (_, i) => row('a', BigInt((i + 1) % rows), `x${i}`));
        expect(() => engine.append(failing)).to.throw(/UNIQUE/);
        engine.append([row('b', 0n, 'b0')]);
      });
      expect(engine.readAllForward(0n, 10).map((e) => [e.position, e.streamId, e.eventId])).to.deep.equal([
        [1n, 'a', 'a0'],
        [2n, 'b', 'b0'],
      ]);
      expect(engine.lastPosition()).to.equal(2n);
      expect(engine.streamLastRevision('a')).to.equal(0n);
    });
  }
  it('keeps subscription groups and checkpoints across a reopen, updating in place, and deletes a group with its checkpoint', function () {
    // given two groups with checkpoints, one group's settings and checkpoint saved again
    engine.saveGroup({ source: 's', group: 'g1', settings: '{"v":1}' });
    engine.saveGroup({ source: '$all', group: 'g2', settings: '{"v":1}' });
    engine.saveCheckpoint({ source: 's', group: 'g1', checkpoint: '3' });
    engine.saveCheckpoint({ source: '$all', group: 'g2', checkpoint: '10' });
    engine.saveGroup({ source: 's', group: 'g1', settings: '{"v":2}' });
    engine.saveCheckpoint({ source: 's', group: 'g1', checkpoint: '7' });

    // when one group is deleted and the data dir opened again
    engine.deleteGroup('$all', 'g2');
    engine.close();
    engine = new SqliteEngine(join(dir, 'data'));

    // then the other is there as last saved, and the deleted one left no checkpoint behind
    expect(engine.loadGroups()).to.deep.equal([{ source: 's', group: 'g1', settings: '{"v":2}' }]);
    expect(engine.loadCheckpoints()).to.deep.equal([{ source: 's', group: 'g1', checkpoint: '7' }]);
  });
});
