import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EventStoreDBClient, jsonEvent, NO_STREAM, START, streamNameFilter, type AppendExpectedRevision } from '@eventstore/db-client';
import { systemClock } from '../src/esdb-server/clock.js';
import { SqliteEngine } from '../src/esdb-server/storage/sqlite-engine.js';
import { EventStoreCore, type ExpectedRevision } from '../src/esdb-server/store.js';
import type { CommitStats } from '../src/esdb-server/commit-queue.js';
import { freePort, ManagedProcess, SERVER_MAIN } from '../test/worker/support/cluster.js';
import { cpuMsOf } from './worker-instruments.js';

/**
 * The embedded server's append path on SQLite with fsync (synchronous=FULL), beside its limit in
 * the same run (printed, never asserted):
 * - appends/s through the official client: WRITERS concurrent writers, each appending to streams
 *   of its own as the orchestrator does (a candidate's CandidateCreated at no_stream, its
 *   PromotionDecided and IncidentCreated at their expected revisions, the incident's IncidentOpened
 *   at no_stream), one append in flight per writer, the server in a process of its own;
 * - the raw group-commit rate of the same SQLite file: the same appends committed WRITERS to a
 *   transaction (one fsync), as the server commits them, in a loop in this process, no gRPC;
 * - then, for half as long, the writers beside a second client's reads of a 3-event stream, one
 *   at a time READ_PAUSE_MS apart (latency beside the same reads with no writer, in the same run),
 *   and a catch-up subscription's delivery delay (from the append being sent): an fsync that
 *   stalls the server's event loop shows in both. The appends/s figure above has no reader, so it
 *   does not depend on how the server shares its time between reads and writes.
 * - the same writers against an in-memory server (no SQLite, no fsync), for half as long: what
 *   the client, gRPC and the server's protocol work allow at that moment;
 * - where the server's time went: its commit figures (writes per commit and fsync, time queued,
 *   in the SQLite transaction and until the fsync landed, from the line it prints on closing),
 *   and CPU per append of the server (all its threads, /proc), of this process (the official
 *   client) and of the raw loop. With 8 writers and one append in flight each, the client's rate
 *   is at most 8 / (fsync + the round trip to the client and back + the commit), the raw loop's
 *   8 / (fsync + the commit): no round trip at all, so the ratio is a bound, never reachable.
 * The SQLite figures alternate BENCH_PAIRS times (default 2), BENCH_SECONDS each (default 5).
 * Run: node dist/bench/append.bench.js (BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the server;
 * BENCH_SERVER_MAIN=<other build>/dist/src/esdb-server/main.js measures another build's server).
 */
const WRITERS = Number(process.env['BENCH_WRITERS'] ?? 8);
const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 2);
const DURATION_MS = Number(process.env['BENCH_SECONDS'] ?? 5) * 1000;
const WARM_UP_MS = 1_000;
/** The reader's pause between reads: a steady trickle of reads, not a load of its own. */
const READ_PAUSE_MS = 5;
const SERVER_NODE_ARGS = (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');
/** Another build's server (e.g. the base commit's dist/src/esdb-server/main.js), to set two builds side by side. */
const SERVER_ENTRY = process.env['BENCH_SERVER_MAIN'] ?? SERVER_MAIN;

interface StoreProcess {
  readonly process: ManagedProcess;
  readonly connectionString: string;
}

async function startServer(dataDir: string | undefined): Promise<StoreProcess> {
  const port = await freePort();
  const store = dataDir === undefined ? ['--memory'] : ['--data', dataDir];
  const child = new ManagedProcess('store', [...SERVER_NODE_ARGS, SERVER_ENTRY, '--port', String(port), '--insecure', ...store]);
  await child.waitForLine((line) => line.includes('listening'));
  return { process: child, connectionString: `esdb://127.0.0.1:${port}?tls=false` };
}

const rate = (n: number, ms: number): number => Math.round((n * 1000) / ms);
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
const ms = (value: number): string => value.toFixed(value < 10 ? 2 : 1);
const summary = (samples: number[]): string => {
  const sorted = [...samples].sort((a, b) => a - b);
  return `p50 ${ms(percentile(sorted, 0.5))} ms, p99 ${ms(percentile(sorted, 0.99))} ms, max ${ms(sorted[sorted.length - 1] ?? Number.NaN)} ms (${sorted.length})`;
};
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
};

// ------------------------------------------------------------------ what a writer appends

const policyHash = 'a3f1c2d4e5b6978812345678901234567890abcdef1234567890abcdef123456';

