import { Command } from 'commander';

import { TOKENS } from '../../container/tokens.js';
import { CORRELATION_TOKENS } from '../../correlation/module.js';
import type { EventStore } from '../../eventstore/event-store.js';
import { sealHistory } from '../../integrity/sealer.js';
import { guardPolicies, type PolicyGuardReport } from '../../promotion/policy-record.js';
import { updateLiveProjection } from '../../projections/live-projection.js';
import { processCandidateInputs, type FailedInput } from '../../runtime/in-process.js';
import { WrongExpectedVersion } from '../../shared/errors.js';
import { eventId } from '../../shared/ids.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Action } from './action.js';

/**
 * Where `opx process` got to: the global position of the last candidate-stream event it handled.
 * Handling is idempotent (decisions and incidents have deterministic ids and are found, not made
 * again), so the checkpoint only saves work: `--from-start` ignores it safely. It is written after
 * the handlers succeed; a crash in between re-handles a few inputs, harmlessly.
 */
export const PROCESSOR_CHECKPOINT_STREAM = 'opx-processor-checkpoint';
const CHECKPOINTED = 'ProcessorCheckpointed';

export function processCommand(action: Action): Command {
  return new Command('process')
    .summary('correlate recorded signals, run the orchestrator over unprocessed inputs, update the live projection')
    .description(
      'correlate the signal facts recorded since the last run into candidates (Phase 2.2, live correlation taken to the end ' +
        'of what is recorded: what it still held for stragglers is released by a recorded clock tick), then run the ' +
        'in-process orchestrator over candidate inputs not yet processed (CandidateCreated, ManualPromotionRequested), ' +
        'then bring the live read-model projection up to date. Idempotent: safe while a worker runs, and with --from-start.',
    )
    .option('--from-start', 'ignore the checkpoint and hand every recorded input to the orchestrator again (idempotent)')
    .action(action<{ fromStart?: boolean }>(async (ctx, _args, o) => processInputs(ctx, o.fromStart === true)));
}

export interface ProcessReport {
  readonly correlation: { readonly inputs: number; readonly late: number; readonly uncorrelated: number; readonly candidatesOpened: number; readonly poison: number };
  readonly handled: number;
  /** Inputs the handler refused: reported with where they are; the rest were handled. */
  readonly failed: readonly FailedInput[];
  readonly from: string;
  readonly position: string | null;
  readonly projection: { readonly outcome: string; readonly eventsApplied: number; readonly position: string | null };
  readonly incidents: number;
  readonly deferred: number;
  /** Incidents the alert automation resolved in this run (present only when the authority matrix grants it). */
  readonly autoResolution?: { readonly resolved: number; readonly superseded: number };
  /** The policies checked against the lock file and history before anything was decided. */
  readonly policies: PolicyGuardReport;
  /** The integrity chain after the run: events sealed by it (what others recorded since the last seal, and its own) and the head. */
  readonly integrity: { readonly eventsSealed: number; readonly head: string; readonly sealedThrough: string | null };
}

export async function processInputs(ctx: CliContext, fromStart: boolean): Promise<ExitCode> {
  const report = await runProcess(ctx, fromStart);
  const c = report.correlation;
  ctx.output.result(report, () => [
    `correlated ${c.inputs} signal fact${c.inputs === 1 ? '' : 's'}: ${c.candidatesOpened} new candidate${c.candidatesOpened === 1 ? '' : 's'}, ${c.uncorrelated} taken by no rule${c.late > 0 ? `, ${c.late} late` : ''}${c.poison > 0 ? `, ${c.poison} unreadable (passed over)` : ''}`,
    `processed ${report.handled} input${report.handled === 1 ? '' : 's'} (from ${report.from})`,
    ...(report.failed.length > 0 ? [`${report.failed.length} input${report.failed.length === 1 ? '' : 's'} refused (passed over; fix or re-run with --from-start):`, ...report.failed.slice(0, 20).map((f) => `  ${f.streamId}@${f.revision} ${f.type}: ${f.error}`)] : []),
    ...(report.autoResolution === undefined ? [] : [`alert automation: ${report.autoResolution.resolved} incident${report.autoResolution.resolved === 1 ? '' : 's'} resolved (every alert resolved)`]),
    `live projection: ${report.projection.outcome}, ${report.projection.eventsApplied} events applied; ${report.incidents} incidents, ${report.deferred} deferred`,
    `integrity chain: ${report.integrity.eventsSealed} event${report.integrity.eventsSealed === 1 ? '' : 's'} sealed, head ${report.integrity.head}`,
  ]);
  // Everything else was handled; a refused input still makes the run unsuccessful for a script.
  return report.failed.length === 0 ? EXIT.OK : EXIT.REFUSED;
}

