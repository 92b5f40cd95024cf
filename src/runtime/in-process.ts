import { CANDIDATE_INPUT_TYPES, CANDIDATE_STREAM_PREFIX } from '../candidates/candidate-events.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import type { CorrelationRuleSet } from '../correlation/correlation-rule.js';
import { correlate, type Candidate } from '../correlation/correlator.js';
import type { Signal } from '../correlation/signal.js';
import type { EventStore } from '../eventstore/event-store.js';
import { handleCandidateStreamEvent, type HandlerContext } from '../orchestration/candidate-event-handler.js';
import { StoreUnavailable, WrongExpectedVersion } from '../shared/errors.js';

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

/** An input the handler refused (malformed, unknown, or failing): reported with where it is, the rest handled. */
export interface FailedInput {
  readonly streamId: string;
  readonly revision: string;
  readonly type: string;
  readonly error: string;
}

/**
 * The single-process runtime: every candidate-stream input after `after` through the fail-fast
 * handler, in global order. Returns the position reached, to continue from later. (The worker
 * does the same on persistent subscriptions, with redelivery as the retry and parking after it.)
 * An input the handler throws on is reported with its stream and revision and the loop goes on:
 * one malformed or failing input never keeps every later candidate from its decision. The handler
 * shows each input to the context's CP-5, so CP-5 answers from what was read instead of reading
 * the stream again; the outputs the loop passes over are this process's own, remembered as it wrote them.
 */
export async function processCandidateInputs(store: EventStore, context: HandlerContext, after?: bigint): Promise<{ handled: number; position: bigint | undefined; failed: readonly FailedInput[] }> {
  let handled = 0;
  let position = after;
  const failed: FailedInput[] = [];
  for await (const recorded of store.readAll({ streamPrefixes: [CANDIDATE_STREAM_PREFIX], ...(after === undefined ? {} : { after }) })) {
    position = recorded.position;
    if (!INPUTS.has(recorded.type)) continue;
    try {
      await handleCandidateStreamEvent(recorded, context);
      handled++;
    } catch (error) {
      if (error instanceof StoreUnavailable) throw error; // the store, not the input: stop, and resume from the checkpoint
      failed.push({ streamId: recorded.streamId, revision: recorded.revision.toString(), type: recorded.type, error: error instanceof Error ? error.message : String(error) });
      context.logger.warn({ streamId: recorded.streamId, revision: recorded.revision.toString(), type: recorded.type, err: error }, 'input refused by the handler: reported and passed over');
    }
  }
  return { handled, position, failed };
}
