import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { startEmbeddedServer } from '../../src/esdb-server/server.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';

/**
 * The adapter cancels no read that ends by itself: one with a small maxCount left after its first
 * event is let finish, and one that already ended or failed (a stream not found) is left alone.
 * Each cancel is a RST_STREAM, and an HTTP/2 server may close a session that receives too many (Node's: after a
 * burst of about 1,000). The server here never recycles sessions, so only the adapter keeps the
 * count down.
 */
describe('EsdbEventStore: many short reads', function () {
  this.timeout(120_000);

  it('reads 3,000 candidates, half of them missing, leaving each read after its first event', async function () {
    const server = await startEmbeddedServer({ insecure: true, maxConnectionAgeMs: 0 });
    const store = EsdbEventStore.fromConnectionString(server.connectionString);
    try {
      const prefix = `short-${randomUUID()}`;
      for (let i = 0; i < 100; i++) {
        await store.append(`${prefix}-${i}`, [1, 2].map((n) => ({ id: randomUUID(), type: 'T', data: { n }, metadata: {} })), 'no_stream');
      }
      let found = 0;
      for (let i = 0; i < 3_000; i++) {
        const exists = i % 200 < 100;
        // left after the first of at most 1 event (the server has yet to end the call), or failed by itself
        for await (const _event of store.readStream(`${prefix}-${i % 200}`, exists ? { maxCount: 1 } : {})) {
          found++;
          break;
        }
      }
      expect(found).to.equal(1_500);
    } finally {
      await store.close();
      await server.close();
    }
  });
});
