/**
 * In-process figures: orchestration on the in-memory store beside the raw cost of appending the
 * same events with no logic (its limit: <= 3x); the replay audit's throughput and the heap it
 * leaves; the audit's compact set of deferred streams beside a Set of the same ids. Prints
 * figures, asserts nothing. `node dist/bench/core.bench.js` (BENCH_CANDIDATES to scale;
 * BENCH_CORE=orchestration, replay or stream-set for one part).
 */
import 'reflect-metadata';

import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { loadConfig } from '../src/container/config.js';
import { createOpxContainer } from '../src/container/modules.js';
import { TOKENS } from '../src/container/tokens.js';
import type { ExpectedRevision, RecordedEvent } from '../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../src/eventstore/in-memory-event-store.js';
import { PROJECTED_STREAM_PREFIXES } from '../src/projections/read-models.js';
import { exportHistory, importHistory } from '../src/replay/history-file.js';
import { ReplayAudit } from '../src/replay/replay-audit.js';
import { StreamIdSet } from '../src/replay/stream-id-set.js';
import { correlate } from '../src/correlation/correlator.js';
import { ingestCandidates, ingestSignals, processCandidateInputs } from '../src/runtime/in-process.js';
import { generateSampleSignals } from '../src/samples/sample-signals.js';
import { describeMachineSpeed } from './machine-speed.js';

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

interface OrchestrationRun {
  readonly handled: number;
  readonly correlated: number;
  readonly events: number;
  readonly orchestrationMs: number;
  readonly rawMs: number;
  /** The same appends through the EventStore port (`await append`), as the orchestration makes them. */
  readonly portMs: number;
}

/**
 * A collected heap (with --expose-gc) after a turn of the event loop: a WeakRef's target (inversify's
 * plan cache) lives until the task ends, and would keep the last run's container alive (docs/performance.md).
 */
async function collected(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  global.gc?.();
}

/** One run: a fresh container, the candidates recorded, then orchestrated (timed), then the raw appends (timed). */
async function orchestrationRun(groups: number): Promise<OrchestrationRun> {
  const config = loadConfig();
  const container = createOpxContainer({ config });
  const store = container.get(TOKENS.EventStore) as InMemoryEventStore;
  const signals = generateSampleSignals({ groups, seed: 7 });
  const { candidates } = await ingestSignals(signals, config.correlationRules, container.get(TOKENS.CandidateStore));
  const inputsEnd = BigInt(store.size - 1);

  await collected(); // each timed part starts from a collected heap, the raw ones too
  const t0 = performance.now();
  const { handled } = await processCandidateInputs(store, container.get(TOKENS.HandlerContext));
  const orchestrationMs = performance.now() - t0;

  // Raw: the same events the orchestration appended, appended again with no logic, at the same
  // expected revisions, into a store that already holds the inputs. Their payloads are copied
  // first (untimed): the store freezes what it is given, and a payload it already froze would
  // skip that, so re-appending the recorded objects would time less than an append does.
  const written: RecordedEvent[] = [];
  for await (const e of store.readAll({ after: inputsEnd })) written.push(e);
  /** The written events with fresh payloads, and a store holding just the inputs, to append them to. */
  const rawSetup = async (): Promise<{ events: RecordedEvent[]; target: InMemoryEventStore }> => {
    const target = new InMemoryEventStore();
    for await (const e of store.readAll({ streamPrefixes: ['candidate-'], maxCount: Number(inputsEnd) + 1 })) target.appendSync(e.streamId, [e], 'no_stream');
    return { events: written.map((e) => ({ ...e, data: structuredClone(e.data), metadata: structuredClone(e.metadata) })), target };
  };
  const expected = (e: RecordedEvent): ExpectedRevision => (e.revision === 0n ? 'no_stream' : e.revision - 1n);

  const raw = await rawSetup();
  await collected();
  const t1 = performance.now();
  for (const e of raw.events) raw.target.appendSync(e.streamId, [e], expected(e));
  const rawMs = performance.now() - t1;

  // The same again through the port, as the orchestration appends (`await append`), beside it.
  const port = await rawSetup();
  await collected();
  const t2 = performance.now();
  for (const e of port.events) await port.target.append(e.streamId, [e], expected(e));
  const portMs = performance.now() - t2;
  return { handled, correlated: candidates.length, events: written.length, orchestrationMs, rawMs, portMs };
}

/** Runs of the orchestration figures: the VM's noise moves one run's ratio by ±20%, so the median of these is reported. */
const ORCHESTRATION_RUNS = 5;

