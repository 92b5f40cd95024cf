import { readFileSync } from 'node:fs';

import { Command } from 'commander';

import { candidateStreamId } from '../../candidates/candidate-events.js';
import { TOKENS } from '../../container/tokens.js';
import { correlate } from '../../correlation/correlator.js';
import type { EventStore } from '../../eventstore/event-store.js';
import { ingestSignals } from '../../runtime/in-process.js';
import { InvalidInput } from '../../shared/errors.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { parseSignalFile } from '../signal-input.js';
import type { Action } from './action.js';

export interface IngestReport {
  readonly file: string;
  readonly signals: number;
  readonly alertmanagerAlerts: number;
  readonly candidates: number;
  readonly created: readonly string[];
  readonly alreadyPresent: readonly string[];
  /** Candidate ids already holding a different candidate (correlated earlier from other signals). */
  readonly conflicts: readonly string[];
}

export function signalsCommand(action: Action): Command {
  const signals = new Command('signals').description('operational signals in');
  signals
    .command('ingest')
    .summary('correlate a file of signals / Alertmanager payloads into candidates')
    .description(
      'correlate a file of signals into candidates (CandidateCreated). The file is JSON lines, each a signal ' +
        '{signalId, service, severity SEV1-4, fingerprint, observedAt, labels} or a Prometheus Alertmanager webhook ' +
        'payload {"version":"4","alerts":[...]}. The whole file is validated first: one bad line and nothing is written.',
    )
    .argument('<file>', 'JSON lines file (or one JSON document) of signals / Alertmanager payloads')
    .action(action(async (ctx, [file]) => ingest(ctx, file as string)));
  return signals;
}

export async function ingest(ctx: CliContext, file: string): Promise<ExitCode> {
  const parsed = parseSignalFile(readFileSync(file, 'utf8'));
  if (parsed.rejected.length > 0) {
    const problems = parsed.rejected.map((r) => `${r.location}: ${r.problems.join('; ')}`);
    throw new InvalidInput(`signal file ${file} (${parsed.rejected.length} bad input${parsed.rejected.length === 1 ? '' : 's'}, nothing written)`, problems);
  }
  const report = await ingestParsed(ctx, file, parsed.signals, parsed.alertmanagerAlerts);
  ctx.output.result(report, () => [
    `${file}: ${report.signals} signals${report.alertmanagerAlerts > 0 ? ` (${report.alertmanagerAlerts} from Alertmanager)` : ''} -> ${report.candidates} candidates`,
    `  created          ${report.created.length}`,
    `  already present  ${report.alreadyPresent.length}`,
    ...(report.conflicts.length > 0 ? [`  conflicts        ${report.conflicts.length} (${report.conflicts.slice(0, 5).join(', ')}${report.conflicts.length > 5 ? ', ...' : ''})`] : []),
    ...(report.created.length > 0 ? ['run `opx process` (or let the worker run) to decide them'] : []),
  ]);
  return EXIT.OK;
}

export async function ingestParsed(ctx: CliContext, file: string, signals: Parameters<typeof correlate>[0], alertmanagerAlerts: number): Promise<IngestReport> {
  const store = await ctx.store();
  const rules = ctx.config.correlationRules;
  const correlated = correlate(signals, rules);
  const present = new Set<string>();
  const progress = ctx.output.progress('checking', correlated.length);
  for (const [i, candidate] of correlated.entries()) {
    if (await holds(store, candidate.candidateId)) present.add(candidate.candidateId);
    progress.update(i + 1);
  }
  progress.stop();
  const container = await ctx.services();
  const result = await ingestSignals(signals, rules, container.get(TOKENS.CandidateStore));
  const conflicts = new Set(result.conflicts);
  return {
    file,
    signals: signals.length,
    alertmanagerAlerts,
    candidates: result.candidates.length,
    created: result.candidates.map((c) => c.candidateId).filter((id) => !present.has(id) && !conflicts.has(id)),
    alreadyPresent: [...present].filter((id) => !conflicts.has(id)),
    conflicts: [...conflicts],
  };
}

/** True when the candidate's stream exists (whether it holds this candidate or a conflicting one, ingest tells). */
async function holds(store: EventStore, candidateId: string): Promise<boolean> {
  for await (const _ of store.readStream(candidateStreamId(candidateId), { maxCount: 1 })) return true;
  return false;
}
