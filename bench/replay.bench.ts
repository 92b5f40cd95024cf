/**
 * Replay-audit throughput over N recorded events (env BENCH_EVENTS, default 200,000; 1,000,000
 * for the long run), each figure beside the limit it is measured against, in the same run:
 *   (a) `opx replay --data DIR` (an embedded data dir, read in-process) beside the audit of the
 *       same history from an in-memory store (the audit with nothing to read; target >= 0.6x);
 *   (b) `opx replay --connection URL` (the official client, the embedded server over the same data
 *       dir in a process of its own, as EventStoreDB would be) beside the same events merely read
 *       through the official client by hand, one readAll, no audit (target >= 0.7x).
 * Each command is the real one, `opx replay --json`, in a process of its own (bench/cli-run.ts):
 * its time runs from the command line to the report, its peak RSS is the kernel's (every thread;
 * target < 256 MB). Figures only; nothing is asserted.
 *
 * BENCH_REPLAY_MODES picks the modes (default both: embedded-data-dir,official-client), BENCH_HISTORY
 * the shapes of history (default both: ingest-first,interleaved; see HistoryShape).
 * History is generated once per N (the in-process scenario on generateSampleSignals at scale,
 * exported as history lines, cached in bench-results/) and imported into a fresh data dir.
 *   node dist/bench/replay.bench.js
 */
import 'reflect-metadata';

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createOpxContainer } from '../src/container/modules.js';
import { TOKENS } from '../src/container/tokens.js';
import { systemClock } from '../src/esdb-server/clock.js';
import { SqliteEngine } from '../src/esdb-server/storage/sqlite-engine.js';
import { EventStoreCore } from '../src/esdb-server/store.js';
import type { EventStore } from '../src/eventstore/event-store.js';
import { EventStoreDBClient } from '@eventstore/db-client';

import { loadConfig } from '../src/container/config.js';
import { EmbeddedReader } from '../src/eventstore/embedded/embedded-reader.js';
import { InMemoryEventStore } from '../src/eventstore/in-memory-event-store.js';
import { EsdbEventStore } from '../src/eventstore/esdb/esdb-event-store.js';
import { PROJECTED_STREAM_PREFIXES } from '../src/projections/read-models.js';
import type { HistoryLine } from '../src/replay/history-file.js';
import { CANDIDATE_STREAM_PREFIX } from '../src/candidates/candidate-events.js';
import { INCIDENT_STREAM_PREFIX } from '../src/incidents/incident-events.js';
import { exportHistory, importHistory } from '../src/replay/history-file.js';
import type { ReplayReport } from '../src/replay/replay-audit.js';
import { auditHistory } from '../src/replay/history-audit.js';
import { ingestCandidates, processCandidateInputs } from '../src/runtime/in-process.js';
import { runScenario } from '../src/runtime/scenario.js';
import { correlate } from '../src/correlation/correlator.js';
import { generateSampleSignals } from '../src/samples/sample-signals.js';
import { SIGNAL_STREAM_PREFIX } from '../src/signals/signal-events.js';
import { CLOCK_STREAM } from '../src/correlation/correlation-events.js';
import { GOLDEN_HISTORY_PATH } from '../test/support/golden.js';

