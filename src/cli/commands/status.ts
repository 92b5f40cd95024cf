import { Command } from 'commander';

import { readCheckpoint } from '../../correlation/correlation-checkpoint.js';
import { CORRELATED_SIGNAL_TYPES, SIGNAL_STREAM_PREFIX } from '../../signals/signal-events.js';
import type { EventStore, PersistentSubscriptions } from '../../eventstore/event-store.js';
import { lastAudit, type AuditSummary } from '../../operators/audit-record.js';
import { currentReadModels } from '../../projections/live-projection.js';
import { countParkedEvents } from '../../worker/parked.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { notePoison } from '../output.js';
import type { Action } from './action.js';

const SIGNAL_TYPES = new Set<string>(CORRELATED_SIGNAL_TYPES);

export function statusCommand(action: Action): Command {
  return new Command('status')
    .summary('is it done? the backlog of correlation and decisions, parked events, the last audit')
    .description(
      'what an operator asks before anything else, without a replay: signal facts not yet correlated (after the ' +
        "correlation's checkpoint), candidates awaiting a decision, promotion requests pending, incidents by state, the " +
        'deferred queue, events parked by the worker group (EventStoreDB stores), unreadable events the read models ' +
        'passed over, and the verdict of the last replay audit recorded.',
    )
    .action(action(async (ctx) => status(ctx)));
}

async function status(ctx: CliContext): Promise<ExitCode> {
  const store = await ctx.store();
  const checkpoint = await readCheckpoint(store);
  let uncorrelated = 0;
  for await (const recorded of store.readAll({ streamPrefixes: [SIGNAL_STREAM_PREFIX], ...(checkpoint === undefined ? {} : { after: checkpoint.position }) })) {
    if (SIGNAL_TYPES.has(recorded.type)) uncorrelated++;
  }
  const { models, poison } = await currentReadModels(store);
  const byState: Record<string, number> = {};
  for (const incident of Object.values(models.incidents)) byState[incident.state] = (byState[incident.state] ?? 0) + 1;
  const deferred = Object.values(models.deferred);
  const parked = hasPersistentSubscriptions(store) ? await countParkedEvents(store).catch(() => null) : null;
  const audit = await lastAudit(store);
  const view = {
    store: ctx.storeDescription,
    correlation: { checkpoint: checkpoint?.position.toString() ?? null, signalsNotCorrelated: uncorrelated, held: checkpoint?.resumeFrom === undefined ? 0 : 'some (waiting for the watermark or a tick)' },
    decisions: { awaitingDecision: Object.keys(models.awaitingDecision).length, promotionRequestsPending: deferred.filter((d) => d.promotionRequested).length },
    incidents: byState,
    deferred: deferred.length,
    parked,
    unreadableEvents: poison.length,
    lastAudit: audit ?? null,
  };
  notePoison(ctx, poison);
  ctx.output.result(view, () => [
    `opx status (${view.store})`,
    `  correlation   ${uncorrelated} signal fact${uncorrelated === 1 ? '' : 's'} not correlated yet${checkpoint === undefined ? ' (never run)' : ''}`,
    `  decisions     ${view.decisions.awaitingDecision} candidate${view.decisions.awaitingDecision === 1 ? '' : 's'} awaiting a decision, ${view.decisions.promotionRequestsPending} promotion request${view.decisions.promotionRequestsPending === 1 ? '' : 's'} pending`,
    `  incidents     ${Object.entries(byState).map(([state, n]) => `${n} ${state}`).join(', ') || 'none'}`,
    `  deferred      ${view.deferred} waiting for a human`,
    `  parked        ${parked === null ? 'n/a (no persistent subscriptions on this store)' : parked}`,
    `  last audit    ${audit === undefined ? 'none recorded' : describeAudit(audit)}`,
    ...(uncorrelated === 0 && view.decisions.awaitingDecision === 0 && view.decisions.promotionRequestsPending === 0 ? ['  done: nothing is waiting to be correlated or decided'] : []),
  ]);
  return EXIT.OK;
}

const hasPersistentSubscriptions = (store: EventStore): store is EventStore & PersistentSubscriptions => typeof (store as Partial<PersistentSubscriptions>).readParked === 'function';

/** One line for the last audit: its verdict, when, by whom, and where it first diverged or which policies drifted. */
function describeAudit(audit: AuditSummary): string {
  const divergences = audit.divergenceCount + audit.correlation.divergenceCount;
  const first = audit.correlation.divergences[0] ?? audit.divergences[0];
  return (
    `${audit.verdict} at ${audit.finishedAt} by ${audit.by}` +
    (divergences > 0 ? `, ${divergences} divergence${divergences === 1 ? '' : 's'}${first === undefined ? '' : ` (first: ${first.streamId} revision ${first.revision})`}` : '') +
    (audit.policyDrift.length > 0 ? `, policy drift: ${audit.policyDrift.map((d) => d.policy).join(', ')}` : '') +
    (audit.integrity === undefined ? '' : `, integrity ${audit.integrity.verdict}${integrityFirst(audit.integrity.findings[0])}`)
  );
}

const integrityFirst = (finding: { readonly kind: string; readonly streamId?: string; readonly revision?: string } | undefined): string =>
  finding === undefined ? '' : ` (first: ${finding.kind}${finding.streamId === undefined ? '' : ` ${finding.streamId} revision ${finding.revision ?? '?'}`})`;
