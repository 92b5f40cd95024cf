import { alertAutomationAuthority } from '../authority/authority.js';
import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import type { EventReader, RecordedEvent } from '../eventstore/event-store.js';
import type { Incident } from '../incidents/incident-state-machine.js';
import { deriveAutoResolutions, resolutionOf } from './derive.js';

/** What the alert automation did, or why it did not, to one incident whose alerts have all resolved. */
export interface AutomationOutcome {
  readonly incidentId: string;
  readonly outcome: 'resolved' | 'not-granted' | 'left' | 'due';
  readonly reason: string;
}

/**
 * Why an incident whose alerts have all resolved is where it is, as explain shows it: resolved by
 * the alert automation (when), or left because the authority matrix does not grant the automation
 * that right (the default), or left because CP-7 did not allow it from the state the incident had
 * when the last alert resolved (derived from history by the automation's own code), or due (the
 * automation resolves it when it next runs).
 */
export async function automationOutcomes(
  reader: EventReader,
  matrix: AuthorityMatrix,
  candidateId: string,
  groupStream: string,
  incidents: readonly Incident[],
): Promise<AutomationOutcome[]> {
  const outcomes = new Map<string, AutomationOutcome>();
  for (const incident of incidents) {
    const automated = incident.history.find((h) => h.authority.authorityType === 'ALERT_AUTOMATION');
    if (automated !== undefined) outcomes.set(incident.incidentId, { incidentId: incident.incidentId, outcome: 'resolved', reason: `resolved by the alert automation at ${automated.changedAt}` });
  }
  const undecided = incidents.filter((i) => !outcomes.has(i.incidentId));
  if (undecided.length > 0 && !matrix.allows(alertAutomationAuthority('', ''), 'RESOLVE_INCIDENT')) {
    for (const { incidentId } of undecided) {
      outcomes.set(incidentId, {
        incidentId,
        outcome: 'not-granted',
        reason: `the authority matrix (v${matrix.version}) does not grant ALERT_AUTOMATION RESOLVE_INCIDENT (the default): moving the incident on is a person's act`,
      });
    }
  } else if (undecided.length > 0) {
    const trigger = await lastResolution(reader, groupStream, candidateId);
    const derived = trigger === undefined ? { resolve: [], skipped: [] } : await deriveAutoResolutions(reader, matrix, trigger);
    for (const { incidentId } of undecided) {
      const skipped = derived.skipped.find((s) => s.incidentId === incidentId);
      if (skipped !== undefined) outcomes.set(incidentId, { incidentId, outcome: 'left', reason: `left by the alert automation: ${skipped.reason}` });
      else if (derived.resolve.some((r) => r.incidentId === incidentId)) outcomes.set(incidentId, { incidentId, outcome: 'due', reason: 'the alert automation resolves it when it next runs (not recorded yet)' });
      else outcomes.set(incidentId, { incidentId, outcome: 'left', reason: 'left: its last alert resolution is not one the automation acts on' });
    }
  }
  return incidents.map((i) => outcomes.get(i.incidentId) as AutomationOutcome);
}

/** The last resolution recorded on the candidate in its group stream: the automation's trigger. */
async function lastResolution(reader: EventReader, groupStream: string, candidateId: string): Promise<RecordedEvent | undefined> {
  let last: RecordedEvent | undefined;
  for await (const recorded of reader.readStream(groupStream)) if (resolutionOf(recorded)?.candidateId === candidateId) last = recorded;
  return last;
}
