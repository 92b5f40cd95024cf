import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type { Signal } from '../../src/correlation/signal.js';
import { generateSampleSignals } from '../../src/samples/sample-signals.js';

/** The scenario the golden history was recorded from. Changing it changes history: don't. */
export const GOLDEN_SCENARIO = { groups: 320, seed: 20260119, start: '2026-01-19T00:00:00.000Z', manualPromotions: 5 } as const;

export const goldenSignals = (): Signal[] => generateSampleSignals(GOLDEN_SCENARIO);

export const GOLDEN_HISTORY_PATH = fileURLToPath(new URL('../../../test/fixtures/golden-history.jsonl', import.meta.url));

export const goldenHistoryLines = (): string[] => readFileSync(GOLDEN_HISTORY_PATH, 'utf8').split('\n').filter((l) => l !== '');

/** The correlation rules the golden history was recorded under (batch correlation, rule set 2026.1). */
export const GOLDEN_RULES_PATH = fileURLToPath(new URL('../../../test/fixtures/golden-config/correlation-rules.json', import.meta.url));
