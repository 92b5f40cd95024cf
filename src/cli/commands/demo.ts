import { fileURLToPath } from 'node:url';

import { Command } from 'commander';

import { TOKENS } from '../../container/tokens.js';
import { currentReadModels } from '../../projections/live-projection.js';
import { actorOf, HumanActs } from '../../operators/human-acts.js';
import { newToken, PrincipalDirectory } from '../../principals/principals.js';
import { auditHistory } from '../../replay/history-audit.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Action } from './action.js';
import { ingestFile } from './signals.js';
import { runProcess } from './process.js';

export const SAMPLE_SIGNALS = fileURLToPath(new URL('../../../../samples/signals.jsonl', import.meta.url));

export function demoCommand(action: Action): Command {
  return new Command('demo')
    .summary('the whole flow on the bundled sample signals')
    .description(
      'the whole flow on the bundled sample (samples/signals.jsonl): ingest, process, a human promotes the first ' +
        'deferred candidates, process again, then the replay audit. Try it with --memory for a throwaway run.',
    )
    .option('--promote <n>', 'deferred candidates to promote by hand', (v) => Number.parseInt(v, 10), 3)
    .action(action<{ promote: number }>(async (ctx, _args, o) => demo(ctx, o.promote)));
}

async function demo(ctx: CliContext, promotions: number): Promise<ExitCode> {
  const ingest = await ingestFile(ctx, SAMPLE_SIGNALS);
  const first = await runProcess(ctx, false);
  const store = await ctx.store();
  const container = await ctx.services();
  const { models } = await currentReadModels(store);
  const deferred = Object.values(models.deferred)
    .filter((d) => !d.promotionRequested)
    .sort((a, b) => (a.candidateId < b.candidateId ? -1 : 1))
    .slice(0, Math.max(0, promotions));
  // The demo's person: a principal made for this run, proven by the token made with it.
  const token = newToken();
  const principal = PrincipalDirectory.empty().with('demo@opx', ['HUMAN_OPERATOR'], token).authenticate(token);
  if (principal === undefined) throw new Error('the demo principal does not authenticate');
  const acts = new HumanActs(store, container.get(TOKENS.CandidateStore), container.get(TOKENS.IncidentManager), ctx.config.authorityMatrix, ctx.clock);
  for (const row of deferred) await acts.requestPromotion(actorOf({ principal, method: 'bearer' }, 'HUMAN_OPERATOR', 'cli-token'), row.candidateId, 'customer impact confirmed (opx demo)');
  await runProcess(ctx, false);
  const after = (await currentReadModels(store)).models;
  const report = await auditHistory(ctx.config, store);
  const result = {
    signals: ingest.inputs,
    recorded: ingest.counts.accepted,
    candidates: first.correlation.candidatesOpened,
    manualPromotions: deferred.map((d) => d.candidateId),
    decisionsByPolicy: after.decisionsByPolicy,
    incidents: Object.keys(after.incidents).length,
    deferred: Object.keys(after.deferred).length,
    replay: { verdict: report.verdict, streamsChecked: report.streamsChecked, divergences: report.divergenceCount },
  };
  ctx.output.result(result, () => [
    `opx demo on ${ctx.storeDescription}`,
    `  ${result.signals} signals (${result.recorded} new) -> ${result.candidates} new candidates`,
    ...Object.entries(result.decisionsByPolicy)
      .sort()
      .map(([p, c]) => `  ${p.padEnd(28)} PROMOTE ${c.PROMOTE}  DEFER ${c.DEFER}  SUPPRESS ${c.SUPPRESS}`),
    `  ${deferred.length} deferred candidates promoted by demo@opx; ${result.incidents} incidents, ${result.deferred} still deferred`,
    `  replay audit: ${report.verdict} over ${report.streamsChecked} streams`,
    'next: opx incidents list | opx candidates deferred | opx explain <candidateId> | opx replay --policy standard-promotion@1.1.0',
  ]);
  return report.verdict === 'IDENTICAL' ? EXIT.OK : EXIT.REFUSED;
}