/** Processes unprocessed inputs, checkpoints, and updates the live projection. */
export async function runProcess(ctx: CliContext, fromStart: boolean): Promise<ProcessReport> {
  const store = await ctx.store();
  // Sealed before the run writes: what others recorded since the last seal cannot be edited unseen in between.
  const sealedBefore = await sealHistory(store);
  // No decision under a policy whose content differs from its lock or from what history recorded for its version.
  const policies = await guardPolicies(store, ctx.config);
  const container = await ctx.services();
  const correlation = await container.get(CORRELATION_TOKENS.Correlation).correlateOnce({ tick: true });
  const checkpoint = await loadProcessorCheckpoint(store);
  const after = fromStart ? undefined : checkpoint?.position;
  const { handled, position, failed } = await processCandidateInputs(store, container.get(TOKENS.HandlerContext), after);
  if (position !== undefined && position !== checkpoint?.position) await saveProcessorCheckpoint(store, position, checkpoint?.revision);
  const projection = await updateLiveProjection(store);
  const sealedAfter = await sealHistory(store);
  const models = projection.state.models;
  const { inputs, late, uncorrelated, candidatesOpened, poison } = correlation.stats;
  return {
    correlation: { inputs, late, uncorrelated, candidatesOpened, poison },
    handled,
    failed,
    from: after === undefined ? 'start' : after.toString(),
    position: position?.toString() ?? null,
    projection: { outcome: projection.outcome, eventsApplied: projection.applied, position: projection.state.position?.toString() ?? null },
    incidents: Object.keys(models.incidents).length,
    deferred: Object.keys(models.deferred).length,
    ...(correlation.autoResolution === undefined ? {} : { autoResolution: { resolved: correlation.autoResolution.resolved, superseded: correlation.autoResolution.superseded } }),
    policies,
    integrity: { eventsSealed: sealedBefore.eventsSealed + sealedAfter.eventsSealed, head: sealedAfter.head, sealedThrough: sealedAfter.sealedThrough },
  };
}

export async function loadProcessorCheckpoint(store: EventStore): Promise<{ position: bigint; revision: bigint } | undefined> {
  for await (const recorded of store.readStream(PROCESSOR_CHECKPOINT_STREAM, { direction: 'backwards', maxCount: 1 })) {
    const position = (recorded.data as { position?: unknown }).position;
    if (typeof position === 'string' && /^\d+$/.test(position)) return { position: BigInt(position), revision: recorded.revision };
  }
  return undefined;
}

async function saveProcessorCheckpoint(store: EventStore, position: bigint, revision: bigint | undefined): Promise<void> {
  const event = { id: eventId(`${CHECKPOINTED}:${position}`), type: CHECKPOINTED, data: { position: position.toString() }, metadata: { schemaVersion: 1 } };
  try {
    await store.append(PROCESSOR_CHECKPOINT_STREAM, [event], revision ?? 'no_stream');
  } catch (error) {
    if (error instanceof WrongExpectedVersion) return; // another processor checkpointed: its position is as good
    throw error;
  }
  if (revision === undefined) await store.setStreamMetadata(PROCESSOR_CHECKPOINT_STREAM, { maxCount: 5 });
}
