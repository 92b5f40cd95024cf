/**
 * Live correlation throughput (issue 12): signal facts correlated per second in-process on the
 * in-memory store, beside the raw cost of appending the same signal events in the same run, and
 * their ratio; memory after, against the number of groups held. Prints figures, asserts nothing.
 * `node --expose-gc dist/bench/correlation.bench.js` (BENCH_SIGNALS facts, default 50,000;
 * BENCH_ALERTS distinct alerts, default 5,000; BENCH_WORKLOAD=sample for the sample scenario's
 * facts, the bench's workload before it was made realistic: see alert-stream.ts).
 * Wall time and process CPU time are both printed: on a shared machine the CPU figures are the
 * steadier measure of "on one core".
 */
import 'reflect-metadata';

import { loadConfig } from '../src/container/config.js';
import { createOpxContainer } from '../src/container/modules.js';
import { TOKENS } from '../src/container/tokens.js';
import { correlateOnce } from '../src/correlation/correlation-runner.js';
import { CORRELATION_TOKENS } from '../src/correlation/module.js';
import type { EventToAppend } from '../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../src/eventstore/in-memory-event-store.js';
import { generateSampleSignals } from '../src/samples/sample-signals.js';
import { signalCodec, signalEvent, type SignalFact } from '../src/signals/signal-events.js';
import { alertStream } from './alert-stream.js';
import { describeMachineSpeed } from './machine-speed.js';

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function collected(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  global.gc?.();
}

/** The sample scenario's alerts as Alertmanager would report them, a third of the firings resolved (~40 fingerprints). */
function sampleFacts(count: number): SignalFact[] {
  const signals = generateSampleSignals({ groups: Math.ceil(count / 8), seed: 11 });
  const out: SignalFact[] = [];
  for (const [i, s] of signals.entries()) {
    const firing: SignalFact = {
      signalId: s.signalId,
      source: 'alertmanager',
      status: 'firing',
      fingerprint: s.fingerprint,
      service: s.service,
      severity: s.severity,
      observedAt: s.observedAt,
      labels: s.labels,
      annotations: { summary: `${s.fingerprint} fired` },
    };
    out.push(firing);
    if (i % 3 === 0) out.push({ ...firing, status: 'resolved', endsAt: new Date(Date.parse(s.observedAt) + 45_000).toISOString() });
    if (out.length >= count) break;
  }
  return out;
}

/**
 * The signal events as the recorder makes them, with fresh payloads each call (the store freezes
 * what it is given). Copied through JSON, so each has the shape the recorder's own objects, a data
 * dir's rows and the server's messages have: a spread copy (`{ ...fact }`) is an object V8 gives
 * a map of its own once frozen, and 50,000 maps made every property read downstream a cache miss
 * (this bench's figures before Dec 7 evening were slowed by that, the raw append's too).
 * Not validated by the codec: correlation validates what it reads, as a worker reading the server does.
 */
function eventsOf(all: readonly SignalFact[]): Array<[string, EventToAppend]> {
  const edge = { receivedAt: '2026-06-01T12:00:00.000Z', channel: 'bench' };
  return all.map((fact) => {
    const { streamId, id, event } = signalEvent(JSON.parse(JSON.stringify(fact)) as SignalFact, edge);
    return [streamId, signalCodec.encodeTrusted(event, id)];
  });
}

interface Run {
  readonly rawMs: number;
  readonly rawCpuMs: number;
  readonly correlateMs: number;
  readonly correlateCpuMs: number;
  readonly groups: number;
  readonly inputs: number;
  readonly candidates: number;
  readonly groupEvents: number;
  readonly heapAfter: number;
}