/** One append of the orchestrator's shape: a stream of the writer's own, the revision it expects, one small JSON event. */
interface PlannedAppend {
  readonly streamId: string;
  /** -1n: no_stream. */
  readonly expected: bigint;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly metadata: Record<string, unknown>;
}

/** A writer's appends for one candidate, in order: what the worker writes for a promoted candidate. */
function candidateAppends(): PlannedAppend[] {
  const candidateId = randomUUID();
  const incidentId = randomUUID();
  const correlation = { $correlationId: randomUUID(), $causationId: randomUUID() };
  const candidate = `candidate-${candidateId}`;
  const at = new Date().toISOString();
  return [
    {
      streamId: candidate,
      expected: -1n,
      type: 'CandidateCreated',
      data: { candidateId, service: 'checkout-api', severity: 'SEV2', signalCount: 4, windowStart: at, windowEnd: at, createdAt: at },
      metadata: { ...correlation, policyId: 'default-promotion', policyVersion: 3, groupKey: 'checkout-api|SEV2', signalIds: [randomUUID(), randomUUID()] },
    },
    {
      streamId: candidate,
      expected: 0n,
      type: 'PromotionDecided',
      data: { decisionId: randomUUID(), candidateId, decision: 'PROMOTE', rule: 'sev2-many-signals', policyId: 'default-promotion', policyVersion: 3, policyHash, authority: 'system:cp6', decidedAt: at },
      metadata: correlation,
    },
    {
      streamId: candidate,
      expected: 1n,
      type: 'IncidentCreated',
      data: { incidentId, candidateId, decisionId: randomUUID(), severity: 'SEV2', service: 'checkout-api', createdAt: at },
      metadata: correlation,
    },
    {
      streamId: `incident-${incidentId}`,
      expected: -1n,
      type: 'IncidentOpened',
      data: { incidentId, candidateId, severity: 'SEV2', service: 'checkout-api', state: 'OPEN', openedAt: at },
      metadata: correlation,
    },
  ];
}

/** An endless sequence of one writer's appends. */
class Writer {
  #queue: PlannedAppend[] = [];

  next(): PlannedAppend {
    if (this.#queue.length === 0) this.#queue = candidateAppends();
    return this.#queue.shift()!;
  }
}

// ------------------------------------------------------------------ the raw group commit

const encoder = new TextEncoder();

/**
 * The same appends committed as the server commits them, with no gRPC: WRITERS appends (one per
 * writer) through the store's rules in one transaction, so one fsync, in a loop.
 */
function rawGroupCommitRate(dataDir: string, durationMs: number): { appendsPerSecond: number; commitsPerSecond: number; cpuMsPerAppend: number } {
  const engine = new SqliteEngine(dataDir);
  const core = new EventStoreCore(engine, systemClock);
  const writers = Array.from({ length: WRITERS }, () => new Writer());
  const expectedOf = (revision: bigint): ExpectedRevision => (revision < 0n ? { kind: 'no_stream' } : { kind: 'revision', revision });
  const commitBatch = (): void => {
    const batch = writers.map((w) => w.next());
    engine.transaction(() => {
      for (const append of batch) {
        const outcome = core.append(append.streamId, expectedOf(append.expected), [
          { eventId: randomUUID(), type: append.type, contentType: 'application/json', data: encoder.encode(JSON.stringify(append.data)), metadata: encoder.encode(JSON.stringify(append.metadata)) },
        ]);
        if (outcome.kind !== 'success') throw new Error(`raw append to ${append.streamId} refused: ${outcome.kind}`);
      }
    });
  };
  try {
    for (const stop = performance.now() + 300; performance.now() < stop; ) commitBatch();
    let commits = 0;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    while (performance.now() - started < durationMs) {
      commitBatch();
      commits++;
    }
    const elapsed = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    return { appendsPerSecond: rate(commits * WRITERS, elapsed), commitsPerSecond: rate(commits, elapsed), cpuMsPerAppend: (cpu.user + cpu.system) / 1000 / (commits * WRITERS) };
  } finally {
    engine.close();
  }
}

// ------------------------------------------------------------------ through the official client

interface ClientFigures {
  readonly appendsPerSecond: number;
  readonly ackMs: number[];
  readonly idleReadMs: number[];
  readonly busyReadMs: number[];
  readonly subscriptionDelayMs: number[];
  readonly serverCpuMsPerAppend: number;
  /** CPU of this process (the official client, 8 writers) per append. */
  readonly clientCpuMsPerAppend: number;
  /** Appends/s while a reader and a catch-up subscription run too. */
  readonly appendsPerSecondWithReaders: number;
}

const expectedRevisionOf = (revision: bigint): AppendExpectedRevision => (revision < 0n ? NO_STREAM : revision);

async function runWriters(client: EventStoreDBClient, durationMs: number, onAppend?: (eventId: string, sentAt: number, ackedAt: number) => void, sent?: Map<string, number>): Promise<number> {
  const stop = performance.now() + durationMs;
  let appends = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      const writer = new Writer();
      while (performance.now() < stop) {
        const append = writer.next();
        const event = jsonEvent({ id: randomUUID(), type: append.type, data: append.data, metadata: append.metadata });
        const sentAt = performance.now();
        sent?.set(event.id, sentAt);
        await client.appendToStream(append.streamId, event, { expectedRevision: expectedRevisionOf(append.expected) });
        onAppend?.(event.id, sentAt, performance.now());
        appends++;
      }
    }),
  );
  return appends;
}

