import { createReadStream } from 'node:fs';

import { Command } from 'commander';

import { CORRELATION_TOKENS } from '../../correlation/module.js';
import { sealHistory } from '../../integrity/sealer.js';
import { recordStream, type IntakeSummary } from '../../signals/signal-intake.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Action } from './action.js';

export interface IngestReport extends IntakeSummary {
  readonly file: string;
}

export function signalsCommand(action: Action): Command {
  const signals = new Command('signals').description('operational signals in');
  signals
    .command('ingest')
    .summary('record signals / Alertmanager webhook bodies from a file or stdin')
    .description(
      'record every signal of FILE (or stdin with -) as a fact in the event store, each before anything acts on it: ' +
        'JSON lines, JSON values one after another or one array, each a signal {signalId, service, severity SEV1-4, ' +
        'fingerprint, observedAt, labels, annotations?, status? firing|resolved, endsAt?} or a Prometheus Alertmanager ' +
        'webhook body {"version":"4","alerts":[...]} (config/sources.json maps its labels). Read as a stream, at any size. ' +
        'A repeat records nothing new; an input that is not a signal is rejected alone (recorded with why, exit 2) and ' +
        'the rest goes in; ignored alerts (Watchdog) are recorded as ignored. Correlation and decisions follow in ' +
        '`opx process`, `opx worker` or `opx serve`.',
    )
    .argument('<file>', 'the file, or - for stdin')
    .action(action(async (ctx, [file]) => ingest(ctx, file as string)));
  return signals;
}

export async function ingest(ctx: CliContext, file: string): Promise<ExitCode> {
  const report = await ingestFile(ctx, file);
  const { counts } = report;
  ctx.output.result(report, () => [
    `${file === '-' ? 'stdin' : file}: ${report.inputs} input${report.inputs === 1 ? '' : 's'}${report.alertmanagerPayloads > 0 ? ` (${report.alertmanagerPayloads} Alertmanager bodies)` : ''}`,
    `  recorded new     ${counts.accepted}`,
    `  already recorded ${counts.duplicate}`,
    `  ignored          ${counts.ignored} (recorded as ignored: the source mapping's ignore list)`,
    `  rejected         ${counts.rejected}${counts.rejected > 0 ? ' (recorded with why; the rest went in)' : ''}`,
    ...report.rejected.slice(0, 10).map((r) => `    ${r.location}: ${r.problems.join('; ')}`),
    ...(report.rejected.length > 10 ? [`    ... (${counts.rejected - 10} more; --json lists ${report.rejected.length})`] : []),
    ...(report.truncatedAlerts > 0 ? [`  truncated        ${report.truncatedAlerts} alerts Alertmanager left out of its bodies (max_alerts); recorded`] : []),
    ...(counts.accepted > 0 ? ['run `opx process` (or let `opx worker` / `opx serve` run) to correlate and decide them'] : []),
  ]);
  return counts.rejected > 0 ? EXIT.USAGE : EXIT.OK;
}

export async function ingestFile(ctx: CliContext, file: string): Promise<IngestReport> {
  const container = await ctx.services();
  const store = await ctx.store();
  await sealHistory(store); // what is there is sealed before this run adds to it (a new store's chain starts here)
  const input = file === '-' ? process.stdin : createReadStream(file);
  const progress = ctx.output.progress('recording');
  let summary;
  try {
    summary = await recordStream(input, container.get(CORRELATION_TOKENS.SignalRecorder), ctx.config.sources, { channel: file === '-' ? 'stdin' : 'file' }, (n) => progress.update(n));
  } finally {
    progress.stop();
  }
  await sealHistory(store);
  return { file, ...summary };
}
