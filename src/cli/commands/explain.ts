import { Command } from 'commander';

import { TOKENS } from '../../container/tokens.js';
import type { Incident } from '../../incidents/incident-state-machine.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Action } from './action.js';
import { statusOf } from './candidates.js';

export function explainCommand(action: Action): Command {
  return new Command('explain')
    .summary('the recorded chain of one candidate, signals to incident')
    .description(
      'the recorded chain for one candidate: signals -> candidate -> decision(s) (policy id@version, content hash, ' +
        'rule matched, authority) -> incident (+ lifecycle), and its orchestration-attempt log (debug read)',
    )
    .argument('<candidateId>')
    .action(action(async (ctx, [id]) => explain(ctx, id as string)));
}

async function explain(ctx: CliContext, candidateId: string): Promise<ExitCode> {
  const container = await ctx.services();
  const history = await container.get(TOKENS.CandidateStore).refresh(candidateId);
  const incidents: Incident[] = [];
  for (const created of history.incidents) incidents.push(await container.get(TOKENS.IncidentManager).get(created.incidentId));
  const attempts = await container.get(TOKENS.OrchestrationStore).getAttempts(candidateId);
  const policies = ctx.config.policies;
  const { candidate } = history;

  const decisions = history.decisions.map((d) => {
    const current = policies.find(d.policyId, d.policyVersion);
    const policyNow = current === undefined ? 'missing from config' : current.hash === d.policyHash ? 'unchanged' : `DRIFTED (config hash ${current.hash})`;
    return {
      decisionId: d.decisionId,
      decision: d.decision,
      policy: `${d.policyId}@${d.policyVersion}`,
      policyHash: d.policyHash,
      policyNow,
      matchedRule: d.matchedRule,
      reason: d.reason,
      authority: d.authority,
      authorityMatrixVersion: d.authorityMatrixVersion,
      decidedAt: d.decidedAt,
      eventId: d.eventId,
      revision: d.revision.toString(),
    };
  });
  const view = {
    signals: { count: candidate.signalCount, ids: candidate.signalIds },
    candidate: { ...candidate, status: statusOf(history), eventId: history.createdEventId },
    manualRequests: history.manualRequests.map(({ revision, ...r }) => ({ ...r, revision: revision.toString() })),
    decisions,
    incidents: incidents.map((i) => ({ incidentId: i.incidentId, decisionId: i.decisionId, state: i.state, openedAt: i.openedAt, authority: i.authority, lifecycle: i.history })),
    attempts,
  };

  const lines: string[] = [];
  const shown = candidate.signalIds.slice(0, 10);
  lines.push(`signals (${candidate.signalCount}): ${shown.join(', ')}${candidate.signalIds.length > shown.length ? `, ... (${candidate.signalIds.length - shown.length} more)` : ''}`);
  lines.push(`  -> candidate ${candidate.candidateId}  ${view.candidate.status}`);
  lines.push(`     ${candidate.severity} ${candidate.service}, correlation ${candidate.correlationRuleId}@${candidate.correlationRuleVersion} group ${candidate.groupKey}, created ${candidate.createdAt}`);
  for (const r of view.manualRequests) lines.push(`  -> promotion requested by ${r.authority.authorityType}:${r.authority.authorityId} at ${r.requestedAt} ("${r.authority.justification}")`);
  for (const d of decisions) {
    lines.push(`  -> decision ${d.decision} ${d.decisionId} at ${d.decidedAt}`);
    lines.push(`     policy ${d.policy} sha256 ${d.policyHash} (${d.policyNow})`);
    lines.push(`     rule ${d.matchedRule}: ${d.reason}`);
    lines.push(`     authority ${d.authority.authorityType}:${d.authority.authorityId} session ${d.authority.sessionId} (matrix v${d.authorityMatrixVersion})`);
  }
  for (const i of incidents) {
    lines.push(`  -> incident ${i.incidentId} ${i.state}, opened ${i.openedAt} under ${i.authority.authorityType}:${i.authority.authorityId}`);
    for (const h of i.history) lines.push(`     ${h.changedAt} ${h.from} -> ${h.to} by ${h.authority.authorityType}:${h.authority.authorityId}`);
  }
  if (decisions.length === 0) lines.push('  -> no decision yet (run `opx process`, or the worker has not reached it)');
  lines.push(`orchestration attempts (debug log, ${attempts.length}):`);
  for (const a of attempts) lines.push(`  ${a.startedAt} ${a.status} ${a.authorityType}:${a.authorityId} ${a.decision ?? '-'}${a.incidentId === undefined ? '' : ` ${a.incidentId}`} ${a.durationMs.toFixed(1)} ms${a.error === undefined ? '' : ` error: ${a.error}`}`);
  ctx.output.result(view, () => lines);
  return EXIT.OK;
}
