#!/usr/bin/env node
/**
 * `npm start`: the whole Phase 2.3 flow on the embedded default (an in-memory EventStoreDB-
 * semantics store), on the bundled sample of signals; then the replay audit over what it
 * recorded. Prints a summary and exits 0 when the replay is byte-identical.
 */
import 'reflect-metadata';

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { createOpxContainer } from './container/modules.js';
import { TOKENS } from './container/tokens.js';
import { sealHistory } from './integrity/sealer.js';
import { auditHistory } from './replay/history-audit.js';
import { runScenario } from './runtime/scenario.js';
import { signalInput } from './signals/signal-input.js';

const SAMPLE = fileURLToPath(new URL('../../samples/signals.jsonl', import.meta.url));

async function main(): Promise<number> {
  const signals = readFileSync(SAMPLE, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => signalInput(JSON.parse(line), `samples/signals.jsonl line ${i + 1}`));

  const container = createOpxContainer();
  const bus = container.get(TOKENS.MessageBus);
  const published: Record<string, number> = {};
  for (const type of ['IncidentCreated', 'CandidateDeferred', 'CandidateSuppressed', 'OrchestrationFailed'] as const) {
    bus.subscribe(type, () => void (published[type] = (published[type] ?? 0) + 1));
  }

  const store = container.get(TOKENS.EventStore);
  await sealHistory(store); // the chain starts with the store
  const result = await runScenario(container, signals, { manualPromotions: 3 });
  const sealed = await sealHistory(store);
  const models = result.readModels;
  const totals = { PROMOTE: 0, DEFER: 0, SUPPRESS: 0 };
  for (const counts of Object.values(models.decisionsByPolicy)) for (const k of ['PROMOTE', 'DEFER', 'SUPPRESS'] as const) totals[k] += counts[k];

  const out: string[] = [];
  out.push(`OPX incident orchestration: ${signals.length} signals -> ${result.candidates} candidates`);
  out.push(`decisions: PROMOTE ${totals.PROMOTE}, DEFER ${totals.DEFER}, SUPPRESS ${totals.SUPPRESS} (incl. ${result.manualPromotions} manual promotions)`);
  for (const [policy, counts] of Object.entries(models.decisionsByPolicy).sort()) {
    out.push(`  ${policy.padEnd(28)} PROMOTE ${counts.PROMOTE}  DEFER ${counts.DEFER}  SUPPRESS ${counts.SUPPRESS}`);
  }
  const incidents = Object.values(models.incidents);
  out.push(`incidents: ${incidents.length} open (${incidents.filter((i) => i.promotedBy.startsWith('HUMAN')).length} promoted by a human)`);
  for (const incident of incidents.slice(0, 5)) out.push(`  ${incident.incidentId}  ${incident.severity}  ${incident.service.padEnd(14)} ${incident.state}`);
  if (incidents.length > 5) out.push(`  ... and ${incidents.length - 5} more`);
  const deferred = Object.values(models.deferred);
  out.push(`deferred queue: ${deferred.length} candidates waiting for a human (never retried automatically)`);
  for (const row of deferred.slice(0, 3)) out.push(`  ${row.candidateId}  ${row.severity}  ${row.service.padEnd(14)} ${row.reason}`);
  out.push(`bus: ${Object.entries(published).map(([k, v]) => `${k} ${v}`).join(', ')}`);

  out.push(`integrity chain: ${sealed.eventsSealed} events sealed, head ${sealed.head}`);

  const report = await auditHistory(container.get(TOKENS.Config), store);
  out.push(
    `replay audit: ${report.verdict} — correlation ${report.correlation.inputs} inputs, ${report.correlation.eventsCompared} outputs compared; orchestration ${report.streamsChecked} streams, ${report.inputsReplayed} inputs replayed, ${report.eventsCompared} outputs compared; alert automation ${report.autoResolution.eventsCompared} re-derived; ${report.divergenceCount + report.correlation.divergenceCount + report.autoResolution.divergenceCount} divergences; integrity ${report.integrity.verdict} (${report.integrity.eventsVerified} events read as sealed)`,
  );
  process.stdout.write(out.join('\n') + '\n');
  await store.close();
  return report.verdict === 'IDENTICAL' ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`opx: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
