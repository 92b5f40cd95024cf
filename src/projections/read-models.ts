import { candidateCodec } from '../candidates/candidate-codec.js';
import { CANDIDATE_STREAM_PREFIX, type Decision } from '../candidates/candidate-events.js';
import type { RecordedEvent } from '../eventstore/event-store.js';
import { incidentCodec, INCIDENT_STREAM_PREFIX, type IncidentState } from '../incidents/incident-events.js';
import { canonicalJson } from '../shared/canonical-json.js';

/** The streams the read models are projected from. */
export const PROJECTED_STREAM_PREFIXES = [CANDIDATE_STREAM_PREFIX, INCIDENT_STREAM_PREFIX] as const;

export interface IncidentRow {
  readonly incidentId: string;
  readonly candidateId: string;
  readonly decisionId: string;
  readonly severity: string;
  readonly service: string;
  readonly state: IncidentState;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly promotedBy: string;
}

export interface DeferredRow {
  readonly candidateId: string;
  readonly decisionId: string;
  readonly severity: string;
  readonly service: string;
  readonly policy: string;
  readonly reason: string;
  readonly deferredAt: string;
  /** A human asked to promote it and the request is not decided yet. */
  readonly promotionRequested: boolean;
}

export interface ReadModels {
  readonly incidents: Record<string, IncidentRow>;
  readonly deferred: Record<string, DeferredRow>;
  /** `policyId@version` -> counts per decision kind. */
  readonly decisionsByPolicy: Record<string, Record<Decision, number>>;
  readonly candidates: number;
  /** Severity and service of candidates not yet decided (a DEFER row needs them). */
  readonly awaitingDecision: Record<string, { readonly severity: string; readonly service: string }>;
}

export const emptyReadModels = (): ReadModels => ({ incidents: {}, deferred: {}, decisionsByPolicy: {}, candidates: 0, awaitingDecision: {} });

/**
 * The read models as one pure fold over recorded events in global order: the live projection
 * applies it as events arrive, a rebuild applies it to the whole history, and both must agree
 * to the byte (see {@link serializeReadModels}).
 */
export function project(models: ReadModels, recorded: RecordedEvent): ReadModels {
  const m = models as { -readonly [K in keyof ReadModels]: ReadModels[K] };
  if (recorded.streamId.startsWith(CANDIDATE_STREAM_PREFIX)) {
    const event = candidateCodec.decode(recorded);
    switch (event.type) {
      case 'CandidateCreated':
        m.candidates += 1;
        m.awaitingDecision[event.data.candidateId] = { severity: event.data.severity, service: event.data.service };
        break;
      case 'PromotionDecided': {
        const d = event.data;
        const key = `${d.policyId}@${d.policyVersion}`;
        const counts = (m.decisionsByPolicy[key] ??= { PROMOTE: 0, DEFER: 0, SUPPRESS: 0 });
        counts[d.decision] += 1;
        const facts = m.awaitingDecision[d.candidateId] ?? m.deferred[d.candidateId] ?? { severity: '', service: '' };
        delete m.awaitingDecision[d.candidateId];
        if (d.decision === 'DEFER') {
          m.deferred[d.candidateId] = {
            candidateId: d.candidateId,
            decisionId: d.decisionId,
            severity: facts.severity,
            service: facts.service,
            policy: key,
            reason: d.reason,
            deferredAt: d.decidedAt,
            promotionRequested: false,
          };
        } else delete m.deferred[d.candidateId];
        break;
      }
      case 'ManualPromotionRequested': {
        const row = m.deferred[event.data.candidateId];
        if (row !== undefined) m.deferred[event.data.candidateId] = { ...row, promotionRequested: true };
        break;
      }
      case 'IncidentCreated':
        break;
      default: {
        const unhandled: never = event;
        throw new Error(`unhandled ${(unhandled as { type: string }).type}`);
      }
    }
    return m;
  }
  if (recorded.streamId.startsWith(INCIDENT_STREAM_PREFIX)) {
    const event = incidentCodec.decode(recorded);
    switch (event.type) {
      case 'IncidentOpened': {
        const d = event.data;
        m.incidents[d.incidentId] = {
          incidentId: d.incidentId,
          candidateId: d.candidateId,
          decisionId: d.decisionId,
          severity: d.severity,
          service: d.service,
          state: 'OPEN',
          createdAt: d.openedAt,
          updatedAt: d.openedAt,
          promotedBy: `${d.authority.authorityType}:${d.authority.authorityId}`,
        };
        break;
      }
      case 'IncidentStateChanged': {
        const row = m.incidents[event.data.incidentId];
        if (row !== undefined) m.incidents[event.data.incidentId] = { ...row, state: event.data.to, updatedAt: event.data.changedAt };
        break;
      }
      default: {
        const unhandled: never = event;
        throw new Error(`unhandled ${(unhandled as { type: string }).type}`);
      }
    }
  }
  return m;
}

/** The byte form two projections are compared in. */
export const serializeReadModels = (models: ReadModels): string => canonicalJson(models);