async function run(all: readonly SignalFact[]): Promise<Run> {
  // Raw: the signal events appended to a fresh store, one stream each, no logic.
  const rawStore = new InMemoryEventStore();
  const rawEvents = eventsOf(all);
  await collected();
  let t0 = performance.now();
  let c0 = process.cpuUsage();
  for (const [streamId, event] of rawEvents) rawStore.appendSync(streamId, [event], 'no_stream');
  const rawMs = performance.now() - t0;
  const rawCpuMs = cpuMs(process.cpuUsage(c0));

  // Correlation: the same events recorded in the flow's store, then correlated (timed) to the end.
  const config = loadConfig();
  const container = createOpxContainer({ config });
  const store = container.get(TOKENS.EventStore) as InMemoryEventStore;
  for (const [streamId, event] of eventsOf(all)) store.appendSync(streamId, [event], 'no_stream');
  const service = container.get(CORRELATION_TOKENS.Correlation);
  await collected();
  t0 = performance.now();
  c0 = process.cpuUsage();
  const report = await correlateOnce(store, service.newCorrelator(), { tick: true, ruleSetVersion: config.correlationRules.version });
  const correlateMs = performance.now() - t0;
  const correlateCpuMs = cpuMs(process.cpuUsage(c0));
  let groupEvents = 0;
  let groups = 0;
  for (const id of store.streamIds()) {
    if (!id.startsWith('correlation-grp-')) continue;
    groups++;
    groupEvents += store.snapshot(id).length;
  }
  await collected();
  return {
    rawMs,
    rawCpuMs,
    correlateMs,
    correlateCpuMs,
    groups,
    inputs: report.stats.inputs,
    candidates: report.stats.candidatesOpened,
    groupEvents,
    heapAfter: process.memoryUsage().heapUsed,
  };
}

const cpuMs = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1000;

const count = Number(process.env['BENCH_SIGNALS'] ?? 50_000);
const sample = process.env['BENCH_WORKLOAD'] === 'sample';
const alerts = Number(process.env['BENCH_ALERTS'] ?? 5_000);
const all = sample ? sampleFacts(count) : alertStream({ facts: count, alerts });
const fingerprints = new Set(all.map((f) => f.fingerprint)).size;
console.log(
  `live correlation bench (${fmt(all.length)} signal facts of ${fmt(fingerprints)} alerts, ${sample ? "the sample scenario's" : 'an Alertmanager-shaped stream'}; in-memory store, one thread)`,
);
console.log(describeMachineSpeed());
const runs: Run[] = [];
for (let i = 0; i < 5; i++) {
  const r = await run(all);
  runs.push(r);
  console.log(
    `  run ${i + 1}: correlated ${fmt(r.inputs)} facts in ${r.correlateMs.toFixed(0)} ms, CPU ${r.correlateCpuMs.toFixed(0)} ms (${fmt((r.inputs / r.correlateMs) * 1000)}/s; ` +
      `${fmt(r.groups)} groups, ${fmt(r.candidates)} candidates, ${fmt(r.groupEvents)} group events); ` +
      `raw append of the same events ${r.rawMs.toFixed(0)} ms, CPU ${r.rawCpuMs.toFixed(0)} ms (${fmt((all.length / r.rawMs) * 1000)}/s); ratio ${(r.correlateMs / r.rawMs).toFixed(2)}x; heap after ${mb(r.heapAfter)}`,
  );
}
const rate = median(runs.map((r) => (r.inputs / r.correlateMs) * 1000));
const ratio = median(runs.map((r) => r.correlateMs / r.rawMs));
const cpuRate = median(runs.map((r) => (r.inputs / r.correlateCpuMs) * 1000));
const cpuRatio = median(runs.map((r) => r.correlateCpuMs / r.rawCpuMs));
console.log(
  `  median: ${fmt(rate)} signals/s correlated (target >= 50,000 on one core); ${ratio.toFixed(2)}x the raw append of the same signal events (target <= 3x)`,
);
console.log(`  median by CPU time: ${fmt(cpuRate)} signals/s; ${cpuRatio.toFixed(2)}x the raw append's CPU time`);
