import { ALERT_AUTOMATION_ID, alertAutomationAuthority } from '../authority/authority.js';
import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import { candidateCodec } from '../candidates/candidate-codec.js';
import { candidateStreamId } from '../candidates/candidate-events.js';
import { evolve, type CandidateHistory } from '../candidates/candidate-store.js';
import { groupCodec, GROUP_STREAM_PREFIX, type SignalCorrelatedData } from '../correlation/correlation-events.js';
import { candidateSignals } from '../correlation/signal-trail.js';
import type { EventReader, EventToAppend, RecordedEvent } from '../eventstore/event-store.js';
import type { IncidentState } from '../incidents/incident-events.js';
import { readIncidentAt, transitionEvent } from '../incidents/incident-manager.js';
import { TRANSITIONS, type TransitionCommand } from '../incidents/incident-state-machine.js';

/**
 * One incident the alert automation resolves because the recorded resolution `trigger` was the
 * last of its candidate's firings: the CP-7 command (under ALERT_AUTOMATION, at the resolution's
 * own time, at the revision the incident had when the trigger was recorded) and the event it
 * appends. Everything in it is derived from recorded history, so a replay derives the same bytes.
 */
export interface AutoResolution {
  readonly incidentId: string;
  readonly candidateId: string;
  readonly trigger: { readonly eventId: string; readonly streamId: string; readonly revision: bigint; readonly position: bigint };
  readonly command: TransitionCommand & { readonly expectedRevision: bigint };
  readonly event: EventToAppend;
}

/** An incident of the candidate the automation leaves where it is, and why (shown, never an error). */
export interface AutoResolutionSkipped {
  readonly incidentId: string;
  readonly state: IncidentState | 'NOT_OPENED';
  readonly reason: string;
}

export interface AutoResolutionDerivation {
  readonly resolve: readonly AutoResolution[];
  readonly skipped: readonly AutoResolutionSkipped[];
}

const NOTHING: AutoResolutionDerivation = { resolve: [], skipped: [] };
const RESOLVABLE: readonly IncidentState[] = TRANSITIONS.RESOLVE_INCIDENT.from;

/** A group event that may make a candidate's alerts all resolved: a resolution recorded on a candidate. */
export function resolutionOf(recorded: RecordedEvent): SignalCorrelatedData | undefined {
  if (!recorded.streamId.startsWith(GROUP_STREAM_PREFIX) || recorded.type !== 'SignalCorrelated') return undefined;
  const event = groupCodec.decode(recorded);
  if (event.type !== 'SignalCorrelated' || event.data.outcome !== 'resolved' || event.data.candidateId === undefined) return undefined;
  return event.data;
}

/**
 * The decision, from history only: when `recorded` is a resolution on a candidate, the matrix
 * grants ALERT_AUTOMATION RESOLVE_INCIDENT, and every firing recorded on the candidate has resolved
 * as its group stream stood at that event, each of the candidate's incidents that CP-7 may resolve
 * from the state it had when the trigger was recorded (events before it in `$all`) is resolved.
 * An incident opened after the trigger, or in a state CP-7 does not resolve from (OPEN: CP-7
 * resolves only an acknowledged or mitigated incident), is skipped with the reason. The time is
 * the resolution's (`endsAt`, or when it was observed), never a clock.
 */
export async function deriveAutoResolutions(reader: EventReader, matrix: AuthorityMatrix, recorded: RecordedEvent): Promise<AutoResolutionDerivation> {
  if (!matrix.allows(alertAutomationAuthority(recorded.id, ''), 'RESOLVE_INCIDENT')) return NOTHING;
  const resolution = resolutionOf(recorded);
  if (resolution?.candidateId === undefined) return NOTHING;
  const at = resolution.endsAt ?? resolution.observedAt;
  const history = await readCandidate(reader, resolution.candidateId);
  if (history === undefined || history.incidents.length === 0) return NOTHING;
  const trail = await candidateSignals(reader, history.candidate, { throughRevision: recorded.revision });
  if (trail?.allResolved !== true) return NOTHING;
  const justification = `all ${trail.firing} alert(s) of candidate ${history.candidate.candidateId} resolved; the last, ${resolution.alertname ?? resolution.fingerprint}, at ${at}`;
  const authority = alertAutomationAuthority(recorded.id, justification);
  const resolve: AutoResolution[] = [];
  const skipped: AutoResolutionSkipped[] = [];
  for (const { incidentId } of history.incidents) {
    const then = await readIncidentAt(reader, incidentId, recorded.position);
    if (then === undefined) {
      skipped.push({ incidentId, state: 'NOT_OPENED', reason: 'the incident was opened after its alerts resolved' });
      continue;
    }
    const state = then.incident.state;
    if (!RESOLVABLE.includes(state)) {
      skipped.push({ incidentId, state, reason: `CP-7 resolves only from ${RESOLVABLE.join(' or ')}; the incident was ${state}` });
      continue;
    }
    const command = {
      action: 'RESOLVE_INCIDENT',
      authority,
      at,
      expectedRevision: then.revision,
      authenticatedBy: { principal: ALERT_AUTOMATION_ID, method: 'automation' },
    } as const;
    resolve.push({
      incidentId,
      candidateId: history.candidate.candidateId,
      trigger: { eventId: recorded.id, streamId: recorded.streamId, revision: recorded.revision, position: recorded.position },
      command,
      event: transitionEvent(then, command).event,
    });
  }
  return { resolve, skipped };
}

/** A candidate stream's fold read straight from the reader (the audit has no CandidateStore). */
async function readCandidate(reader: EventReader, candidateId: string): Promise<CandidateHistory | undefined> {
  let history: ReturnType<typeof evolve> | undefined;
  for await (const recorded of reader.readStream(candidateStreamId(candidateId))) {
    history = evolve(history, candidateCodec.decode(recorded), recorded.id, recorded.revision);
  }
  return history;
}