async function orchestrationThroughput(groups: number): Promise<void> {
  const runs: OrchestrationRun[] = [];
  for (let i = 0; i < ORCHESTRATION_RUNS; i++) runs.push(await orchestrationRun(groups));
  const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  const first = runs[0] as OrchestrationRun;
  const perSecond = runs.map((r) => r.handled / (r.orchestrationMs / 1000));
  const ratios = runs.map((r) => r.orchestrationMs / r.rawMs);
  console.log(
    `orchestration (in-process, in-memory store, ${fmt(first.handled)} candidates of ${fmt(first.correlated)} correlated; median of ${ORCHESTRATION_RUNS} runs):`,
  );
  console.log(`  candidates/s              ${fmt(median([...perSecond]))}   (runs ${perSecond.map(fmt).join(', ')})`);
  console.log(`  events appended           ${fmt(first.events)} in ${runs.map((r) => r.orchestrationMs.toFixed(0)).join(' / ')} ms`);
  console.log(
    `  raw append of same events ${runs.map((r) => r.rawMs.toFixed(0)).join(' / ')} ms (${fmt(first.events / (median(runs.map((r) => r.rawMs)) / 1000))} events/s)`,
  );
  console.log(
    `  ratio orchestration/raw   ${median([...ratios]).toFixed(2)}x   (its limit, the raw append: target <= 3x; runs ${ratios.map((r) => r.toFixed(2)).join(', ')})`,
  );
  const portRatios = runs.map((r) => r.orchestrationMs / r.portMs);
  console.log(
    `  (beside: the same appends through the port, await append: ${runs.map((r) => r.portMs.toFixed(0)).join(' / ')} ms, ` +
      `ratio ${median([...portRatios]).toFixed(2)}x; the target is judged against the raw append above)`,
  );
}

/**
 * Replays of one history: the first is cold (V8 still compiling the handlers); more follow until
 * WARM_UP_MS of replaying has passed (a short history's replays each take a fraction of a second,
 * and V8 optimizes its hottest code only after a second or so), then WARM_RUNS measured ones.
 */
const WARM_UP_MS = 1_500;
const WARM_RUNS = 4;

/**
 * ingest-first: every candidate recorded, then every one decided; interleaved: each decided right
 * after it is recorded, as with a worker keeping up (the audit then replays it from the scan).
 */
type HistoryShape = 'ingest-first' | 'interleaved';

/**
 * A recorded history of `groups` signal groups, exported: the container that recorded it is
 * dropped here, and the replay is measured elsewhere (see {@link replayThroughput}).
 */
async function recordedHistory(groups: number, shape: HistoryShape): Promise<string[]> {
  const config = loadConfig();
  const container = createOpxContainer({ config });
  const signals = generateSampleSignals({ groups, seed: 11 });
  const store = container.get(TOKENS.EventStore);
  const context = container.get(TOKENS.HandlerContext);
  if (shape === 'ingest-first') {
    await ingestSignals(signals, config.correlationRules, container.get(TOKENS.CandidateStore));
    await processCandidateInputs(store, context);
  } else {
    let position: bigint | undefined;
    for (const candidate of correlate(signals, config.correlationRules)) {
      await ingestCandidates([candidate], container.get(TOKENS.CandidateStore));
      position = (await processCandidateInputs(store, context, position)).position;
    }
  }
  return exportHistory(store, PROJECTED_STREAM_PREFIXES);
}

interface ReplayFigures {
  readonly events: number;
  readonly coldPerSecond: number;
  readonly warmPerSecond: number;
  readonly heapAfter: number;
}

/**
 * The replay of a history, measured as `opx replay` runs it: in a thread of its own that never
 * recorded anything, over the history imported there (docs/performance.md: pretenuring).
 */
async function replayThroughput(groups: number, shape: HistoryShape): Promise<ReplayFigures> {
  const lines = await recordedHistory(groups, shape);
  const worker = new Worker(new URL(import.meta.url), { workerData: { replayHistory: lines } });
  const [figures] = (await once(worker, 'message')) as [ReplayFigures];
  await once(worker, 'exit');
  return figures;
}

/** In the replay thread: imports the history, then times replays of it. */
async function measureReplay(lines: readonly string[]): Promise<ReplayFigures> {
  const config = loadConfig();
  const source = new InMemoryEventStore();
  await importHistory(source, lines);
  let events = 0;
  let heapAfter = 0;
  /** One replay and its rate. */
  const replay = async (): Promise<number> => {
    const t0 = performance.now();
    const report = await new ReplayAudit(config).run(source);
    const ms = performance.now() - t0;
    if (report.verdict !== 'IDENTICAL') console.log(`  !! replay verdict ${report.verdict}`);
    events = report.eventsRead;
    return report.eventsRead / (ms / 1000);
  };
  const started = performance.now();
  const cold = await replay();
  while (performance.now() - started < WARM_UP_MS) await replay();
  // Timed back to back, as one long audit runs: a full collection forced before a short replay
  // would shrink the young generation it then runs in, and time the regrowth.
  const warm: number[] = [];
  for (let i = 0; i < WARM_RUNS; i++) warm.push(await replay());
  warm.sort((a, b) => a - b);
  // What a replay leaves behind, between full collections (with --expose-gc), apart from the timing.
  for (let i = 0; i < 2; i++) {
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    await replay();
    global.gc?.();
    heapAfter = Math.max(heapAfter, process.memoryUsage().heapUsed - heapBefore);
  }
  return { events, coldPerSecond: cold, warmPerSecond: ((warm[1] as number) + (warm[2] as number)) / 2, heapAfter };
}

