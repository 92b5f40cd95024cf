import { CANDIDATE_STREAM_PREFIX } from '../../../src/candidates/candidate-events.js';
import { CandidateStore } from '../../../src/candidates/candidate-store.js';
import type { Candidate } from '../../../src/correlation/correlator.js';
import type { EventStore, RecordedEvent } from '../../../src/eventstore/event-store.js';
import { INCIDENT_STREAM_PREFIX } from '../../../src/incidents/incident-events.js';
import { WrongExpectedVersion } from '../../../src/shared/errors.js';

/** What the candidate and incident streams say, folded per stream, for the exactly-once checks. */
export interface StreamSummary {
  readonly created: number;
  readonly autoDecisions: ReadonlyArray<{ decision: string }>;
  readonly incidentsCreated: number;
}

export interface HistorySummary {
  readonly candidates: ReadonlyMap<string, StreamSummary>;
  readonly incidentStreamsOpened: ReadonlyMap<string, number>;
  /** candidate- and incident- events in total (a re-run that appends nothing leaves it unchanged). */
  readonly eventCount: number;
  /** candidate- events only (what a subscription to the candidate streams delivers). */
  readonly candidateEventCount: number;
  readonly lastPosition: bigint;
}

export async function summarize(store: EventStore): Promise<HistorySummary> {
  const candidates = new Map<string, { created: number; autoDecisions: Array<{ decision: string }>; incidentsCreated: number }>();
  const incidents = new Map<string, number>();
  let eventCount = 0;
  let candidateEventCount = 0;
  let lastPosition = -1n;
  for await (const event of store.readAll({ streamPrefixes: [CANDIDATE_STREAM_PREFIX, INCIDENT_STREAM_PREFIX] })) {
    eventCount++;
    lastPosition = event.position;
    if (event.streamId.startsWith(INCIDENT_STREAM_PREFIX)) {
      if (event.type === 'IncidentOpened') incidents.set(event.streamId, (incidents.get(event.streamId) ?? 0) + 1);
      continue;
    }
    candidateEventCount++;
    const summary = candidates.get(event.streamId) ?? { created: 0, autoDecisions: [], incidentsCreated: 0 };
    candidates.set(event.streamId, summary);
    if (event.type === 'CandidateCreated') summary.created++;
    if (event.type === 'PromotionDecided' && authorityType(event) === 'AUTO_ENGINE') summary.autoDecisions.push({ decision: event.data['decision'] as string });
    if (event.type === 'IncidentCreated') summary.incidentsCreated++;
  }
  return { candidates, incidentStreamsOpened: incidents, eventCount, candidateEventCount, lastPosition };
}

const authorityType = (event: RecordedEvent): unknown => (event.data['authority'] as { authorityType?: unknown } | undefined)?.authorityType;

/** Candidates whose automatic decision (and, on PROMOTE, incident) is recorded. */
export function completed(summary: HistorySummary): number {
  let done = 0;
  for (const s of summary.candidates.values()) {
    const decision = s.autoDecisions[0]?.decision;
    if (decision === undefined) continue;
    if (decision !== 'PROMOTE' || s.incidentsCreated > 0) done++;
  }
  return done;
}

/** Every candidate: one CandidateCreated, one automatic decision, one incident iff PROMOTE. */
export function exactlyOnceViolations(summary: HistorySummary, expected: readonly Candidate[]): string[] {
  const problems: string[] = [];
  for (const candidate of expected) {
    const streamId = `${CANDIDATE_STREAM_PREFIX}${candidate.candidateId}`;
    const s = summary.candidates.get(streamId);
    if (s === undefined) {
      problems.push(`${streamId}: missing`);
      continue;
    }
    if (s.created !== 1) problems.push(`${streamId}: ${s.created} CandidateCreated`);
    if (s.autoDecisions.length !== 1) problems.push(`${streamId}: ${s.autoDecisions.length} automatic PromotionDecided`);
    const promoted = s.autoDecisions[0]?.decision === 'PROMOTE';
    if (s.incidentsCreated !== (promoted ? 1 : 0)) problems.push(`${streamId}: ${s.incidentsCreated} IncidentCreated for ${s.autoDecisions[0]?.decision}`);
  }
  const promotes = [...summary.candidates.values()].filter((s) => s.autoDecisions[0]?.decision === 'PROMOTE').length;
  if (summary.incidentStreamsOpened.size !== promotes) problems.push(`${summary.incidentStreamsOpened.size} incident streams opened for ${promotes} PROMOTE decisions`);
  for (const [streamId, opened] of summary.incidentStreamsOpened) if (opened !== 1) problems.push(`${streamId}: opened ${opened} times`);
  return problems;
}

/**
 * Appends every candidate's CandidateCreated through CP-5, `lanes` at a time, retrying while the
 * store is away (a re-append is idempotent: same event id at no_stream).
 */
export async function appendCandidates(store: EventStore, candidates: readonly Candidate[], lanes: number, onRetry: () => void = () => undefined): Promise<void> {
  const writer = new CandidateStore(store);
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < candidates.length) {
        const candidate = candidates[next++] as Candidate;
        for (let attempt = 0; ; attempt++) {
          try {
            await writer.create(candidate);
            break;
          } catch (error) {
            if (error instanceof WrongExpectedVersion) break; // written before the store went away
            if (attempt > 200) throw error;
            onRetry();
            await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** Math.min(attempt, 5))));
          }
        }
      }
    }),
  );
}
