import { Command, Option } from 'commander';

import { TOKENS } from '../../container/tokens.js';
import { currentReadModels } from '../../projections/live-projection.js';
import { manualPromotionRefusal } from '../../promotion/promotion-engine.js';
import type { CliContext } from '../context.js';
import { candidateCodec } from '../../candidates/candidate-codec.js';
import { CANDIDATE_STREAM_PREFIX } from '../../candidates/candidate-events.js';
import { CliUsageError, EXIT, type ExitCode } from '../exit-codes.js';
import { noteMismatches, notePoison, table } from '../output.js';
import { checkDeferredRows } from '../../projections/row-check.js';
import type { Action } from './action.js';
import { apiUrlOf, humanOptions, localActor, tokenOf, TOKEN_ENV, type HumanOptions } from '../human-actor.js';
import { callOperatorApi } from '../operator-client.js';
import { HumanActs } from '../../operators/human-acts.js';
import { alertsOf } from './incidents.js';
import { statusOf } from '../../operators/explain.js';

export function candidatesCommand(action: Action): Command {
  const candidates = new Command('candidates').description('correlated candidates and their decisions');
  candidates
    .command('list')
    .description('candidates newest first, with their latest decision, filtered by decision, policy version and time (a scan of the candidate streams)')
    .addOption(new Option('--decision <kind>', 'only those whose latest decision is this (NONE: not decided yet)').choices(['PROMOTE', 'DEFER', 'SUPPRESS', 'NONE']))
    .option('--policy <id@version>', 'only candidates naming this policy version')
    .option('--since <time>', 'created at or after (ISO 8601)')
    .option('--until <time>', 'created before (ISO 8601)')
    .option('--limit <n>', 'at most this many', (v) => Number.parseInt(v, 10), 50)
    .action(action<ListOptions>(async (ctx, _args, o) => listCandidates(ctx, o)));
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

interface ListOptions {
  readonly decision?: 'PROMOTE' | 'DEFER' | 'SUPPRESS' | 'NONE';
  readonly policy?: string;
  readonly since?: string;
  readonly until?: string;
  readonly limit: number;
}

async function listCandidates(ctx: CliContext, o: ListOptions): Promise<ExitCode> {
  const time = (value: string | undefined, flag: string): number | undefined => {
    if (value === undefined) return undefined;
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new CliUsageError(`${flag} must be an ISO 8601 time, got '${value}'`);
    return ms;
  };
  const since = time(o.since, '--since');
  const until = time(o.until, '--until');
  if (!Number.isInteger(o.limit) || o.limit < 1) throw new CliUsageError('--limit must be a positive integer');
  const rows = new Map<string, { candidateId: string; createdAt: string; severity: string; service: string; policy: string; decision: string; title: string | null }>();
  const poison: Array<{ streamId: string; revision: string; type: string; problem: string }> = [];
  for await (const recorded of (await ctx.store()).readAll({ streamPrefixes: [CANDIDATE_STREAM_PREFIX] })) {
    if (recorded.type !== 'CandidateCreated' && recorded.type !== 'PromotionDecided') continue;
    try {
      const event = candidateCodec.decode(recorded);
      if (event.type === 'CandidateCreated') {
        const { data, metadata } = event;
        rows.set(data.candidateId, { candidateId: data.candidateId, createdAt: data.createdAt, severity: data.severity, service: data.service, policy: `${metadata.candidate.policyId}@${metadata.candidate.policyVersion}`, decision: 'NONE', title: metadata.candidate.title ?? null });
      } else if (event.type === 'PromotionDecided') {
        const row = rows.get(event.data.candidateId);
        if (row !== undefined) row.decision = event.data.decision;
      }
    } catch (error) {
      poison.push({ streamId: recorded.streamId, revision: recorded.revision.toString(), type: recorded.type, problem: (error as Error).message });
    }
  }
  notePoison(ctx, poison);
  const selected = [...rows.values()]
    .filter((r) => (o.decision === undefined || r.decision === o.decision) && (o.policy === undefined || r.policy === o.policy))
    .filter((r) => (since === undefined || Date.parse(r.createdAt) >= since) && (until === undefined || Date.parse(r.createdAt) < until))
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.candidateId < b.candidateId ? 1 : -1));
  const shown = selected.slice(0, o.limit);
  ctx.output.result({ candidates: shown, matched: selected.length }, () =>
    shown.length === 0
      ? ['no candidates match']
      : [...table(['CANDIDATE', 'CREATED', 'SEVERITY', 'SERVICE', 'POLICY', 'DECISION', 'TITLE'], shown.map((r) => [r.candidateId, r.createdAt, r.severity, r.service, r.policy, r.decision, r.title ?? ''])), `${shown.length} of ${selected.length} matching`],
  );
  return EXIT.OK;
}

async function deferred(ctx: CliContext): Promise<ExitCode> {
  const { models, poison } = await currentReadModels(await ctx.store());
  notePoison(ctx, poison);
  const checked = await checkDeferredRows(Object.values(models.deferred), (await ctx.services()).get(TOKENS.CandidateStore));
  noteMismatches(ctx, checked.mismatches);
  const rows = checked.rows.sort((a, b) => (a.deferredAt < b.deferredAt ? -1 : a.deferredAt > b.deferredAt ? 1 : a.candidateId < b.candidateId ? -1 : 1));
  ctx.output.result({ deferred: rows, ...(checked.mismatches.length > 0 ? { mismatches: checked.mismatches } : {}), ...(poison.length > 0 ? { unreadableEvents: poison } : {}) }, () =>
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