/** Reads a 3-event stream, one read at a time READ_PAUSE_MS apart, until `until` resolves, timing each read. */
async function readLoop(client: EventStoreDBClient, streamId: string, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.then(() => (done = true));
  const latencies: number[] = [];
  while (!done) {
    const t0 = performance.now();
    let count = 0;
    for await (const _event of client.readStream(streamId)) count++;
    if (count !== 3) throw new Error(`read ${count} events of ${streamId}, not 3`);
    latencies.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, READ_PAUSE_MS));
  }
  return latencies;
}

async function clientFigures(server: StoreProcess, durationMs: number): Promise<ClientFigures> {
  const writers = EventStoreDBClient.connectionString(server.connectionString);
  const reader = EventStoreDBClient.connectionString(server.connectionString);
  try {
    const short = `bench-read-${randomUUID()}`;
    await reader.appendToStream(short, [1, 2, 3].map((i) => jsonEvent({ type: 'R', data: { i } })));
    await runWriters(writers, WARM_UP_MS);
    const idleReadMs = await readLoop(reader, short, new Promise((resolve) => setTimeout(resolve, 1_500)));

    const ackMs: number[] = [];
    const cpuBefore = cpuMsOf(server.process.pid);
    const clientCpuBefore = process.cpuUsage();
    const started = performance.now();
    const appends = await runWriters(writers, durationMs, (_id, sentAt, ackedAt) => ackMs.push(ackedAt - sentAt));
    const elapsed = performance.now() - started;
    const cpu = cpuMsOf(server.process.pid) - cpuBefore;
    const clientCpu = process.cpuUsage(clientCpuBefore);

    const sent = new Map<string, number>();
    const subscriptionDelayMs: number[] = [];
    const subscription = reader.subscribeToAll({ fromPosition: START, filter: streamNameFilter({ prefixes: ['candidate-', 'incident-'] }) });
    subscription.on('data', (resolved) => {
      const sentAt = resolved.event === undefined ? undefined : sent.get(resolved.event.id);
      if (sentAt === undefined) return;
      subscriptionDelayMs.push(performance.now() - sentAt);
      sent.delete(resolved.event!.id);
    });
    await new Promise((resolve, reject) => subscription.once('caughtUp', resolve).once('error', reject));

    const mixedStarted = performance.now();
    const writing = runWriters(writers, durationMs / 2, undefined, sent);
    const [mixedAppends, busyReadMs] = await Promise.all([writing, readLoop(reader, short, writing)]);
    const mixedElapsed = performance.now() - mixedStarted;
    await new Promise((resolve) => setTimeout(resolve, 200));
    await subscription.unsubscribe();
    return {
      appendsPerSecond: rate(appends, elapsed),
      ackMs,
      idleReadMs,
      busyReadMs,
      subscriptionDelayMs,
      serverCpuMsPerAppend: cpu / appends,
      clientCpuMsPerAppend: (clientCpu.user + clientCpu.system) / 1000 / appends,
      appendsPerSecondWithReaders: rate(mixedAppends, mixedElapsed),
    };
  } finally {
    await writers.dispose();
    await reader.dispose();
  }
}

/** The server's commit figures, from the line it prints when it closes. */
function commitStatsOf(child: ManagedProcess): CommitStats | undefined {
  for (const line of child.lines) {
    try {
      const parsed = JSON.parse(line) as { event?: string; commits?: CommitStats };
      if (parsed.event === 'closed') return parsed.commits;
    } catch {
      // not JSON
    }
  }
  return undefined;
}

