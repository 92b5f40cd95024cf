import { Command } from 'commander';

import { auditHistory, type HistoryAuditReport } from '../../replay/history-audit.js';
import { whatIf } from '../../replay/what-if.js';
import type { CliContext } from '../context.js';
import { auditInThread, DEFAULT_AUDIT_HEAP_MB } from '../replay-thread.js';
import { CliUsageError, EXIT, type ExitCode } from '../exit-codes.js';
import { checkReportTarget, jsonText, writeReportFile } from '../output.js';
import type { Action } from './action.js';
import { describeFinding, describeIntegrity } from './verify.js';

export function replayCommand(action: Action): Command {
  return new Command('replay')
    .summary('replay audit (exit 1 on divergence), or what-if with --policy ID@VERSION')
    .description(
      'the replay audit: every recorded input re-run through the same handlers, CP-6 and CP-7, every output compared ' +
        'byte for byte with history; reports streams checked, identical and divergent, the first divergence (field path, ' +
        'recorded vs replayed) and policy drift. Exits 1 on any divergence. Memory stays flat however long the history. ' +
        'With --policy ID@VERSION: what-if instead, re-deciding history under that policy without writing anything.',
    )
    .option('--report <file>', 'also write the full report as JSON to this file (never over a store; an existing file needs --force)')
    .option('--force', 'let --report overwrite an existing file')
    .option('--policy <id@version>', 'what-if: which recorded automatic decisions would change under this policy version')
    .option('--concurrency <n>', 'candidate streams read and audited whole at once (reads overlap; memory stays a few streams per unit)', (v) => positiveInt(v, '--concurrency'))
    .option('--heap-mb <n>', `heap limit of the audit, which runs in a worker thread (default ${DEFAULT_AUDIT_HEAP_MB}; memory is flat, so it need not grow with history)`, (v) =>
      positiveInt(v, '--heap-mb'),
    )
    .action(
      action<{ report?: string; force?: boolean; policy?: string; concurrency?: number; heapMb?: number }>(async (ctx, _args, o) => {
        const report = o.report === undefined ? undefined : { file: o.report, force: o.force === true };
        if (report !== undefined) checkReportTarget(report.file, report); // refused before the audit runs, not after
        return o.policy === undefined ? audit(ctx, report, { concurrency: o.concurrency, heapMb: o.heapMb ?? DEFAULT_AUDIT_HEAP_MB }) : whatIfReplay(ctx, o.policy, report);
      }),
    );
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliUsageError(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

/**
 * The audit of a data dir or EventStoreDB runs in a worker thread with a fixed heap (see
 * replay-thread.ts); a throwaway in-memory store lives in this thread, so it is audited here.
 */
interface ReportTarget {
  readonly file: string;
  readonly force: boolean;
}

async function audit(ctx: CliContext, reportTarget: ReportTarget | undefined, limits: { concurrency: number | undefined; heapMb: number }): Promise<ExitCode> {
  const config = ctx.config; // read here first: a bad config is reported before any thread starts
  const selection = ctx.historySelection();
  const options = limits.concurrency === undefined ? {} : { concurrency: limits.concurrency };
  const progress = ctx.output.progress('replaying');
  let report: HistoryAuditReport;
  try {
    const onProgress = (n: number): void => progress.update(n);
    report =
      selection.kind === 'memory'
        ? await auditHistory(config, await ctx.history(), { ...options, onProgress })
        : (await auditInThread({ selection, configDir: ctx.configDir, options }, { heapMb: limits.heapMb, onProgress })).report;
  } finally {
    progress.stop();
  }
  if (reportTarget !== undefined) writeReport(reportTarget, report);
  ctx.output.result(report, () => describeReport(report, reportTarget?.file));
  return report.verdict === 'IDENTICAL' && report.policyDrift.length === 0 ? EXIT.OK : EXIT.REFUSED;
}

/** The alert automation's transitions are outputs of no replayed process: the audit says so, and re-derives them. */
function describeAutoResolution(a: HistoryAuditReport['autoResolution']): string {
  return (
    `${a.verdict}: not replayed by either stage (inputs to both); ${a.eventsCompared} re-derived from the recorded resolutions and compared byte for byte` +
    (a.superseded > 0 ? `; ${a.superseded} overtaken by a person's act` : '') +
    (a.pending > 0 ? `; ${a.pending} not made yet (pending)` : '') +
    (a.divergenceCount > 0 ? `; ${a.divergenceCount} divergences` : '')
  );
}

export function describeReport(report: HistoryAuditReport, reportFile?: string): string[] {
  const c = report.correlation;
  const lines = [
    `replay audit: ${report.verdict}`,
    `  correlation      ${c.verdict}: ${c.inputs} inputs replayed, ${c.eventsCompared} outputs compared byte for byte` +
      (c.inputsHeld > 0 ? `; ${c.inputsHeld} inputs still held (not released in history either)` : '') +
      (c.outputsPending > 0 ? `; ${c.outputsPending} outputs pending (their inputs are past the last correlation checkpoint: not handled yet)` : '') +
      (c.batchCandidates > 0 ? `; ${c.batchCandidates} candidates of the batch correlation taken as recorded` : '') +
      (c.divergenceCount > 0 ? `; ${c.divergenceCount} divergences` : ''),
    `  streams checked  ${report.streamsChecked} (${report.identicalStreams} identical, ${report.divergentStreams} divergent)`,
    `  events read      ${report.eventsRead}; ${report.inputsReplayed} inputs replayed, ${report.eventsCompared} outputs compared byte for byte` +
      (report.inputsPending > 0 ? `; ${report.inputsPending} inputs not handled yet (pending)` : ''),
    `  alert automation ${describeAutoResolution(report.autoResolution)}`,
    `  divergences      ${report.divergenceCount}`,
    `  integrity        ${describeIntegrity(report.integrity)}`,
  ];
  const first = c.divergences[0] ?? report.divergences[0] ?? report.autoResolution.divergences[0];
  if (first !== undefined) {
    lines.push(`first divergence: ${first.streamId} revision ${first.revision} (${first.kind})`);
    if (first.path !== undefined) {
      lines.push(`  field     ${first.path}`);
      lines.push(`  recorded  ${JSON.stringify(first.recorded)}`);
      lines.push(`  replayed  ${JSON.stringify(first.replayed)}`);
    }
    lines.push(`  ${first.message}`);
  }
  const finding = report.integrity.findings[0];
  if (finding !== undefined) lines.push(`first integrity finding: ${describeFinding(finding)}`);
  if (report.policyDrift.length > 0) {
    lines.push('policy drift (a recorded policy version whose content changed since it decided):');
    for (const d of report.policyDrift) {
      lines.push(`  ${d.policy}: recorded sha256 ${d.recordedHash}, config ${d.currentHash ?? 'has no such version'}; ${d.decisions} decisions, first on candidate ${d.firstCandidateId}`);
    }
  } else lines.push('policy drift: none');
  if (reportFile !== undefined) lines.push(`report written to ${reportFile}`);
  return lines;
}

async function whatIfReplay(ctx: CliContext, spec: string, reportTarget: ReportTarget | undefined): Promise<ExitCode> {
  const reportFile = reportTarget?.file;
  const match = /^([^@\s]+)@([^@\s]+)$/.exec(spec);
  if (match === null) throw new CliUsageError(`--policy must be ID@VERSION (e.g. standard-promotion@1.1.0), got '${spec}'`);
  const policy = ctx.config.policies.get(match[1] as string, match[2] as string);
  const store = await ctx.history();
  const progress = ctx.output.progress('re-deciding');
  const report = await whatIf(store, policy, { onProgress: (n) => progress.update(n) }).finally(() => progress.stop());
  if (reportTarget !== undefined) writeReport(reportTarget, report);
  ctx.output.result(report, () => {
    const lines = [
      `what-if ${report.policy} (sha256 ${report.policyHash.slice(0, 12)}…), nothing written`,
      `  candidates naming ${policy.document.id} with an automatic decision: ${report.candidatesEvaluated} (${report.undecided} not decided yet)`,
      `  would change: ${report.changed}, unchanged: ${report.unchanged}`,
      ...Object.entries(report.transitions).map(([k, v]) => `    ${k}: ${v}`),
    ];
    const shown = report.changes.slice(0, 20);
    if (shown.length > 0) lines.push('  changes:');
    for (const c of shown) {
      lines.push(`    ${c.candidateId} ${c.severity} ${c.service} x${c.signalCount}: ${c.recorded.decision} (${c.recordedPolicy} ${c.recorded.matchedRule}) -> ${c.whatIf.decision} (${c.whatIf.matchedRule})`);
    }
    if (report.changed > shown.length) lines.push(`    ... and ${report.changed - shown.length} more${reportFile === undefined ? ' (--json or --report FILE lists them)' : ''}`);
    return lines;
  });
  return EXIT.OK;
}

function writeReport(target: ReportTarget, report: unknown): void {
  writeReportFile(target.file, jsonText(report, 2) + '\n', { force: target.force });
}