const SELF = fileURLToPath(import.meta.url);
const SERVER_MAIN = fileURLToPath(new URL('../src/esdb-server/main.js', import.meta.url));
const CLI_RUN = fileURLToPath(new URL('./cli-run.js', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../bench-results/', import.meta.url));
const PHASE_ENV = 'OPX_REPLAY_BENCH_PHASE';

interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly seconds: number;
  readonly maxRssKb: number;
}

interface Measurement {
  readonly mode: 'embedded-data-dir' | 'official-client';
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly peakRssMb: number;
  readonly verdict: string;
  /**
   * The same events read once with no audit work (data touched): through the official client by
   * hand for official-client (its limit), through the data dir's reader for embedded-data-dir.
   */
  readonly rawReadPerSecond: number;
}

/**
 * Recorded events per signal group: ingest-first records each signal, its correlation and the
 * candidate's outputs (~10); interleaved records the candidate's events only (~3.2).
 */
const EVENTS_PER_GROUP: Record<HistoryShape, number> = { 'ingest-first': 10, interleaved: 3.15 };

/**
 * The recorded history to audit, as a file of history lines (cached per N in bench-results/).
 * Generating it runs the whole scenario in memory: for 1,000,000 events give node a larger heap
 * (NODE_OPTIONS=--max-old-space-size=8192); the measurements themselves run with the defaults.
 */
async function historyFile(events: number, shape: HistoryShape): Promise<string> {
  mkdirSync(RESULTS, { recursive: true });
  // Keyed by the golden history's hash: it changes whenever what the handlers record changes, and
  // a history recorded by older code would (rightly) replay DIVERGENT.
  const version = createHash('sha256').update(readFileSync(GOLDEN_HISTORY_PATH)).digest('hex').slice(0, 12);
  const cache = join(RESULTS, `replay-history-${events}-${shape === 'ingest-first' ? '' : `${shape}-`}${version}.jsonl`);
  if (existsSync(cache)) return cache;
  const t0 = performance.now();
  const container = createOpxContainer();
  // One fingerprint per group: the sample's 40 fingerprints would otherwise keep a few episodes open
  // (a firing attaches to its open incident), and the history would be correlations of ~80 candidates.
  const signals = generateSampleSignals({ groups: Math.ceil(events / EVENTS_PER_GROUP[shape]), seed: 7, start: '2026-01-01T00:00:00.000Z' }).map((signal) => ({
    ...signal,
    fingerprint: `${signal.fingerprint}:${signal.signalId.split('-')[1] ?? ''}`,
  }));
  if (shape === 'ingest-first') await runScenario(container, signals, { manualPromotions: 50 });
  else {
    // As a worker keeps up with ingestion: each candidate decided right after it is recorded.
    const store = container.get(TOKENS.EventStore);
    const candidates = container.get(TOKENS.CandidateStore);
    const context = container.get(TOKENS.HandlerContext);
    let position: bigint | undefined;
    for (const candidate of correlate(signals, container.get(TOKENS.Config).correlationRules)) {
      await ingestCandidates([candidate], candidates);
      position = (await processCandidateInputs(store, context, position)).position;
    }
  }
  // the signals and the correlation clock too: the audit replays live correlation from them
  const lines = await exportHistory(container.get(TOKENS.EventStore), [SIGNAL_STREAM_PREFIX, CLOCK_STREAM, ...PROJECTED_STREAM_PREFIXES]);
  const fd = openSync(cache, 'w');
  for (let i = 0; i < lines.length; i += 10_000) writeSync(fd, lines.slice(i, i + 10_000).join('\n') + '\n');
  closeSync(fd);
  console.log(`  generated ${lines.length} events in ${((performance.now() - t0) / 1000).toFixed(1)} s (cached in ${cache})`);
  return cache;
}

/** Imports a history file straight into the embedded engine, line by line (no network): bench setup only. */
async function importIntoDataDir(dir: string, file: string): Promise<number> {
  const engine = new SqliteEngine(dir, { synchronous: 'NORMAL' });
  const core = new EventStoreCore(engine, systemClock);
  const revisions = new Map<string, bigint>();
  const encoder = new TextEncoder();
  let count = 0;
  for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (text === '') continue;
    const line = JSON.parse(text) as HistoryLine;
    const previous = revisions.get(line.streamId);
    const outcome = core.append(line.streamId, previous === undefined ? { kind: 'no_stream' } : { kind: 'revision', revision: previous }, [
      {
        eventId: line.id,
        type: line.type,
        contentType: 'application/json',
        data: encoder.encode(JSON.stringify(line.data)),
        metadata: encoder.encode(JSON.stringify(line.metadata)),
      },
    ]);
    if (outcome.kind !== 'success') throw new Error(`import failed on ${line.streamId}: ${outcome.kind}`);
    revisions.set(line.streamId, (previous ?? -1n) + 1n);
    count++;
  }
  engine.close();
  return count;
}

/**
 * Where the audit reads from, in this process: the data dir itself, or the embedded server over
 * it in its own process (as EventStoreDB would be), reached through the official client.
 */
