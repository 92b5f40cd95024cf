/**
 * Generates test/fixtures/golden-history.jsonl ONCE: the recorded candidate and incident streams
 * of the sample scenario (seeded signals, five manual promotions). It is committed; the replay
 * tests replay it and re-derive it, so "incident ids match historical output" keeps holding
 * across future changes. Regenerating it is a deliberate act that changes recorded history:
 * `node dist/scripts/generate-golden.js --force`.
 */
import 'reflect-metadata';

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { GOLDEN_RULES_PATH, GOLDEN_SCENARIO, goldenSignals } from '../test/support/golden.js';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../src/container/config.js';
import { parseCorrelationRules } from '../src/correlation/correlation-rule.js';
import { createOpxContainer } from '../src/container/modules.js';
import { TOKENS } from '../src/container/tokens.js';
import { PROJECTED_STREAM_PREFIXES } from '../src/projections/read-models.js';
import { exportHistory } from '../src/replay/history-file.js';
import { runBatchScenario } from '../src/runtime/scenario.js';

const path = fileURLToPath(new URL('../../test/fixtures/golden-history.jsonl', import.meta.url));
if (existsSync(path) && !process.argv.includes('--force')) {
  process.stderr.write(`${path} exists: it is recorded history. Pass --force to overwrite it on purpose.\n`);
  process.exit(1);
}
const config = { ...loadConfig(), correlationRules: parseCorrelationRules(JSON.parse(readFileSync(GOLDEN_RULES_PATH, 'utf8'))) };
const container = createOpxContainer({ config });
const result = await runBatchScenario(container, goldenSignals(), { manualPromotions: GOLDEN_SCENARIO.manualPromotions });
const lines = await exportHistory(container.get(TOKENS.EventStore), PROJECTED_STREAM_PREFIXES);
mkdirSync(dirname(path), { recursive: true });
writeFileSync(path, lines.join('\n') + '\n');
process.stdout.write(`wrote ${lines.length} events of ${result.candidates} candidates to ${path}\n`);
