/**
 * The receiver (issue 13): alerts accepted per second over HTTP with realistic Alertmanager
 * bodies (1-50 alerts each) from several concurrent posters, every alert durably appended before
 * the answer, beside the raw append of the same signal events through the same client in the same
 * run; then the ack latency (p50/p99) at half the rate reached. On the embedded server in memory,
 * then on SQLite with fsync. Prints figures, asserts nothing.
 * `node dist/bench/receiver.bench.js` (BENCH_ALERTS to scale, default 20,000; BENCH_POSTERS, default 8).
 */
import 'reflect-metadata';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Registry } from 'prom-client';

import { loadConfig } from '../src/container/config.js';
import type { EventStore } from '../src/eventstore/event-store.js';
import { startEmbeddedServer } from '../src/esdb-server/server.js';
import { startServerThread } from '../src/esdb-server/server-thread.js';
import { EsdbEventStore } from '../src/eventstore/esdb/esdb-event-store.js';
import { InMemoryEventStore } from '../src/eventstore/in-memory-event-store.js';
import { buildHttpApp } from '../src/http/http-app.js';
import { newToken, PrincipalDirectory } from '../src/principals/principals.js';
import { ReceiverMetrics } from '../src/receiver/receiver-metrics.js';
import { receiverRoutes } from '../src/receiver/receiver.js';
import { alertmanagerInputs } from '../src/signals/alertmanager.js';
import { signalCodec, signalEvent } from '../src/signals/signal-events.js';
import { SignalRecorder } from '../src/signals/signal-recorder.js';
import { systemClock } from '../src/shared/clock.js';
import { silentLogger } from '../src/shared/logger.js';
import { freePort, startStoreProcess } from '../test/worker/support/cluster.js';
import { describeMachineSpeed } from './machine-speed.js';
import { cpuMsOf } from './worker-instruments.js';

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ALERTS = Number(process.env['BENCH_ALERTS'] ?? 20_000);
const POSTERS = Number(process.env['BENCH_POSTERS'] ?? 8);
const sources = loadConfig().sources;