async function openSource(mode: Measurement['mode'], dir: string): Promise<{ args: string[]; store: () => EventStore; close: () => Promise<void> }> {
  if (mode === 'embedded-data-dir') {
    let reader: EmbeddedReader | undefined;
    return { args: ['--data', dir], store: () => (reader ??= EmbeddedReader.open(dir)), close: async () => reader?.close() };
  }
  const server = spawn(process.execPath, [SERVER_MAIN, '--port', '0', '--insecure', '--data', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const connectionString = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) resolve((JSON.parse(line) as { connectionString: string }).connectionString);
    });
    server.on('exit', (code) => reject(new Error(`embedded server exited with ${String(code)}`)));
  });
  let client: EsdbEventStore | undefined;
  return {
    args: ['--connection', connectionString],
    store: () => (client ??= EsdbEventStore.fromConnectionString(connectionString)),
    close: async () => {
      await client?.close();
      server.kill('SIGTERM');
    },
  };
}

/**
 * One measurement: `opx replay --json` exactly as an operator runs it (its own process, see
 * cli-run.ts; the audit in its worker thread), timed and its peak RSS taken by the kernel; then,
 * in this process, the same events merely read the same way.
 */
async function measure(mode: Measurement['mode'], dir: string): Promise<Measurement> {
  const source = await openSource(mode, dir);
  try {
    const concurrency = process.env['BENCH_REPLAY_CONCURRENCY'];
    const run = await runCliProcess(['replay', ...source.args, '--json', ...(concurrency === undefined ? [] : ['--concurrency', concurrency])]);
    const report = JSON.parse(run.stdout) as ReplayReport;
    const rawReadPerSecond = mode === 'official-client' ? await rawClientRead(source.args[1] as string) : await readThrough(source.store());
    return {
      mode,
      events: report.eventsRead,
      seconds: run.seconds,
      eventsPerSecond: report.eventsRead / run.seconds,
      peakRssMb: run.maxRssKb / 1024,
      verdict: report.verdict,
      rawReadPerSecond,
    };
  } finally {
    await source.close();
  }
}

const AUDITED_PREFIXES = [CANDIDATE_STREAM_PREFIX, INCIDENT_STREAM_PREFIX];

/** Events/s of one read of the audited streams through the port (data touched). */
async function readThrough(store: EventStore): Promise<number> {
  const t0 = performance.now();
  let touched = 0;
  for await (const event of store.readAll({ streamPrefixes: AUDITED_PREFIXES })) touched += event.data === undefined ? 0 : 1;
  return touched / ((performance.now() - t0) / 1000);
}

/** Events/s of the audited streams read by hand through the official client: one readAll from the start, data touched. */
async function rawClientRead(connectionString: string): Promise<number> {
  const client = EventStoreDBClient.connectionString(connectionString);
  try {
    const t0 = performance.now();
    let touched = 0;
    for await (const resolved of client.readAll()) {
      const event = resolved.event;
      if (event !== undefined && AUDITED_PREFIXES.some((p) => event.streamId.startsWith(p))) touched += event.data === undefined ? 0 : 1;
    }
    return touched / ((performance.now() - t0) / 1000);
  } finally {
    await client.dispose();
  }
}

/**
 * The audit of a history file from an in-memory store (imported first, untimed): one run of the
 * same stages `opx replay` runs (correlation, orchestration, alert automation, integrity).
 */
async function inMemoryReplay(file: string): Promise<{ readonly events: number; readonly eventsPerSecond: number; readonly verdict: string }> {
  const source = new InMemoryEventStore();
  const lines: string[] = [];
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) lines.push(line);
  await importHistory(source, lines);
  lines.length = 0;
  const t0 = performance.now();
  const report = await auditHistory(loadConfig(), source);
  return { events: report.eventsRead, eventsPerSecond: report.eventsRead / ((performance.now() - t0) / 1000), verdict: report.verdict };
}

/**
 * Runs a node script in a child process with node's defaults (not the generator's NODE_OPTIONS: a
 * large heap would inflate the RSS) and returns the JSON of the last line it prints.
 */
