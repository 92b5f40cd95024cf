import { Command, Option } from 'commander';

import type { AuthorityType } from '../../authority/authority.js';
import type { CandidateHistory } from '../../candidates/candidate-store.js';
import { TOKENS } from '../../container/tokens.js';
import { currentReadModels } from '../../projections/live-projection.js';
import { requestManualPromotion } from '../../promotion/manual-promotion.js';
import { manualPromotionRefusal } from '../../promotion/promotion-engine.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { table } from '../output.js';
import type { Action } from './action.js';
import { alertsOf } from './incidents.js';

export const HUMAN_ROLES = ['HUMAN_OPERATOR', 'ON_CALL_RESPONDER'] as const satisfies readonly AuthorityType[];

export const roleOption = (): Option => new Option('--role <role>', 'the authority you act under').choices(HUMAN_ROLES).default('HUMAN_OPERATOR');

export function candidatesCommand(action: Action): Command {
  const candidates = new Command('candidates').description('correlated candidates and their decisions');
  candidates
    .command('deferred')
    .description('the deferred queue: candidates waiting for a human (from the live projection)')
    .action(action(async (ctx) => deferred(ctx)));
  candidates
    .command('show')
    .description('one candidate: its facts, decisions, promotion requests and incidents')
    .argument('<candidateId>')
    .action(action(async (ctx, [id]) => show(ctx, id as string)));
  candidates
    .command('promote')
    .summary('ask, as a human, to promote a deferred candidate')
    .description(
      'ask, as a human, to promote a DEFERRED candidate. Records ManualPromotionRequested (stamped now); ' +
        'the orchestrator (`opx process` or the worker) then decides it. Refused (exit 1) when the candidate is not ' +
        'deferred, a request is pending, or your role lacks MANUAL_PROMOTE.',
    )
    .argument('<candidateId>')
    .requiredOption('--operator <name>', 'who asks (recorded as the authority id)')
    .requiredOption('--justification <text>', 'why (recorded on the decision)')
    .addOption(roleOption())
    .action(action<{ operator: string; justification: string; role: AuthorityType }>(async (ctx, [id], o) => promote(ctx, id as string, o)));
  return candidates;
}

async function deferred(ctx: CliContext): Promise<ExitCode> {
  const { models } = await currentReadModels(await ctx.store());
  const rows = Object.values(models.deferred).sort((a, b) => (a.deferredAt < b.deferredAt ? -1 : a.deferredAt > b.deferredAt ? 1 : a.candidateId < b.candidateId ? -1 : 1));
  ctx.output.result({ deferred: rows }, () =>
    rows.length === 0
      ? ['no deferred candidates']
      : [
          ...table(
            ['CANDIDATE', 'SEVERITY', 'SERVICE', 'ALERTS', 'DEFERRED AT', 'POLICY', 'REQUESTED', 'TITLE / REASON'],
            rows.map((r) => [r.candidateId, r.severity, r.service, alertsOf(r.alerts), r.deferredAt, r.policy, r.promotionRequested ? 'yes' : 'no', r.title === undefined ? r.reason : `${r.title} (${r.reason})`]),
          ),
          `${rows.length} deferred`,
        ],
  );
  return EXIT.OK;
}

/** A candidate's status in one word, from its history. */
export function statusOf(history: CandidateHistory): string {
  const last = history.decisions.at(-1);
  if (last === undefined) return 'AWAITING_DECISION';
  if (last.decision === 'PROMOTE') return history.incidents.length > 0 ? 'PROMOTED' : 'PROMOTED_AWAITING_INCIDENT';
  if (last.decision === 'SUPPRESS') return 'SUPPRESSED';
  const decided = new Set(history.decisions.map((d) => d.authority.sessionId));
  return history.manualRequests.some((r) => !decided.has(r.requestId)) ? 'DEFERRED_PROMOTION_REQUESTED' : 'DEFERRED';
}

async function show(ctx: CliContext, candidateId: string): Promise<ExitCode> {
  const history = await (await ctx.services()).get(TOKENS.CandidateStore).refresh(candidateId);
  const { candidate } = history;
  const status = statusOf(history);
  const view = {
    candidate,
    status,
    revision: history.revision.toString(),
    decisions: history.decisions.map(({ revision, ...d }) => ({ ...d, revision: revision.toString() })),
    manualRequests: history.manualRequests.map(({ revision, ...r }) => ({ ...r, revision: revision.toString() })),
    incidents: history.incidents.map(({ revision, ...i }) => ({ ...i, revision: revision.toString() })),
    manualPromotion: manualPromotionRefusal(history) ?? 'allowed',
  };
  ctx.output.result(view, () => [
    `candidate ${candidate.candidateId}  ${status}`,
    `  ${candidate.severity} ${candidate.service}, ${candidate.signalCount} signals, created ${candidate.createdAt}`,
    `  correlation ${candidate.correlationRuleId}@${candidate.correlationRuleVersion}, window ${candidate.windowStart} .. ${candidate.windowEnd}`,
    `  policy ${candidate.policyId}@${candidate.policyVersion}`,
    ...history.decisions.map((d) => `  decision ${d.decision} by ${d.authority.authorityType}:${d.authority.authorityId} at ${d.decidedAt} (rule ${d.matchedRule}) ${d.decisionId}`),
    ...history.manualRequests.map((r) => `  promotion requested by ${r.authority.authorityType}:${r.authority.authorityId} at ${r.requestedAt}: ${r.authority.justification}`),
    ...history.incidents.map((i) => `  incident ${i.incidentId} created ${i.createdAt}`),
    `  manual promotion: ${view.manualPromotion === 'allowed' ? 'allowed' : `not allowed (${view.manualPromotion})`}`,
  ]);
  return EXIT.OK;
}

async function promote(ctx: CliContext, candidateId: string, o: { operator: string; justification: string; role: AuthorityType }): Promise<ExitCode> {
  const container = await ctx.services();
  const requestedAt = ctx.clock.now().toISOString();
  const { requestId } = await requestManualPromotion(await ctx.store(), container.get(TOKENS.CandidateStore), ctx.config.authorityMatrix, {
    candidateId,
    operator: o.operator,
    justification: o.justification,
    requestedAt,
    authorityType: o.role,
  });
  ctx.output.result({ candidateId, requestId, operator: o.operator, role: o.role, requestedAt, status: 'REQUESTED' }, () => [
    `promotion of ${candidateId} requested by ${o.role}:${o.operator} at ${requestedAt} (request ${requestId})`,
    'the orchestrator decides it: run `opx process`, or let the worker pick it up',
  ]);
  return EXIT.OK;
}
