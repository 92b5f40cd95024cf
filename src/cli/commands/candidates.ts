import { Command } from 'commander';

import { TOKENS } from '../../container/tokens.js';
import { currentReadModels } from '../../projections/live-projection.js';
import { notePoison } from '../output.js';
import { manualPromotionRefusal } from '../../promotion/promotion-engine.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { table } from '../output.js';
import type { Action } from './action.js';
import { apiUrlOf, humanOptions, localActor, tokenOf, TOKEN_ENV, type HumanOptions } from '../human-actor.js';
import { callOperatorApi } from '../operator-client.js';
import { HumanActs } from '../../operators/human-acts.js';
import { alertsOf } from './incidents.js';
import { statusOf } from '../../operators/explain.js';

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
  humanOptions(
    candidates
      .command('promote')
      .summary('ask, as an authenticated human, to promote a deferred candidate')
      .description(
        'ask, as a human, to promote a DEFERRED candidate. Records ManualPromotionRequested (stamped now) with the ' +
          'principal your token proves and how; the orchestrator (`opx process`, the worker, `opx serve`) then decides it. ' +
          `Without a token (--token or ${TOKEN_ENV}) nothing is recorded. Refused (exit 1) when the candidate is not ` +
          'deferred, a request is pending, or your role lacks MANUAL_PROMOTE. With --url, through the operator API.',
      )
      .argument('<candidateId>')
      .requiredOption('--justification <text>', 'why (recorded on the decision)'),
  ).action(action<HumanOptions & { justification: string }>(async (ctx, [id], o) => promote(ctx, id as string, o)));
  return candidates;
}

async function deferred(ctx: CliContext): Promise<ExitCode> {
  const { models, poison } = await currentReadModels(await ctx.store());
  notePoison(ctx, poison);
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

async function promote(ctx: CliContext, candidateId: string, o: HumanOptions & { justification: string }): Promise<ExitCode> {
  const url = apiUrlOf(o);
  let result: { requestId: string; requestedAt: string; by: string; role: string };
  if (url !== undefined) {
    result = await callOperatorApi(url, tokenOf(o), 'POST', `/candidates/${encodeURIComponent(candidateId)}/promotion`, { justification: o.justification, ...(o.role === undefined ? {} : { role: o.role }) });
  } else {
    const actor = localActor(o);
    const container = await ctx.services();
    const acts = new HumanActs(await ctx.store(), container.get(TOKENS.CandidateStore), container.get(TOKENS.IncidentManager), ctx.config.authorityMatrix, ctx.clock);
    const { requestId, requestedAt } = await acts.requestPromotion(actor, candidateId, o.justification);
    result = { requestId, requestedAt, by: actor.name, role: actor.role };
  }
  ctx.output.result({ candidateId, ...result, status: 'REQUESTED' }, () => [
    `promotion of ${candidateId} requested by ${result.role}:${result.by} at ${result.requestedAt} (request ${result.requestId})`,
    'the orchestrator decides it: run `opx process`, or let the worker / opx serve pick it up',
  ]);
  return EXIT.OK;
}
