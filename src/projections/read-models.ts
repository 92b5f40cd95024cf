import { candidateCodec } from '../candidates/candidate-codec.js';
import { CANDIDATE_STREAM_PREFIX, type Decision } from '../candidates/candidate-events.js';
import type { RecordedEvent } from '../eventstore/event-store.js';
import { incidentCodec, INCIDENT_STREAM_PREFIX, type IncidentState } from '../incidents/incident-events.js';
import { canonicalJson } from '../shared/canonical-json.js';
import { groupCodec, GROUP_STREAM_PREFIX } from '../correlation/correlation-events.js';

/** The streams the read models are projected from. */
export const PROJECTED_STREAM_PREFIXES = [CANDIDATE_STREAM_PREFIX, INCIDENT_STREAM_PREFIX, GROUP_STREAM_PREFIX] as const;

/** The alerts recorded on a live-correlated candidate: how many fired, how many of those resolved. */
export interface AlertCounts {
  readonly firing: number;
  readonly resolved: number;
}

/** What a candidate row carries from the candidate (live correlation only: title and alert counts). */
interface CandidateFacts {
  readonly severity: string;
  readonly service: string;
  readonly title?: string;
  readonly alerts?: AlertCounts;
}

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
  readonly title?: string;
  readonly alerts?: AlertCounts;
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
  readonly title?: string;
  readonly alerts?: AlertCounts;
}

export interface ReadModels {
  readonly incidents: Record<string, IncidentRow>;
  readonly deferred: Record<string, DeferredRow>;
  /** `policyId@version` -> counts per decision kind. */
  readonly decisionsByPolicy: Record<string, Record<Decision, number>>;
  readonly candidates: number;
  /** Facts of candidates not yet decided (a DEFER row needs them), or promoted and waiting for their incident. */
  readonly awaitingDecision: Record<string, CandidateFacts>;
  /** candidateId -> incidentId, so alerts recorded on a candidate reach its incident's row. */
  readonly incidentOfCandidate: Record<string, string>;
}

export const emptyReadModels = (): ReadModels => ({ incidents: {}, deferred: {}, decisionsByPolicy: {}, candidates: 0, awaitingDecision: {}, incidentOfCandidate: {} });

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
      case 'CandidateCreated': {
        m.candidates += 1;
        const { title, context } = event.metadata.candidate;
        m.awaitingDecision[event.data.candidateId] = {
          severity: event.data.severity,
          service: event.data.service,
          ...(title === undefined ? {} : { title }),
          ...(context === undefined ? {} : { alerts: { firing: event.data.signalCount, resolved: 0 } }),
        };
        break;
      }
      case 'PromotionDecided': {
        const d = event.data;
        const key = `${d.policyId}@${d.policyVersion}`;
        const counts = (m.decisionsByPolicy[key] ??= { PROMOTE: 0, DEFER: 0, SUPPRESS: 0 });
        counts[d.decision] += 1;
        const row = m.awaitingDecision[d.candidateId] ?? m.deferred[d.candidateId];
        const facts: CandidateFacts = row === undefined ? { severity: '', service: '' } : factsOf(row);
        delete m.awaitingDecision[d.candidateId];
        // Promoted: its facts wait for the incident (IncidentOpened follows on the incident stream).
        if (d.decision === 'PROMOTE') m.awaitingDecision[d.candidateId] = facts;
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
            ...(facts.title === undefined ? {} : { title: facts.title }),
            ...(facts.alerts === undefined ? {} : { alerts: facts.alerts }),
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
  if (recorded.streamId.startsWith(GROUP_STREAM_PREFIX)) {
    const event = groupCodec.decode(recorded);
    if (event.type === 'SignalCorrelated' && event.data.candidateId !== undefined && (event.data.outcome === 'attached' || event.data.outcome === 'resolved')) {
      countAlert(m, event.data.candidateId, event.data.outcome);
    }
    return m;
  }
  if (recorded.streamId.startsWith(INCIDENT_STREAM_PREFIX)) {
    const event = incidentCodec.decode(recorded);
    switch (event.type) {
      case 'IncidentOpened': {
        const d = event.data;
        const facts = m.awaitingDecision[d.candidateId];
        delete m.awaitingDecision[d.candidateId];
        m.incidentOfCandidate[d.candidateId] = d.incidentId;
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
          ...(facts?.title === undefined ? {} : { title: facts.title }),
          ...(facts?.alerts === undefined ? {} : { alerts: facts.alerts }),
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

/** One more alert firing on a candidate, or one of its alerts resolved: counted on whichever row shows it now. */
function countAlert(m: { -readonly [K in keyof ReadModels]: ReadModels[K] }, candidateId: string, outcome: 'attached' | 'resolved'): void {
  const add = (alerts: AlertCounts | undefined): AlertCounts | undefined =>
    alerts === undefined ? undefined : outcome === 'attached' ? { firing: alerts.firing + 1, resolved: alerts.resolved } : { firing: alerts.firing, resolved: alerts.resolved + 1 };
  const awaiting = m.awaitingDecision[candidateId];
  if (awaiting !== undefined) {
    const alerts = add(awaiting.alerts);
    if (alerts !== undefined) m.awaitingDecision[candidateId] = { ...awaiting, alerts };
    return;
  }
  const deferred = m.deferred[candidateId];
  if (deferred !== undefined) {
    const alerts = add(deferred.alerts);
    if (alerts !== undefined) m.deferred[candidateId] = { ...deferred, alerts };
    return;
  }
  const incidentId = m.incidentOfCandidate[candidateId];
  const incident = incidentId === undefined ? undefined : m.incidents[incidentId];
  const alerts = add(incident?.alerts);
  if (incident !== undefined && incidentId !== undefined && alerts !== undefined) m.incidents[incidentId] = { ...incident, alerts };
}

const factsOf = (row: CandidateFacts): CandidateFacts => ({
  severity: row.severity,
  service: row.service,
  ...(row.title === undefined ? {} : { title: row.title }),
  ...(row.alerts === undefined ? {} : { alerts: row.alerts }),
});

/** The byte form two projections are compared in. */
export const serializeReadModels = (models: ReadModels): string => canonicalJson(models);
