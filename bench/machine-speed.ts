/**
 * A fixed CPU workload, timed, printed beside the figures: this VM's speed moves by 2x between
 * sittings (other tenants' load shows as CPU steal), so figures from two sittings compare only
 * through it. The work is what the benchmarks spend their time on: V8 running JavaScript
 * (object allocation, property access, string building, JSON) and SHA hashing.
 * `node dist/bench/machine-speed.js`, or from `npm run bench`.
 */
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The workload's time in ms: the best of `runs` (the least disturbed). */
export function machineSpeedMs(runs = 5): number {
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < runs; run++) {
    const t0 = performance.now();
    let sink = 0;
    for (let i = 0; i < 100_000; i++) {
      const record = { id: `event-${i}`, revision: i, data: { candidateId: `cand-${i % 977}`, signals: [i, i + 1, i + 2] } };
      const text = JSON.stringify(record);
      sink += (JSON.parse(text) as typeof record).data.signals.length + hash('sha256', text, 'hex').charCodeAt(0);
    }
    best = Math.min(best, performance.now() - t0);
    if (sink === 0) console.log('unreachable');
  }
  return best;
}

/** /proc/stat's CPU steal share over a short window, where Linux has it (a VM's neighbours' load). */
export function stealShare(windowMs = 1_000): number | undefined {
  const sample = (): number[] | undefined => {
    try {
      return readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number);
    } catch {
      return undefined;
    }
  };
  const before = sample();
  const until = Date.now() + windowMs;
  while (Date.now() < until) {
    // busy on one core, so the window sees how much of a running CPU the host takes away
  }
  const after = sample();
  if (before === undefined || after === undefined || before.length < 8) return undefined;
  const delta = after.map((v, i) => v - (before[i] ?? 0));
  const total = delta.reduce((a, b) => a + b, 0);
  return total === 0 ? undefined : (delta[7] ?? 0) / total;
}

export function describeMachineSpeed(): string {
  const steal = stealShare();
  return `machine speed: fixed workload ${machineSpeedMs().toFixed(0)} ms (best of 5; lower is faster)${steal === undefined ? '' : `, CPU steal ${(steal * 100).toFixed(0)}% over 1 s`}`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) console.log(describeMachineSpeed());
