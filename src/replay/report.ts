import type { OpxConfig } from '../container/config.js';
import type { RecordedEvent } from '../eventstore/event-store.js';
import { canonicalJson, sameCanonicalJson } from '../shared/canonical-json.js';
import { IncidentStreamTally } from './stream-tracking.js';

/** One place where the replay did not reproduce history. */
export interface Divergence {
  readonly streamId: string;
  readonly revision: string;
  readonly kind: 'different' | 'not-reproduced' | 'not-recorded' | 'handler-error' | 'undecodable';
  /** JSON path of the first differing field (`data.decision`), for kind `different`. */
  readonly path?: string;
  readonly recorded?: unknown;
  readonly replayed?: unknown;
  readonly message: string;
}

export interface PolicyDrift {
  readonly policy: string;
  readonly recordedHash: string;
  /** The hash of the policy now in config, or null when the version no longer exists. */
  readonly currentHash: string | null;
  readonly firstCandidateId: string;
  readonly decisions: number;
}

export interface ReplayReport {
  readonly verdict: 'IDENTICAL' | 'DIVERGENT';
  /** Events of candidate and incident streams in history. */
  readonly eventsRead: number;
  /** Handler outputs re-derived and compared byte for byte. */
  readonly eventsCompared: number;
  readonly inputsReplayed: number;
  /** Inputs that were the last event of their stream when read: replayed, outputs not expected yet. */
  readonly inputsPending: number;
  readonly streamsChecked: number;
  readonly identicalStreams: number;
  readonly divergentStreams: number;
  readonly divergenceCount: number;
  /**
   * The first {@link MAX_REPORTED_DIVERGENCES}, in the order the audit found them: a stream's in
   * revision order, streams about in history order (a deferred input's are found when its
   * stream's outputs come, a pending one's at the end).
   */
  readonly divergences: readonly Divergence[];
  readonly policyDrift: readonly PolicyDrift[];
}

export const MAX_REPORTED_DIVERGENCES = 100;

/**
 * What the policy drift check reads of a recorded decision. Findings wait in the audit's pipeline
 * for `concurrency` units before they are tallied, so they keep these four fields, not the event
 * (whose payloads then outlived scavenges: see docs/performance.md, "The replay audit's memory").
 */
export interface RecordedDecision {
  readonly policyId: unknown;
  readonly policyVersion: unknown;
  readonly policyHash: unknown;
  readonly candidateId: unknown;
}

/**
 * What auditing one unit of history found (a live replay's batch, a whole replay, an incident
 * stream's event): counts, divergences, and the recorded decisions to check for policy drift.
 * Every output is compared here, whichever replay produced it.
 */
export class Findings {
  eventsCompared = 0;
  inputsReplayed = 0;
  inputsPending = 0;
  readonly divergences: Divergence[] = [];
  readonly decisions: RecordedDecision[] = [];
  /** Incident streams a whole replay of this candidate opened (for the tally's origin check). */
  readonly incidentsOpened: string[] = [];
  /** A recorded IncidentOpened on this stream passed in history. */
  incidentSeen: string | undefined;

  isEmpty(): boolean {
    return this.eventsCompared === 0 && this.inputsReplayed === 0 && this.inputsPending === 0 && this.divergences.length === 0 && this.decisions.length === 0;
  }

  /** A recorded PromotionDecided, for the drift check (see {@link RecordedDecision}). */
  decided(recorded: RecordedEvent): void {
    const { policyId, policyVersion, policyHash, candidateId } = recorded.data as Partial<RecordedDecision>;
    this.decisions.push({ policyId, policyVersion, policyHash, candidateId });
  }

  /** A recorded output against what the replay wrote at its place (undefined: nothing). */
  compare(recorded: RecordedEvent, replayed: RecordedEvent | undefined): void {
    this.eventsCompared++;
    const at = { streamId: recorded.streamId, revision: recorded.revision.toString() };
    if (replayed === undefined) {
      this.diverge({ ...at, kind: 'not-reproduced', message: `recorded ${recorded.type} was not produced by the replay` });
    } else if (!sameEvent(recorded, replayed)) {
      const diff = firstDifference(compared(recorded), compared(replayed));
      this.diverge({ ...at, kind: 'different', ...diff, message: `${recorded.type} differs at ${diff.path}` });
    }
  }

  diverge(divergence: Divergence): void {
    this.divergences.push(divergence);
  }
}

