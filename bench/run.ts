/**
 * `npm run bench`: every benchmark, each in its own process (so one's heap does not inflate the
 * next one's memory figures), one after another. Figures only; nothing is asserted.
 * Each one also runs alone: `node dist/bench/<name>.bench.js`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describeMachineSpeed } from './machine-speed.js';

// Before and after: this VM's speed varies between sittings; figures compare only beside these.
console.log(`${describeMachineSpeed()}\n`);
const benches = ['core', 'correlation', 'receiver', 'esdb-server', 'append', 'worker', 'replay', 'console'];
let failed = 0;
for (const name of benches) {
  const file = fileURLToPath(new URL(`./${name}.bench.js`, import.meta.url));
  const t0 = performance.now();
  const result = spawnSync(process.execPath, [...process.execArgv, file], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
  console.log(`(${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s${result.status === 0 ? '' : `, exited ${String(result.status)}`})\n`);
}
console.log(describeMachineSpeed());
process.exitCode = failed === 0 ? 0 : 1;
