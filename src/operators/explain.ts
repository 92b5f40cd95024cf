import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import { automationOutcomes } from '../auto-resolution/automation-outcome.js';
import type { CandidateHistory, CandidateStore } from '../candidates/candidate-store.js';
import { candidateSignals } from '../correlation/signal-trail.js';
import type { EventReader } from '../eventstore/event-store.js';
import type { IncidentManager } from '../incidents/incident-manager.js';
import type { Incident } from '../incidents/incident-state-machine.js';
import type { OrchestrationAttempt, OrchestrationStore } from '../orchestration/orchestration-store.js';
import type { PolicyRegistry } from '../promotion/policy.js';
import { manualPromotionRefusal } from '../promotion/promotion-engine.js';

/** A candidate's status in one word, from its history. */
export function statusOf(history: CandidateHistory): string {
  const last = history.decisions.at(-1);
  if (last === undefined) return 'AWAITING_DECISION';
  if (last.decision === 'PROMOTE') return history.incidents.length > 0 ? 'PROMOTED' : 'PROMOTED_AWAITING_INCIDENT';
  if (last.decision === 'SUPPRESS') return 'SUPPRESSED';
  const decided = new Set(history.decisions.map((d) => d.authority.sessionId));
  return history.manualRequests.some((r) => !decided.has(r.requestId)) ? 'DEFERRED_PROMOTION_REQUESTED' : 'DEFERRED';
}

export interface ExplainDeps {
  readonly reader: EventReader;
  readonly candidates: CandidateStore;
  readonly incidents: IncidentManager;
  readonly attempts: Pick<OrchestrationStore, 'getAttempts'>;
  readonly policies: PolicyRegistry;
  /** The matrix in config: whether the alert automation may resolve an incident whose alerts all resolved. */
  readonly matrix: AuthorityMatrix;
}

/**
 * The recorded chain of a candidate (or of the incident opened from it), as the CLI's explain and
 * the operator API show it: its signals (firing, attached, resolved), the candidate with its title
 * and alert context, every decision with the policy id@version and content hash it was made under
 * (and whether config still holds that content), the incidents and their lifecycle, the attempts.
 * When every alert on it has resolved: per incident, what the alert automation did or why not.
 */
export async function explainChain(deps: ExplainDeps, id: string) {
  const candidateId = id.startsWith('inc-') ? (await deps.incidents.get(id)).candidateId : id;
  const history = await deps.candidates.refresh(candidateId);
  const incidents: Array<{ incident: Incident; revision: bigint }> = [];
  for (const created of history.incidents) incidents.push(await deps.incidents.read(created.incidentId));
  const attempts: OrchestrationAttempt[] = await deps.attempts.getAttempts(candidateId);
  const { candidate } = history;
  const decisions = history.decisions.map((d) => {
    const current = deps.policies.find(d.policyId, d.policyVersion);
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
  const trail = await candidateSignals(deps.reader, candidate);
  const automation =
    trail?.allResolved === true ? await automationOutcomes(deps.reader, deps.matrix, candidateId, trail.groupStream, incidents.map((i) => i.incident)) : undefined;
  return {
    signals: {
      count: candidate.signalCount,
      ids: candidate.signalIds,
      ...(trail === undefined ? {} : { recorded: trail.entries, firing: trail.firing, resolved: trail.resolved, allResolved: trail.allResolved }),
      ...(automation === undefined ? {} : { automation }),
    },
    candidate: { ...candidate, status: statusOf(history), eventId: history.createdEventId, revision: history.revision.toString() },
    manualPromotion: manualPromotionRefusal(history) ?? 'allowed',
    manualRequests: history.manualRequests.map(({ revision, ...r }) => ({ ...r, revision: revision.toString() })),
    decisions,
    incidents: incidents.map(({ incident: i, revision }) => ({ incidentId: i.incidentId, decisionId: i.decisionId, state: i.state, openedAt: i.openedAt, authority: i.authority, lifecycle: i.history, revision: revision.toString() })),
    attempts,
  };
}

export type ChainView = Awaited<ReturnType<typeof explainChain>>;
