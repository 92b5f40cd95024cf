import { Command } from 'commander';

import { compareReadModels, loadLiveCheckpoint, catchUp, rebuildReadModels, writeSnapshot, LIVE_PROJECTION_STREAM } from '../../projections/live-projection.js';
import type { ReadModels } from '../../projections/read-models.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Action } from './action.js';

export function projectionsCommand(action: Action): Command {
  const projections = new Command('projections').description(`read models (incident list, deferred queue, decisions per policy version)`);
  projections
    .command('rebuild')
    .summary('rebuild the read models and check them byte for byte against the live projection')
    .description(
      `rebuild the read models from the streams and check them byte for byte (RFC 8785) against the live projection ` +
        `(the snapshot on '${LIVE_PROJECTION_STREAM}', caught up from its checkpoint). Identical: exit 0 and the live ` +
        `snapshot is brought up to date. Different: exit 1, the first differing field is named, and nothing is written unless --replace.`,
    )
    .option('--replace', 'when they differ, replace the live projection with the rebuilt one')
    .action(action<{ replace?: boolean }>(async (ctx, _args, o) => rebuild(ctx, o.replace === true)));
  return projections;
}

const summary = (m: ReadModels) => ({
  incidents: Object.keys(m.incidents).length,
  deferred: Object.keys(m.deferred).length,
  candidates: m.candidates,
  decisionsByPolicy: m.decisionsByPolicy,
});

async function rebuild(ctx: CliContext, replace: boolean): Promise<ExitCode> {
  const store = await ctx.store();
  const checkpoint = await loadLiveCheckpoint(store);
  const progress = ctx.output.progress('rebuilding');
  const rebuilt = await rebuildReadModels(store, (n) => progress.update(n)).finally(() => progress.stop());
  const live = checkpoint === undefined ? undefined : await catchUp(store, checkpoint);
  const comparison = live === undefined ? undefined : compareReadModels(live.models, rebuilt.models);
  const identical = comparison?.identical ?? true;

  let written: string = 'nothing';
  if (live === undefined || (identical && live.applied > 0) || (!identical && replace)) {
    written = await writeSnapshot(store, rebuilt, checkpoint?.revision);
  }
  const report = {
    verdict: live === undefined ? 'NO_LIVE_PROJECTION' : identical ? 'IDENTICAL' : 'DIFFERENT',
    eventsProjected: rebuilt.eventsProjected,
    position: rebuilt.position?.toString() ?? null,
    live:
      checkpoint === undefined || live === undefined
        ? null
        : { checkpointPosition: checkpoint.position?.toString() ?? null, eventsAfterCheckpoint: live.applied, revision: checkpoint.revision.toString() },
    bytes: comparison?.bytes ?? null,
    firstDifference: comparison?.firstDifference ?? null,
    written,
    readModels: summary(rebuilt.models),
  };
  ctx.output.result(report, () => {
    const lines = [`projections rebuild: ${report.verdict}`, `  rebuilt from ${rebuilt.eventsProjected} events (up to position ${report.position ?? '-'})`];
    if (report.live !== null) lines.push(`  live snapshot at position ${report.live.checkpointPosition ?? '-'} + ${report.live.eventsAfterCheckpoint} events after it`);
    else lines.push('  no live projection was recorded yet: the rebuilt one becomes the live projection');
    if (comparison !== undefined) lines.push(`  compared ${comparison.bytes} bytes: ${comparison.identical ? 'byte-identical' : 'DIFFERENT'}`);
    if (report.firstDifference !== null) {
      lines.push(`  first difference at ${report.firstDifference.path}`);
      lines.push(`    live     ${JSON.stringify(report.firstDifference.live)}`);
      lines.push(`    rebuilt  ${JSON.stringify(report.firstDifference.rebuilt)}`);
    }
    const s = report.readModels;
    lines.push(`  read models: ${s.incidents} incidents, ${s.deferred} deferred, ${s.candidates} candidates`);
    for (const [policy, c] of Object.entries(s.decisionsByPolicy).sort()) lines.push(`    ${policy.padEnd(28)} PROMOTE ${c.PROMOTE}  DEFER ${c.DEFER}  SUPPRESS ${c.SUPPRESS}`);
    lines.push(`  live snapshot: ${written === 'nothing' ? 'left as it was' : written}`);
    return lines;
  });
  return identical ? EXIT.OK : EXIT.REFUSED;
}
