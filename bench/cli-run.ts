/**
 * Runs `opx` with the given arguments in this process, as the bin would, and prints one JSON line:
 * the exit code, what the command wrote to stdout, the seconds it took and the process's peak RSS
 * (ru_maxrss, every thread included). Benchmarks spawn it so the figures are the CLI's own, in a
 * process that loads nothing else.
 *   node dist/bench/cli-run.js replay --data DIR --json
 */
import { Writable } from 'node:stream';

import { runCli } from '../src/cli/main.js';

let stdout = '';
const capture = new Writable({
  write(chunk: Buffer, _encoding, done): void {
    stdout += chunk.toString();
    done();
  },
});
const t0 = performance.now();
const exitCode = await runCli(process.argv.slice(2), { stdout: capture, stderr: process.stderr });
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(JSON.stringify({ exitCode, stdout, seconds, maxRssKb: process.resourceUsage().maxRSS }) + '\n', () => process.exit(0));
