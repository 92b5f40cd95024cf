/**
 * Writes samples/signals.jsonl, the bundled sample `npm start` runs on. Deterministic (seeded):
 * run it again and the file does not change. `node dist/scripts/generate-samples.js [groups]`
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { generateSampleSignals } from '../src/samples/sample-signals.js';

const groups = Number(process.argv[2] ?? 400);
const path = fileURLToPath(new URL('../../samples/signals.jsonl', import.meta.url));
const signals = generateSampleSignals({ groups, seed: 2026 });
writeFileSync(path, signals.map((s) => JSON.stringify(s)).join('\n') + '\n');
process.stdout.write(`wrote ${signals.length} signals (${groups} groups) to ${path}\n`);