/** Webhook bodies of 1-50 alerts (a fixed pseudo-random sequence), `total` alerts in all, unique per run. */
function bodies(total: number, run: string): object[] {
  const out: object[] = [];
  let seed = 7;
  let n = 0;
  while (n < total) {
    seed = (seed * 48271) % 2147483647;
    const size = Math.min(total - n, 1 + (seed % 50));
    const alerts = Array.from({ length: size }, (_, i) => ({
      status: 'firing',
      labels: { alertname: `Alert${(n + i) % 40}`, service: `svc-${(n + i) % 25}`, severity: ['critical', 'warning', 'info'][(n + i) % 3] as string, instance: `10.0.${Math.floor((n + i) / 250)}.${(n + i) % 250}:9100`, job: 'node' },
      annotations: { summary: `alert ${n + i} fired`, description: 'a realistic description of what is wrong and where to look' },
      startsAt: new Date(Date.UTC(2026, 11, 1) + (n + i) * 1000).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph?g0.expr=up%3D%3D0',
      fingerprint: `${run}-${(n + i).toString(16).padStart(8, '0')}`,
    }));
    out.push({ version: '4', groupKey: `{}:{alertname="x${out.length}"}`, truncatedAlerts: 0, status: 'firing', receiver: 'opx', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am:9093', alerts });
    n += size;
  }
  return out;
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;

interface Figures {
  readonly rate: number;
  readonly rawRate: number;
}

/**
 * The receiver over `store`, at full speed and then at half that rate; and the raw append of the
 * same signal events through the same store at the same concurrency. `close` releases the store.
 */
async function measure(label: string, store: EventStore, close: () => Promise<void>, ceiling?: number, serverPid?: number): Promise<Figures> {
  /** CPU used so far (ms, every thread): this process (posters, HTTP, receiver, client) and the server's when it runs apart. */
  const cpu = (): { own: number; server: number } => ({ own: cpuMsOf(process.pid), server: serverPid === undefined ? 0 : cpuMsOf(serverPid) });
  const perAlert = (from: { own: number; server: number }, alerts: number): string => {
    const to = cpu();
    const own = (to.own - from.own) / alerts;
    return serverPid === undefined ? `CPU ${own.toFixed(3)} ms an alert` : `CPU ${own.toFixed(3)} ms an alert here + ${((to.server - from.server) / alerts).toFixed(3)} ms in the server`;
  };
  const token = newToken();
  const app = await buildHttpApp({ logger: silentLogger, registry: new Registry(), ready: async () => true, maxInFlight: 1_000 }, [
    (instance) =>
      receiverRoutes(instance, {
        recorder: new SignalRecorder(store, systemClock),
        sources,
        principals: PrincipalDirectory.empty().with('bench', ['ingest'], token),
        insecure: false,
        metrics: new ReceiverMetrics(new Registry()),
        logger: silentLogger,
        deadlineMs: 30_000,
      }),
  ]);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/api/v1/alerts/alertmanager`;
  const post = async (body: object): Promise<number> => {
    const t0 = performance.now();
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`answered ${response.status}`);
    return performance.now() - t0;
  };
  const inParallel = async (items: readonly object[], work: (item: object) => Promise<unknown>): Promise<void> => {
    let next = 0;
    await Promise.all(Array.from({ length: POSTERS }, async () => {
      while (next < items.length) await work(items[next++] as object);
    }));
  };

  try {
    // Warm-up, then the receiver at full speed.
    await inParallel(bodies(2_000, `${label}-warm`), post);
    const full = bodies(ALERTS, `${label}-full`);
    let cpu0 = cpu();
    let t0 = performance.now();
    await inParallel(full, post);
    const receiverMs = performance.now() - t0;
    const receiverCpu = perAlert(cpu0, ALERTS);
    const rate = (ALERTS / receiverMs) * 1000;

    // The raw append of the same signal events, same client, same concurrency (one append per fact, as the recorder makes).
    const raw = bodies(ALERTS, `${label}-raw`).flatMap((body) =>
      alertmanagerInputs(body as never, sources.alertmanager).map((input) => {
        if (input.kind !== 'fact') throw new Error('bench bodies are valid');
        const { streamId, id, event } = signalEvent(input.fact, { receivedAt: new Date().toISOString(), channel: 'bench' });
        return { streamId, event: signalCodec.encodeTrusted(event, id) };
      }),
    );
    let at = 0;
    cpu0 = cpu();
    t0 = performance.now();
    await Promise.all(Array.from({ length: POSTERS * 8 }, async () => {
      while (at < raw.length) {
        const { streamId, event } = raw[at++] as (typeof raw)[number];
        await store.append(streamId, [event], 'no_stream');
      }
    }));
    const rawMs = performance.now() - t0;
    const rawRate = (raw.length / rawMs) * 1000;
    const rawCpu = perAlert(cpu0, raw.length);

    // Ack latency at half the rate reached: bodies sent on a fixed schedule, each answer timed.
    const paced = bodies(Math.min(ALERTS, Math.round(rate * 5)), `${label}-paced`);
    const perBody = paced.length === 0 ? 0 : (ALERTS / full.length);
    const intervalMs = (perBody / (rate / 2)) * 1000;
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(paced.map(async (body, i) => {
      const due = started + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      latencies.push(await post(body));
    }));
    latencies.sort((a, b) => a - b);
    // Everything runs in this one process: the posters, HTTP, the receiver, the client and the server take turns on the
    // same cores, so the receiver cannot beat both costs paid one after the other.
    const bound = ceiling === undefined ? undefined : 1 / (1 / ceiling + 1 / rawRate);
    console.log(
      `  ${label}: ${fmt(rate)} alerts/s accepted over HTTP (${full.length} bodies of 1-50 alerts, ${POSTERS} posters, each answered after its appends; ${receiverCpu}); ` +
        `raw append of the same signal events ${fmt(rawRate)}/s (${rawCpu}; ratio ${(rate / rawRate).toFixed(2)}x)` +
        (bound === undefined ? '' : `; both costs in one process bound it at ${fmt(bound)}/s (reached ${(rate / bound).toFixed(2)}x)`) +
        `; at half that rate (${fmt(rate / 2)}/s) ack p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms`,
    );
    return { rate, rawRate };
  } finally {
    await app.close();
    await close();
  }
}

/**
 * Where the embedded server runs (BENCH_SERVER, comma-separated; default `thread,process`):
 * - `thread`: a thread of this process, as `opx serve` runs it over a data dir or `--memory` (TLS,
 *   credentials made for the process);
 * - `process`: a process of its own, as `opx store serve` runs beside `opx serve --connection`;
 * - `in-process`: this very thread, where the posters, the receiver, the client and the server
 *   all take turns (how `opx serve` ran it before the thread).
 */
const PLACES = (process.env['BENCH_SERVER'] ?? 'thread,process').split(',');

async function onEmbeddedServer(label: string, dataDir: string | undefined, ceiling: number): Promise<void> {
  for (const place of PLACES) {
    if (place === 'thread') {
      const server = await startServerThread(dataDir === undefined ? {} : { dataDir });
      const store = EsdbEventStore.fromEndpoint(server.endpoint);
      await measure(`${label}, a thread of this process (TLS)`, store, async () => {
        await store.close();
        await server.close();
      });
    } else if (place === 'process') {
      const server = await startStoreProcess({ port: await freePort(), ...(dataDir === undefined ? {} : { dataDir }) });
      const store = EsdbEventStore.fromConnectionString(server.connectionString);
      await measure(`${label}, its own process`, store, async () => {
        await store.close();
        await server.process.kill('SIGTERM');
      }, undefined, server.process.pid);
    } else if (place === 'in-process') {
      const server = await startEmbeddedServer(dataDir === undefined ? { insecure: true } : { insecure: true, dataDir });
      const store = EsdbEventStore.fromConnectionString(server.connectionString);
      await measure(`${label}, this thread`, store, async () => {
        await store.close();
        await server.close();
      }, ceiling);
    } else {
      throw new Error(`BENCH_SERVER: unknown place '${place}' (thread, process, in-process)`);
    }
  }
}

console.log(`receiver bench (${fmt(ALERTS)} alerts, targets: >= 5,000 alerts/s on the embedded server in memory, p99 < 100 ms at half that rate)`);
console.log(describeMachineSpeed());
// The receiver's own ceiling: HTTP, parsing, validation and recording over the in-process store (no gRPC, no server).
const { rate: ceiling } = await measure('in-process store (the receiver alone: HTTP, validation, recording)', new InMemoryEventStore(), async () => undefined);
await onEmbeddedServer('embedded server, memory', undefined, ceiling);
const dir = mkdtempSync(join(tmpdir(), 'opx-receiver-bench-'));
try {
  await onEmbeddedServer('embedded server, SQLite (fsync)', dir, ceiling);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