const describeCommits = (c: CommitStats): string => {
  const sizes = Object.entries(c.batchSizes)
    .map(([size, count]) => `${size}:${count}`)
    .join(' ');
  return `${c.commits} commits, ${(c.writes / c.commits).toFixed(2)} writes per commit and fsync (size:commits ${sizes}), ${c.holds} held for writers to come back, ${c.gated ?? 0} followed by a wait for a checkpoint's tail; per write ${ms(c.queuedMs / c.writes)} ms queued; per commit ${ms(c.commitMs / c.commits)} ms in the SQLite transaction, ${ms(c.flushMs / c.commits)} ms until its fsync landed`;
};

/**
 * The same writers against an in-memory server (no SQLite, no fsync): what the client, gRPC and
 * the server's protocol work allow on this machine at this moment, so the SQLite figure can be
 * read as the commit pipeline's share of the gap.
 */
async function inMemoryRate(durationMs: number): Promise<{ appendsPerSecond: number; serverCpuMsPerAppend: number; clientCpuMsPerAppend: number }> {
  const server = await startServer(undefined);
  const client = EventStoreDBClient.connectionString(server.connectionString);
  try {
    await runWriters(client, WARM_UP_MS / 2);
    const cpuBefore = cpuMsOf(server.process.pid);
    const clientCpuBefore = process.cpuUsage();
    const started = performance.now();
    const appends = await runWriters(client, durationMs);
    const elapsed = performance.now() - started;
    const clientCpu = process.cpuUsage(clientCpuBefore);
    return {
      appendsPerSecond: rate(appends, elapsed),
      serverCpuMsPerAppend: (cpuMsOf(server.process.pid) - cpuBefore) / appends,
      clientCpuMsPerAppend: (clientCpu.user + clientCpu.system) / 1000 / appends,
    };
  } finally {
    await client.dispose();
    await server.process.kill('SIGTERM');
  }
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'opx-append-bench-'));
  const dataDir = join(dir, 'data');
  try {
    console.log(
      `append bench: ${WRITERS} writers through the official client (server in its own process) beside the raw group commit of the same SQLite file (synchronous=FULL), ${DURATION_MS / 1000} s each, ${PAIRS} pairs`,
    );
    const ratios: number[] = [];
    const rates: number[] = [];
    const memoryRates: number[] = [];
    for (let pair = 1; pair <= PAIRS; pair++) {
      const server = await startServer(dataDir);
      let client: ClientFigures;
      try {
        client = await clientFigures(server, DURATION_MS);
      } finally {
        await server.process.kill('SIGTERM');
      }
      const commits = commitStatsOf(server.process);
      const raw = rawGroupCommitRate(dataDir, DURATION_MS);
      const memory = await inMemoryRate(DURATION_MS / 2);
      memoryRates.push(memory.appendsPerSecond);
      const ratio = client.appendsPerSecond / raw.appendsPerSecond;
      ratios.push(ratio);
      rates.push(client.appendsPerSecond);
      console.log(
        `pair ${pair}: client ${client.appendsPerSecond} appends/s, raw group commit ${raw.appendsPerSecond} appends/s (${raw.commitsPerSecond} commits/s of ${WRITERS}), client/raw ${ratio.toFixed(2)}; CPU per append: server ${client.serverCpuMsPerAppend.toFixed(3)} ms, client ${client.clientCpuMsPerAppend.toFixed(3)} ms, raw ${raw.cpuMsPerAppend.toFixed(3)} ms`,
      );
      console.log(`  append ack: ${summary(client.ackMs)}`);
      if (commits !== undefined) console.log(`  server commits (whole run, readers too): ${describeCommits(commits)}`);
      console.log(
        `  the same writers on an in-memory server (no SQLite, no fsync): ${memory.appendsPerSecond} appends/s, CPU per append: server ${memory.serverCpuMsPerAppend.toFixed(3)} ms, client ${memory.clientCpuMsPerAppend.toFixed(3)} ms`,
      );
      console.log(`  then ${DURATION_MS / 2000} s of the writers beside a reader (a read every ${READ_PAUSE_MS} ms) and a catch-up subscription: ${client.appendsPerSecondWithReaders} appends/s`);
      console.log(`  readStream (3 events), no writers: ${summary(client.idleReadMs)}`);
      console.log(`  readStream (3 events), writers running: ${summary(client.busyReadMs)}`);
      console.log(`  catch-up subscription, delivery after the append was sent: ${summary(client.subscriptionDelayMs)}`);
    }
    console.log(`client appends/s: median ${Math.round(median(rates))} (${rates.join(', ')}); limit >= 3,000`);
    console.log(`in-memory server appends/s: median ${Math.round(median(memoryRates))} (${memoryRates.join(', ')})`);
    console.log(`client/raw: median ${median(ratios).toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(', ')}); limit >= 0.8`);
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
