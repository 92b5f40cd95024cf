import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  EventStoreDBClient,
  jsonEvent,
  persistentSubscriptionToStreamSettingsFromDefaults,
  START,
} from '@eventstore/db-client';
import { systemClock } from '../src/esdb-server/clock.js';
import { startEmbeddedServer } from '../src/esdb-server/server.js';
import { SqliteEngine } from '../src/esdb-server/storage/sqlite-engine.js';
import { EventStoreCore } from '../src/esdb-server/store.js';

/**
 * Embedded EventStoreDB-compatible server figures (printed, never asserted):
 * - persistent-subscription deliveries/s (ack per event);
 * - readStream of a 3-event stream: sequential p50/p99 latency and 300 reads at once;
 * - RSS before/after a catch-up subscription to $all consumes BENCH_EVENTS events
 *   (default 200,000; BENCH_EVENTS=1000000 shows memory stays flat).
 * Appends: bench/append.bench.ts.
 * Run: node dist/bench/esdb-server.bench.js
 */
const READS = 300;
const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const rate = (n: number, ms: number): number => Math.round((n * 1000) / ms);

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'opx-esdb-bench-'));
  try {
    console.log('esdb-server bench: SQLite synchronous=FULL (WAL), server and client in this process');
    const server = await startEmbeddedServer({ dataDir: join(dir, 'server') });
    const client = EventStoreDBClient.connectionString(server.connectionString);
    // persistent-subscription deliveries/s
    const psStream = `bench-ps-${randomUUID()}`;
    const psEvents = 20_000;
    for (let i = 0; i < psEvents; i += 500)
      await client.appendToStream(psStream, Array.from({ length: 500 }, (_, k) => jsonEvent({ type: 'P', data: { i: i + k } })));
    await client.createPersistentSubscriptionToStream(
      psStream,
      'bench',
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: 'start' }),
    );
    const sub = client.subscribeToPersistentSubscriptionToStream(psStream, 'bench', { bufferSize: 100 });
    const psStarted = Date.now();
    let delivered = 0;
    for await (const d of sub) {
      await sub.ack(d);
      if (++delivered === psEvents) break;
    }
    console.log(`persistent deliveries/s (ack each, bufferSize 100): ${rate(delivered, Date.now() - psStarted)}`);

    // readStream of a short stream: sequential latency, then READS reads at once
    const short = `bench-read-${randomUUID()}`;
    await client.appendToStream(short, [1, 2, 3].map((i) => jsonEvent({ type: 'R', data: { i } })));
    const readShort = async (): Promise<void> => {
      for await (const _event of client.readStream(short)) {
        // drain
      }
    };
    for (let i = 0; i < 200; i++) await readShort();
    const latencies: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now();
      await readShort();
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    const at = (p: number): string => (latencies[Math.floor(p * latencies.length)] ?? Number.NaN).toFixed(2);
    const concurrentStarted = performance.now();
    await Promise.all(Array.from({ length: READS }, () => readShort()));
    console.log(
      `readStream of 3 events: sequential p50 ${at(0.5)} ms, p99 ${at(0.99)} ms; ${READS} at once ${(performance.now() - concurrentStarted).toFixed(0)} ms`,
    );
    await client.dispose();
    await server.close();

    // memory while a catch-up subscription consumes EVENTS events (populated through the core)
    const memDir = join(dir, 'memory');
    const core = new EventStoreCore(new SqliteEngine(memDir, { synchronous: 'NORMAL' }), systemClock);
    const payload = Buffer.from(JSON.stringify({ text: 'x'.repeat(200) }));
    for (let i = 0; i < EVENTS; i += 1000) {
      core.append(
        `mem-${i % 97}`,
        { kind: 'any' },
        Array.from({ length: Math.min(1000, EVENTS - i) }, () => ({
          eventId: randomUUID(),
          type: 'MemEvent',
          contentType: 'application/json',
          data: payload,
          metadata: new Uint8Array(0),
        })),
      );
    }
    core.engine.close();
    const memServer = await startEmbeddedServer({ dataDir: memDir });
    const memClient = EventStoreDBClient.connectionString(memServer.connectionString);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const started = Date.now();
    let consumed = 0;
    const subscription = memClient.subscribeToAll({ fromPosition: START });
    for await (const _event of subscription) {
      if (++consumed % 50_000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      if (consumed === EVENTS) break;
    }
    await subscription.unsubscribe();
    const elapsed = Date.now() - started;
    global.gc?.();
    const after = process.memoryUsage().rss;
    console.log(
      `catch-up subscription over ${EVENTS} events: ${rate(consumed, elapsed)} events/s; RSS before ${mb(before)}, peak ${mb(peak)}, after ${mb(after)} (server and client in this process)`,
    );
    await memClient.dispose();
    await memServer.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
