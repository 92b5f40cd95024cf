import { candidateCodec } from '../candidates/candidate-codec.js';
import { CANDIDATE_STREAM_PREFIX, type Decision } from '../candidates/candidate-events.js';
import { evolve } from '../candidates/candidate-store.js';
import type { Candidate } from '../correlation/correlator.js';
import type { EventStore } from '../eventstore/event-store.js';
import { evaluatePolicy, type Policy } from '../promotion/policy.js';

/** One candidate whose automatic decision would be different under the what-if policy. */
export interface WhatIfChange {
  readonly candidateId: string;
  readonly severity: string;
  readonly service: string;
  readonly signalCount: number;
  /** `policyId@version` the candidate named and was decided under. */
  readonly recordedPolicy: string;
  readonly recorded: { readonly decision: Decision; readonly matchedRule: string };
  readonly whatIf: { readonly decision: Decision; readonly matchedRule: string };
}

export interface WhatIfReport {
  /** `policyId@version` evaluated. */
  readonly policy: string;
  readonly policyHash: string;
  /** Candidates naming the policy id with a recorded automatic decision. */
  readonly candidatesEvaluated: number;
  /** Candidates naming the policy id without an automatic decision yet (not evaluated). */
  readonly undecided: number;
  readonly unchanged: number;
  readonly changed: number;
  /** `RECORDED->WHATIF` -> count, e.g. `DEFER->SUPPRESS: 12`. */
  readonly transitions: Readonly<Record<string, number>>;
  /** The changed candidates, at most `maxListed`, in history order. */
  readonly changes: readonly WhatIfChange[];
}

/**
 * What-if: re-decides recorded history under another version of a policy, without writing.
 * For every recorded candidate that names the policy's id (any version), the policy is evaluated
 * on the candidate as CP-5 recorded it (the same pure {@link evaluatePolicy} CP-6 uses) and
 * compared with the candidate's recorded automatic (AUTO_ENGINE) decision. Manual promotions are
 * human acts, not policy outcomes, and are not re-decided. Memory holds only candidates still
 * waiting for their automatic decision while history is read.
 */
export async function whatIf(
  store: EventStore,
  policy: Policy,
  options: { readonly maxListed?: number; readonly onProgress?: (eventsRead: number) => void } = {},
): Promise<WhatIfReport> {
  const { id, version } = policy.document;
  const maxListed = options.maxListed ?? 1_000;
  const awaiting = new Map<string, Candidate>();
  const transitions: Record<string, number> = {};
  const changes: WhatIfChange[] = [];
  let evaluated = 0;
  let changed = 0;
  let eventsRead = 0;

  for await (const recorded of store.readAll({ streamPrefixes: [CANDIDATE_STREAM_PREFIX] })) {
    eventsRead++;
    if (options.onProgress !== undefined && eventsRead % 10_000 === 0) options.onProgress(eventsRead);
    if (recorded.type !== 'CandidateCreated' && recorded.type !== 'PromotionDecided') continue;
    const event = candidateCodec.decode(recorded);
    if (event.type === 'CandidateCreated') {
      const candidate = evolve(undefined, event, recorded.id, recorded.revision).candidate;
      if (candidate.policyId === id) awaiting.set(candidate.candidateId, candidate);
      continue;
    }
    if (event.type !== 'PromotionDecided' || event.data.authority.authorityType !== 'AUTO_ENGINE') continue;
    const candidate = awaiting.get(event.data.candidateId);
    if (candidate === undefined) continue;
    awaiting.delete(candidate.candidateId);
    evaluated++;
    const outcome = evaluatePolicy(policy.document, candidate);
    if (outcome.decision === event.data.decision) continue;
    changed++;
    const key = `${event.data.decision}->${outcome.decision}`;
    transitions[key] = (transitions[key] ?? 0) + 1;
    if (changes.length < maxListed) {
      changes.push({
        candidateId: candidate.candidateId,
        severity: candidate.severity,
        service: candidate.service,
        signalCount: candidate.signalCount,
        recordedPolicy: `${event.data.policyId}@${event.data.policyVersion}`,
        recorded: { decision: event.data.decision, matchedRule: event.data.matchedRule },
        whatIf: { decision: outcome.decision, matchedRule: outcome.matchedRule },
      });
    }
  }

  const sorted = Object.fromEntries(Object.entries(transitions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    policy: `${id}@${version}`,
    policyHash: policy.hash,
    candidatesEvaluated: evaluated,
    undecided: awaiting.size,
    unchanged: evaluated - changed,
    changed,
    transitions: sorted,
    changes,
  };
}
