import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { systemClock } from '../../src/esdb-server/clock.js';
import { startEmbeddedServer } from '../../src/esdb-server/server.js';
import { SqliteEngine } from '../../src/esdb-server/storage/sqlite-engine.js';
import { EventStoreCore } from '../../src/esdb-server/store.js';
import type { EventStore, RecordedEvent } from '../../src/eventstore/event-store.js';
import { EmbeddedReader } from '../../src/eventstore/embedded/embedded-reader.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { importHistory } from '../../src/replay/history-file.js';
import { goldenHistoryLines } from '../support/golden.js';
import { collect } from './event-store.contract.js';

const comparable = (events: readonly RecordedEvent[]) => events.map(({ id, type, streamId, revision, data, metadata }) => ({ id, type, streamId, revision, data, metadata }));

describe(EmbeddedReader.name, () => {
  const lines = goldenHistoryLines();
  let dir: string;
  let reader: EmbeddedReader;
  let memory: EventStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'opx-embedded-reader-'));
    const server = await startEmbeddedServer({ insecure: true, dataDir: dir });
    const client = EsdbEventStore.fromConnectionString(server.connectionString);
    await importHistory(client, lines);
    await client.setStreamMetadata('orchestration-x', { maxAge: 60, maxCount: 3 });
    await client.close();
    await server.close();
    reader = EmbeddedReader.open(dir);
    memory = new InMemoryEventStore();
    await importHistory(memory, lines);
  });

  after(async () => {
    await reader.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads $all in global order, as written through the server, without system streams', async () => {
    const all = await collect(reader.readAll());
    expect(comparable(all)).to.deep.equal(comparable(await collect(memory.readAll())));
    expect(all.every((e, i) => i === 0 || e.position > (all[i - 1] as RecordedEvent).position)).to.equal(true);
  });

  it("gives every event the position, revision and created time the server's own reads give it", async () => {
    const server = await startEmbeddedServer({ insecure: true, dataDir: dir });
    const client = EsdbEventStore.fromConnectionString(server.connectionString);
    try {
      const stamps = (events: readonly RecordedEvent[]) => events.map((e) => `${e.id} ${e.position} ${e.revision} ${e.created.getTime()}`);
      const served = await collect(client.readAll());
      expect(served.length).to.equal(lines.length);
      expect(stamps(await collect(reader.readAll()))).to.deep.equal(stamps(served));
      const stream = (served[0] as RecordedEvent).streamId;
      expect(stamps(await collect(reader.readStream(stream)))).to.deep.equal(stamps(await collect(client.readStream(stream))));
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('parses a payload written with a UTF-8 byte order mark the same way in readAll and readStream', async () => {
    const bomDir = mkdtempSync(join(tmpdir(), 'opx-embedded-reader-bom-'));
    const engine = new SqliteEngine(bomDir);
    const bom = (json: string): Uint8Array => new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(json)]);
    const outcome = new EventStoreCore(engine, systemClock).append('foreign-1', { kind: 'no_stream' }, [
      { eventId: '00000000-0000-4000-8000-000000000001', type: 'Foreign', contentType: 'application/json', data: bom('{"a":2}'), metadata: bom('{"m":1}') },
    ]);
    engine.close();
    expect(outcome.kind).to.equal('success');
    const bomReader = EmbeddedReader.open(bomDir);
    try {
      const [fromAll] = await collect(bomReader.readAll());
      const [fromStream] = await collect(bomReader.readStream('foreign-1'));
      expect(fromAll?.data).to.deep.equal({ a: 2 });
      expect(fromAll?.metadata).to.deep.equal({ m: 1 });
      expect(fromStream?.data).to.deep.equal(fromAll?.data);
      expect(fromStream?.metadata).to.deep.equal(fromAll?.metadata);
    } finally {
      await bomReader.close();
      rmSync(bomDir, { recursive: true, force: true });
    }
  });

  it('filters $all by stream prefix, after a position, up to maxCount', async () => {
    const all = await collect(reader.readAll({ streamPrefixes: ['incident-'] }));
    expect(all.length).to.be.greaterThan(0);
    expect(all.every((e) => e.streamId.startsWith('incident-'))).to.equal(true);
    const after = await collect(reader.readAll({ after: (all[0] as RecordedEvent).position, streamPrefixes: ['incident-'], maxCount: 2 }));
    expect(after.map((e) => e.id)).to.deep.equal(all.slice(1, 3).map((e) => e.id));
  });

  it('reads a stream forwards and backwards, from a revision, and nothing for an unknown stream', async () => {
    const streamId = (JSON.parse(lines.find((l) => l.includes('"IncidentCreated"')) as string) as { streamId: string }).streamId;
    const forwards = await collect(reader.readStream(streamId));
    expect(comparable(forwards)).to.deep.equal(comparable(await collect(memory.readStream(streamId))));
    const backwards = await collect(reader.readStream(streamId, { direction: 'backwards', maxCount: 2 }));
    expect(backwards.map((e) => e.revision)).to.deep.equal([forwards.length - 1, forwards.length - 2].map(BigInt));
    expect((await collect(reader.readStream(streamId, { fromRevision: 1n }))).map((e) => e.revision)[0]).to.equal(1n);
    expect(await collect(reader.readStream('candidate-nobody'))).to.deep.equal([]);
  });

  it('reports stream metadata and refuses to write', async () => {
    expect(await reader.getStreamMetadata('orchestration-x')).to.deep.equal({ maxAge: 60, maxCount: 3 });
    expect(() => reader.append()).to.throw(/read-only/);
  });
});
