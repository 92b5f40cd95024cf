import { CANDIDATE_INPUT_TYPES, CANDIDATE_STREAM_PREFIX } from '../candidates/candidate-events.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import type { CorrelationRuleSet } from '../correlation/correlation-rule.js';
import { correlate, type Candidate } from '../correlation/correlator.js';
import type { Signal } from '../correlation/signal.js';
import type { EventStore } from '../eventstore/event-store.js';
import { handleCandidateStreamEvent, type HandlerContext } from '../orchestration/candidate-event-handler.js';
import { WrongExpectedVersion } from '../shared/errors.js';

export interface IngestResult {
  readonly candidates: readonly Candidate[];
  /** Candidates whose id already held a different candidate (correlated earlier from other signals). */
  readonly conflicts: readonly string[];
}

/** Signals -> correlation (Phase 2.2) -> CandidateCreated at revision 0 of each candidate stream. */
export async function ingestSignals(signals: readonly Signal[], rules: CorrelationRuleSet, candidates: CandidateStore): Promise<IngestResult> {
  const correlated = correlate(signals, rules);
  return { candidates: correlated, conflicts: await ingestCandidates(correlated, candidates) };
}

/** Records correlated candidates (CP-5); returns the ids that already held a different candidate. */
export async function ingestCandidates(correlated: readonly Candidate[], candidates: CandidateStore): Promise<string[]> {
  const conflicts: string[] = [];
  for (const candidate of correlated) {
    try {
      await candidates.create(candidate);
    } catch (error) {
      if (!(error instanceof WrongExpectedVersion)) throw error;
      conflicts.push(candidate.candidateId);
    }
  }
  return conflicts;
}

const INPUTS = new Set<string>(CANDIDATE_INPUT_TYPES);

/**
 * The single-process runtime: every candidate-stream input after `after` through the fail-fast
 * handler, in global order. Returns the position reached, to continue from later. (The worker
 * does the same on persistent subscriptions, with redelivery as the retry.) The handler shows each
 * input to the context's CP-5, so CP-5 answers from what was read instead of reading the stream
 * again; the outputs the loop passes over are this process's own, remembered as it wrote them.
 */
export async function processCandidateInputs(store: EventStore, context: HandlerContext, after?: bigint): Promise<{ handled: number; position: bigint | undefined }> {
  let handled = 0;
  let position = after;
  for await (const recorded of store.readAll({ streamPrefixes: [CANDIDATE_STREAM_PREFIX], ...(after === undefined ? {} : { after }) })) {
    position = recorded.position;
    if (!INPUTS.has(recorded.type)) continue;
    await handleCandidateStreamEvent(recorded, context);
    handled++;
  }
  return { handled, position };
}
