import { jsonEvent } from '@eventstore/db-client';
import { expect } from 'chai';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import { connect } from './helpers.js';

/**
 * Node's HTTP/2 server closes a session after a burst of about 1,000 RST_STREAM frames (the
 * client's cancels) and 33 a second after that, which EventStoreDB's server does not. With
 * sessions recycled every second (maxConnectionAgeMs) a session sees at most a second's cancels,
 * so any rate below ~1,000 a second passes (the bound the server documents); 2,500 cancelled reads
 * at 500 a second take 5 s, far past what one session survives (1,000 + 5 x 33).
 */
const READS = 2_500;
const CONCURRENCY = 8;
const READS_PER_SECOND = 500;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('embedded EventStoreDB server: many short reads', function () {
  this.timeout(120_000);

  const readAndCancel = async (server: EmbeddedServer): Promise<{ ok: number; failure: unknown }> => {
    const client = connect(server.connectionString);
    try {
      const streams = Array.from({ length: 20 }, (_, i) => `short-${i}`);
      for (const stream of streams) await client.appendToStream(stream, [1, 2, 3].map((i) => jsonEvent({ type: 'T', data: { i } })));
      let next = 0;
      let ok = 0;
      let failure: unknown;
      const started = performance.now();
      const reader = async (): Promise<void> => {
        while (next < READS && failure === undefined) {
          const n = next++;
          const due = started + (n * 1_000) / READS_PER_SECOND;
          if (due > performance.now()) await sleep(due - performance.now());
          const read = client.readStream(streams[n % streams.length]!);
          try {
            for await (const _event of read) {
              await read.cancel(); // the client's way to stop a read it no longer needs: RST_STREAM
              break;
            }
            ok++;
          } catch (error) {
            failure ??= error;
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, reader));
      return { ok, failure };
    } finally {
      await client.dispose();
    }
  };

  it(`serves ${READS} reads that the official client cancels after their first event, with sessions recycled every second`, async function () {
    const server = await startEmbeddedServer({ insecure: true, maxConnectionAgeMs: 1_000 });
    try {
      const { ok, failure } = await readAndCancel(server);
      expect(failure).to.equal(undefined);
      expect(ok).to.equal(READS);
    } finally {
      await server.close();
    }
  });
});