function lastJsonLine<T>(script: string, args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}, nodeArgs: readonly string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _generatorOnly, ...env } = process.env;
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as T) : reject(new Error(`${script} ${args.join(' ')} exited with ${code}`)),
    );
  });
}

/** Runs `opx` (dist/bench/cli-run.js: the CLI in a process of its own) and returns what it measured. */
async function runCliProcess(args: readonly string[]): Promise<CliRun> {
  const run = await lastJsonLine<CliRun>(CLI_RUN, args);
  if (run.exitCode !== 0) throw new Error(`opx ${args.join(' ')} exited with ${run.exitCode}`);
  return run;
}

const inChild = (mode: Measurement['mode'], dir: string): Promise<Measurement> => lastJsonLine<Measurement>(SELF, [], { [PHASE_ENV]: `${mode}:${dir}` });

/** The in-memory audit in a process of its own, with the heap the whole history needs. */
const inMemoryInChild = (file: string): Promise<Awaited<ReturnType<typeof inMemoryReplay>>> =>
  lastJsonLine(SELF, [], { [PHASE_ENV]: `in-memory:${file}` }, ['--max-old-space-size=8192']);

/**
 * ingest-first: every candidate recorded, then every one decided (`opx signals ingest` of a big
 * file, then `opx process`); interleaved: decided as they come (a worker keeping up).
 */
type HistoryShape = 'ingest-first' | 'interleaved';

const rate = (perSecond: number): string => Math.round(perSecond).toLocaleString('en');

export async function run(): Promise<void> {
  const events = Number(process.env['BENCH_EVENTS'] ?? 200_000);
  const shapes = (process.env['BENCH_HISTORY'] ?? 'ingest-first,interleaved').split(',') as HistoryShape[];
  for (const shape of shapes) {
    console.log(`== replay audit over ${events} recorded events, history recorded ${shape} ==`);
    const file = await historyFile(events, shape);
    const dir = mkdtempSync(join(tmpdir(), 'opx-replay-bench-'));
    try {
      const t0 = performance.now();
      const imported = await importIntoDataDir(dir, file);
      console.log(`  imported ${imported} events into ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const modes = (process.env['BENCH_REPLAY_MODES'] ?? 'embedded-data-dir,official-client').split(',') as Array<Measurement['mode']>;
      const limit = modes.includes('embedded-data-dir') ? await inMemoryInChild(file) : undefined;
      if (limit !== undefined)
        console.log(
          `  ${'in-memory audit'.padEnd(18)} ${limit.events} events = ${rate(limit.eventsPerSecond)} events/s (the limit of --data: the same audit, nothing to read), verdict ${limit.verdict}`,
        );
      for (const mode of modes) {
        const m = await inChild(mode, dir);
        const against = mode === 'embedded-data-dir' ? (limit?.eventsPerSecond ?? Number.NaN) : m.rawReadPerSecond;
        console.log(
          `  ${mode.padEnd(18)} ${m.events} events in ${m.seconds.toFixed(2)} s = ${rate(m.eventsPerSecond)} events/s, ` +
            `${(m.eventsPerSecond / against).toFixed(2)}x its limit (target >= ${mode === 'embedded-data-dir' ? '0.6' : '0.7'}x), peak RSS ${m.peakRssMb.toFixed(0)} MB (target < 256), verdict ${m.verdict}`,
        );
        console.log(
          mode === 'official-client'
            ? `  ${''.padEnd(18)} its limit, the same events read by hand through the official client, no audit: ${rate(m.rawReadPerSecond)} events/s`
            : `  ${''.padEnd(18)} (beside: the same events merely read from the data dir, no audit: ${rate(m.rawReadPerSecond)} events/s)`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const phase = process.env[PHASE_ENV];
if (phase !== undefined) {
  const at = phase.indexOf(':');
  const [name, argument] = [phase.slice(0, at), phase.slice(at + 1)];
  const result = name === 'in-memory' ? await inMemoryReplay(argument) : await measure(name as Measurement['mode'], argument);
  process.stdout.write(JSON.stringify(result) + '\n');
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await run();
}
