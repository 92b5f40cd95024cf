import { Command } from 'commander';

import { sealHistory } from '../../integrity/sealer.js';
import { verifyHistory, type IntegrityFinding, type IntegrityReport } from '../../integrity/verify.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { checkReportTarget, jsonText, writeReportFile } from '../output.js';
import type { Action } from './action.js';

/** Findings listed in human output; --json and --report list up to the report's limit. */
const SHOWN_FINDINGS = 20;

export function verifyCommand(action: Action): Command {
  return new Command('verify')
    .summary('check every recorded event against the integrity chain, without replaying (exit 1 if tampered)')
    .description(
      'check the store against its integrity chain (the opx-integrity stream the runtimes seal history into): every ' +
        'recorded event, input or output, is digested again and compared with its seal (stream, revision, type, id, ' +
        'data, metadata, down to the top-level field), sealed events must still be there, nothing may be slipped in ' +
        'between, and the seals must chain. Replays nothing. Exit 1 when anything was changed (TAMPERED). A store with ' +
        'no chain yet (written before the chain existed) is UNSEALED, not tampered, and events after the last seal are ' +
        'counted as not sealed yet; --require-sealed makes either exit 1. Record the printed head elsewhere and give it ' +
        'to --anchor later: a chain rewritten end to end (by someone who could rewrite the store) no longer has it.',
    )
    .option('--anchor <head>', 'a chain head recorded earlier (64 hex): TAMPERED unless the chain still has it')
    .option('--require-sealed', 'exit 1 also when some events are not sealed (no chain, or a sealer behind)')
    .option('--report <file>', 'also write the full report as JSON to this file')
    .option('--force', 'let --report overwrite an existing file (never a store)')
    .action(
      action<{ anchor?: string; requireSealed?: boolean; report?: string; force?: boolean }>(async (ctx, _args, o) =>
        verify(ctx, { anchor: o.anchor, requireSealed: o.requireSealed === true, report: o.report, force: o.force === true }),
      ),
    );
}

export function sealCommand(action: Action): Command {
  return new Command('seal')
    .summary('seal what is recorded and not sealed yet into the integrity chain')
    .description(
      'append seals to the integrity chain for every recorded event not sealed yet (a store without a chain gets one; ' +
        'its first seal covers history as found now). `opx process`, `opx signals ingest`, `opx serve` and `opx worker` ' +
        'seal as they run; this is for a store written by other means. Idempotent.',
    )
    .action(action(async (ctx) => seal(ctx)));
}

async function verify(ctx: CliContext, o: { anchor: string | undefined; requireSealed: boolean; report: string | undefined; force: boolean }): Promise<ExitCode> {
  if (o.report !== undefined) checkReportTarget(o.report, { force: o.force }); // refused before the scan, not after
  const store = await ctx.history();
  const progress = ctx.output.progress('verifying');
  const report = await verifyHistory(store, { ...(o.anchor === undefined ? {} : { anchor: o.anchor }), onProgress: (n) => progress.update(n) }).finally(() => progress.stop());
  if (o.report !== undefined) writeReportFile(o.report, jsonText(report, 2) + '\n', { force: o.force });
  ctx.output.result(report, () => [
    `integrity: ${report.verdict}`,
    ...describeIntegrityDetail(report),
    ...report.findings.slice(0, SHOWN_FINDINGS).map((f) => `  ${describeFinding(f)}`),
    ...(report.findingCount > SHOWN_FINDINGS ? [`  ... and ${report.findingCount - SHOWN_FINDINGS} more (--json or --report FILE lists ${report.findings.length})`] : []),
    ...(o.report === undefined ? [] : [`report written to ${o.report}`]),
  ]);
  if (report.verdict === 'TAMPERED') return EXIT.REFUSED;
  return o.requireSealed && (report.verdict === 'UNSEALED' || report.unsealed > 0 || report.unverifiable > 0) ? EXIT.REFUSED : EXIT.OK;
}

async function seal(ctx: CliContext): Promise<ExitCode> {
  const report = await sealHistory(await ctx.store());
  ctx.output.result(report, () => [
    `sealed ${report.eventsSealed} event${report.eventsSealed === 1 ? '' : 's'} in ${report.seals} seal${report.seals === 1 ? '' : 's'}${report.chainStarted ? ' (the chain starts here)' : ''}`,
    `  head ${report.head} (through position ${report.sealedThrough ?? '-'})`,
  ]);
  return EXIT.OK;
}

/** One line: the verdict and what it rests on (the replay report's integrity line). */
export function describeIntegrity(report: IntegrityReport): string {
  switch (report.verdict) {
    case 'UNSEALED':
      return `UNSEALED: no integrity chain; ${report.unsealed} events recorded before it existed (or no sealer has run), nothing to check them against`;
    case 'INTACT':
    case 'TAMPERED':
      return (
        `${report.verdict}: ${report.eventsVerified} of ${report.eventsRead} events read as sealed, ${report.seals} seals` +
        (report.unsealed > 0 ? `; ${report.unsealed} not sealed yet` : '') +
        (report.findingCount > 0 ? `; ${report.findingCount} findings` : '')
      );
    default: {
      const unknown: never = report.verdict;
      return String(unknown);
    }
  }
}

function describeIntegrityDetail(report: IntegrityReport): string[] {
  const lines = [
    report.chain.startedAt === null
      ? '  chain            none (no sealer has run on this store)'
      : `  chain            started at position ${report.chain.startedAt}, ${report.seals} seals, sealed through position ${report.chain.sealedThrough ?? '-'}`,
    `  events           ${report.eventsVerified} of ${report.eventsRead} read as sealed` +
      (report.recordedBeforeChain > 0 ? `; ${report.recordedBeforeChain} recorded before the chain began (sealed as found then)` : '') +
      (report.unsealed > 0 ? `; ${report.unsealed} not sealed yet` : '') +
      (report.unverifiable > 0 ? `; ${report.unverifiable} under a broken seal (unverifiable)` : ''),
    `  excluded         ${report.eventsExcluded} events of streams that lose events by design (attempt log, checkpoints, snapshots)`,
  ];
  if (report.chain.head !== null) lines.push(`  head             ${report.chain.head} (keep it elsewhere: --anchor checks it later)`);
  if (report.anchor !== undefined) lines.push(`  anchor           ${report.anchor.head}: ${report.anchor.found ? 'in the chain' : 'NOT in the chain'}`);
  lines.push(`  findings         ${report.findingCount === 0 ? 'none' : report.findingCount}`);
  return lines;
}

export function describeFinding(f: IntegrityFinding): string {
  return `${f.kind.padEnd(8)} ${f.message}`;
}