/** A candidate stream id, as a reader hands it over: a flat string of its own, made anew each time. */
function freshStreamId(i: number): string {
  const hex = ((i * 2_654_435_761) % 2 ** 32).toString(16).padStart(8, '0');
  return Buffer.from(`candidate-cand-${hex}${hex.slice(0, 4)}${i.toString(16).padStart(12, '0')}`, 'latin1').toString('latin1');
}

interface SetFigures {
  readonly retainedBytes: number;
  readonly nsPerId: number;
}

/**
 * `count` ids added, then looked up and deleted in the same order (the scan's use), each id made
 * anew (the time making them takes is measured apart and left out); the set measured full, its
 * heap and typed arrays' memory both.
 */
async function setRun(make: () => { add(id: string): unknown; has(id: string): boolean; delete(id: string): boolean }, count: number): Promise<SetFigures> {
  const memory = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  let sink = 0;
  const t = performance.now();
  for (let i = 0; i < count * 3; i++) sink += freshStreamId(i % count).length;
  const idsMs = performance.now() - t;
  await collected();
  const base = memory();
  const t0 = performance.now();
  const set = make();
  for (let i = 0; i < count; i++) set.add(freshStreamId(i));
  const addMs = performance.now() - t0;
  global.gc?.();
  const retainedBytes = memory() - base;
  const t1 = performance.now();
  for (let i = 0; i < count; i++) if (!set.has(freshStreamId(i)) || !set.delete(freshStreamId(i))) throw new Error('lost an id');
  const totalMs = addMs + performance.now() - t1;
  if (sink === 0) throw new Error('unreachable');
  return { retainedBytes, nsPerId: (Math.max(0, totalMs - idsMs) * 1e6) / count };
}

/**
 * The one hand-written data structure the audit keeps, beside the Map-based structure it would be
 * otherwise (a Set of the ids), over as many ids as a 1M-event history recorded ingest-first defers
 * (one per candidate, ~300,000), runs alternated. It is kept while it is worth 10% or more.
 */
async function streamSetComparison(count: number): Promise<void> {
  const runs: Array<{ compact: SetFigures; set: SetFigures }> = [];
  for (let i = 0; i < 3; i++) {
    const compact = await setRun(() => new StreamIdSet('candidate-cand-'), count);
    const set = await setRun(() => new Set<string>(), count);
    runs.push({ compact, set });
  }
  const median = (values: number[]): number => values.sort((a, b) => a - b)[1] as number;
  const memory = median(runs.map((r) => r.compact.retainedBytes / r.set.retainedBytes));
  const time = median(runs.map((r) => r.compact.nsPerId / r.set.nsPerId));
  console.log(
    `deferred-stream set, ${fmt(count)} ids (a 1M-event history recorded ingest-first), StreamIdSet beside a Set of the same ids (its Map-based alternative), median of 3 alternated runs:`,
  );
  console.log(
    `  heap held  ${mb(median(runs.map((r) => r.compact.retainedBytes)))} vs ${mb(median(runs.map((r) => r.set.retainedBytes)))}: ${memory.toFixed(2)}x` +
      `   time per id (add, has, delete) ${median(runs.map((r) => r.compact.nsPerId)).toFixed(0)} vs ${median(runs.map((r) => r.set.nsPerId)).toFixed(0)} ns: ${time.toFixed(2)}x` +
      `   (kept while either is <= 0.9x)`,
  );
}

export async function run(): Promise<void> {
  const scale = Number(process.env['BENCH_CANDIDATES'] ?? 20_000);
  const parts = (process.env['BENCH_CORE'] ?? 'orchestration,replay,stream-set').split(',');
  console.log(`== core ==\n${describeMachineSpeed()}`);
  if (parts.includes('orchestration')) await orchestrationThroughput(Math.round(scale * 1.05));
  if (parts.includes('stream-set')) await streamSetComparison(300_000);
  if (!parts.includes('replay')) return;
  console.log(
    `replay audit (in a thread of its own, as opx replay runs it, over the history imported there into an in-memory store; per history: the first replay cold, then replays for ${WARM_UP_MS / 1000} s of warm-up, then the median of ${WARM_RUNS} warm ones back to back; ` +
      'the heap a replay leaves behind between full collections, with --expose-gc):',
  );
  for (const shape of ['ingest-first', 'interleaved'] as const) {
    for (const groups of [Math.round(scale / 4), scale]) {
      const r = await replayThroughput(groups, shape);
      console.log(
        `  ${shape.padEnd(12)} ${fmt(r.events).padStart(7)} events: warm ${fmt(r.warmPerSecond)} events/s, cold ${fmt(r.coldPerSecond)} events/s, heap retained ${mb(r.heapAfter)}`,
      );
    }
  }
}

const replayHistory = isMainThread ? undefined : (workerData as { replayHistory?: string[] } | undefined)?.replayHistory;
if (replayHistory !== undefined) parentPort?.postMessage(await measureReplay(replayHistory));
else if (isMainThread && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
