import { Command } from 'commander';

import { TOKENS } from '../../container/tokens.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { InvalidInput } from '../../shared/errors.js';
import type { Action } from './action.js';
import { fingerprintTrail } from '../../correlation/signal-trail.js';
import { explainChain } from '../../operators/explain.js';

export function explainCommand(action: Action): Command {
  return new Command('explain')
    .summary('the recorded chain of a candidate or incident, signals to incident; or what became of an alert')
    .description(
      'the recorded chain of a candidate (cand-...) or incident (inc-...): its signals (firing, attached, resolved) -> ' +
        'candidate (title, alert context) -> decision(s) (policy id@version, content hash, rule matched, authority) -> ' +
        'incident (+ lifecycle), and its orchestration-attempt log (debug read). Given an alert fingerprint instead: ' +
        'every recorded fact of that alert and what correlation did with each, the ones that formed no candidate too.',
    )
    .argument('<id>', 'a candidate id, an incident id, or an alert fingerprint')
    .action(action(async (ctx, [id]) => explain(ctx, id as string)));
}

async function explain(ctx: CliContext, id: string): Promise<ExitCode> {
  const container = await ctx.services();
  if (!id.startsWith('cand-') && !id.startsWith('inc-')) return explainFingerprint(ctx, id);
  const view = await explainChain(
    { reader: await ctx.store(), candidates: container.get(TOKENS.CandidateStore), incidents: container.get(TOKENS.IncidentManager), attempts: container.get(TOKENS.OrchestrationStore), policies: ctx.config.policies, matrix: ctx.config.authorityMatrix },
    id,
  );
  const { candidate, decisions, attempts } = view;
  const trail = view.signals.recorded === undefined ? undefined : { entries: view.signals.recorded, firing: view.signals.firing ?? 0, resolved: view.signals.resolved ?? 0, allResolved: view.signals.allResolved === true };
  const incidents = view.incidents.map((i) => ({ ...i, history: i.lifecycle }));

  const lines: string[] = [];
  if (trail === undefined) {
    const shown = candidate.signalIds.slice(0, 10);
    lines.push(`signals (${candidate.signalCount}): ${shown.join(', ')}${candidate.signalIds.length > shown.length ? `, ... (${candidate.signalIds.length - shown.length} more)` : ''}`);
  } else {
    lines.push(`signals: ${trail.firing} firing recorded on it, ${trail.resolved} resolved${trail.allResolved ? ' (all resolved: the problem went away)' : ''}`);
    for (const a of view.signals.automation ?? []) lines.push(`  incident ${a.incidentId}: ${a.reason}`);
    for (const e of trail.entries.slice(0, 20)) {
      lines.push(`  ${e.status === 'resolved' ? `resolved ${e.endsAt ?? ''}` : `firing   ${e.observedAt}`} ${e.severity} ${e.alertname ?? ''} ${e.signalId} (${e.outcome}${e.late ? ', late' : ''})`);
    }
    if (trail.entries.length > 20) lines.push(`  ... (${trail.entries.length - 20} more; --json lists them)`);
  }
  lines.push(`  -> candidate ${candidate.candidateId}  ${view.candidate.status}${candidate.title === undefined ? '' : `  "${candidate.title}"`}`);
  if (candidate.context?.runbookUrl !== undefined) lines.push(`     runbook ${candidate.context.runbookUrl}`);
  if (candidate.context?.generatorUrl !== undefined) lines.push(`     source  ${candidate.context.generatorUrl}`);
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

async function explainFingerprint(ctx: CliContext, fingerprint: string): Promise<ExitCode> {
  const trail = await fingerprintTrail(await ctx.store(), ctx.config.correlationRules, fingerprint);
  if (trail.facts.length === 0) throw new InvalidInput(`explain ${fingerprint}`, ['no candidate, incident or alert fingerprint of that name is recorded']);
  const lines = [`alert ${fingerprint}: ${trail.facts.length} recorded fact${trail.facts.length === 1 ? '' : 's'}`];
  for (const item of trail.facts) {
    const f = item.fact;
    const what = item.type === 'SignalIgnored' ? 'ignored by the source mapping' : item.rule === undefined ? 'taken by no correlation rule' : item.correlated === undefined ? `rule ${item.rule}: not correlated yet` : `rule ${item.rule}: ${item.correlated.outcome}${item.correlated.candidateId === undefined ? '' : ` on ${item.correlated.candidateId}`}${item.correlated.late ? ' (late)' : ''}`;
    lines.push(`  ${f.status === 'resolved' ? `resolved ${f.endsAt ?? ''}` : `firing   ${f.observedAt}`} ${f.severity} ${f.service} ${f.labels['alertname'] ?? ''}: ${what}`);
  }
  ctx.output.result(trail, () => lines);
  return EXIT.OK;
}