/** The audit's totals, folded from the units' findings in history order. */
export class Tally {
  eventsRead = 0;
  streamsChecked = 0;
  private eventsCompared = 0;
  private inputsReplayed = 0;
  private inputsPending = 0;
  private divergenceCount = 0;
  private readonly divergences: Divergence[] = [];
  private readonly divergentStreams = new Set<string>();
  private readonly drift = new Map<string, { -readonly [K in keyof PolicyDrift]: PolicyDrift[K] }>();
  /**
   * Incident streams whole replays opened whose recorded IncidentOpened has not passed yet (a live
   * replay checks its own as they pass).
   */
  private readonly openedByReplay = new IncidentStreamTally();

  constructor(private readonly config: Pick<OpxConfig, 'policies'>) {}

  add(findings: Findings): void {
    for (const stream of findings.incidentsOpened) this.openedByReplay.add(stream);
    if (findings.incidentSeen !== undefined && !this.openedByReplay.delete(findings.incidentSeen)) {
      findings.diverge({
        streamId: findings.incidentSeen,
        revision: '0',
        kind: 'not-reproduced',
        message: 'recorded IncidentOpened that no replayed promotion opens',
      });
    }
    this.eventsCompared += findings.eventsCompared;
    this.inputsReplayed += findings.inputsReplayed;
    this.inputsPending += findings.inputsPending;
    for (const divergence of findings.divergences) {
      this.divergenceCount++;
      this.divergentStreams.add(divergence.streamId);
      if (this.divergences.length < MAX_REPORTED_DIVERGENCES) this.divergences.push(divergence);
    }
    for (const decision of findings.decisions) this.checkDrift(decision);
  }

  report(): ReplayReport {
    return {
      verdict: this.divergenceCount === 0 ? 'IDENTICAL' : 'DIVERGENT',
      eventsRead: this.eventsRead,
      eventsCompared: this.eventsCompared,
      inputsReplayed: this.inputsReplayed,
      inputsPending: this.inputsPending,
      streamsChecked: this.streamsChecked,
      identicalStreams: this.streamsChecked - this.divergentStreams.size,
      divergentStreams: this.divergentStreams.size,
      divergenceCount: this.divergenceCount,
      divergences: this.divergences,
      policyDrift: [...this.drift.values()],
    };
  }

  /** A recorded decision whose policy version now has other content (or none) is drift. */
  private checkDrift(data: RecordedDecision): void {
    if (typeof data.policyId !== 'string' || typeof data.policyVersion !== 'string' || typeof data.policyHash !== 'string') return;
    const current = this.config.policies.find(data.policyId, data.policyVersion);
    if (current !== undefined && current.hash === data.policyHash) return;
    const key = `${data.policyId}@${data.policyVersion}#${data.policyHash}`;
    const existing = this.drift.get(key);
    if (existing !== undefined) existing.decisions++;
    else
      this.drift.set(key, {
        policy: `${data.policyId}@${data.policyVersion}`,
        recordedHash: data.policyHash,
        currentHash: current?.hash ?? null,
        firstCandidateId: String(data.candidateId),
        decisions: 1,
      });
  }
}

/** What is compared of an event: type, id, data and metadata (nothing server-assigned). */
const compared = (event: Pick<RecordedEvent, 'type' | 'id' | 'data' | 'metadata'>): object => ({
  type: event.type,
  id: event.id,
  data: event.data,
  metadata: event.metadata,
});

/** Whether the {@link compared} forms of two events have the same canonical bytes (field by field: no form built per event). */
const sameEvent = (a: RecordedEvent, b: RecordedEvent): boolean =>
  a.type === b.type && a.id === b.id && sameCanonicalJson(a.data, b.data) && sameCanonicalJson(a.metadata, b.metadata);

/** The first field where two JSON values differ, as a path, with both values. */
export function firstDifference(recorded: unknown, replayed: unknown, path = ''): { path: string; recorded: unknown; replayed: unknown } {
  if (typeof recorded === 'object' && recorded !== null && typeof replayed === 'object' && replayed !== null) {
    const keys = [...new Set([...Object.keys(recorded), ...Object.keys(replayed)])].sort();
    for (const key of keys) {
      const a = (recorded as Record<string, unknown>)[key];
      const b = (replayed as Record<string, unknown>)[key];
      if (canonicalJson(a ?? null) !== canonicalJson(b ?? null) || (a === undefined) !== (b === undefined)) {
        return firstDifference(a, b, path === '' ? key : `${path}.${key}`);
      }
    }
  }
  return { path: path === '' ? '(root)' : path, recorded: recorded ?? null, replayed: replayed ?? null };
}
