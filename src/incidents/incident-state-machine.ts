import type { AuthorityContext } from '../authority/authority.js';
import type { AuthenticatedBy } from '../candidates/candidate-events.js';
import { OpxError } from '../shared/errors.js';
import type { IncidentAction, IncidentOpenedData, IncidentState, IncidentStateChangedData, IncidentStreamEvent } from './incident-events.js';

/** The incident lifecycle: which action moves which state where. Anything else is refused. */
export const TRANSITIONS: Readonly<Record<IncidentAction, { readonly from: readonly IncidentState[]; readonly to: IncidentState }>> = {
  ACKNOWLEDGE_INCIDENT: { from: ['OPEN'], to: 'ACKNOWLEDGED' },
  MITIGATE_INCIDENT: { from: ['ACKNOWLEDGED'], to: 'MITIGATED' },
  RESOLVE_INCIDENT: { from: ['ACKNOWLEDGED', 'MITIGATED'], to: 'RESOLVED' },
  CLOSE_INCIDENT: { from: ['RESOLVED'], to: 'CLOSED' },
};

export interface Incident extends IncidentOpenedData {
  readonly state: IncidentState;
  readonly history: readonly IncidentStateChangedData[];
}

export interface TransitionCommand {
  readonly action: IncidentAction;
  readonly authority: AuthorityContext;
  /** When the human issued the command: stamped at the edge, recorded, never read from a clock here. */
  readonly at: string;
  /** The revision of the incident the person saw: a transition since then refuses this one (StaleIncident). */
  readonly expectedRevision?: bigint;
  /** Who proved to be acting, and how (recorded in the event's metadata). */
  readonly authenticatedBy?: AuthenticatedBy;
}

export class IllegalTransition extends OpxError {
  static readonly code = 'opx.incident.illegal_transition';

  constructor(incidentId: string, action: IncidentAction, state: IncidentState) {
    const allowed = TRANSITIONS[action].from.join(' or ');
    super(IllegalTransition.code, `Incident '${incidentId}' is ${state}; ${action} is only allowed from ${allowed}`);
  }
}

/** Decider: the event a command produces from the current state, or an error. Pure. */
export function decideTransition(incident: Incident, command: TransitionCommand): IncidentStateChangedData {
  const rule = TRANSITIONS[command.action];
  if (!rule.from.includes(incident.state)) throw new IllegalTransition(incident.incidentId, command.action, incident.state);
  return { incidentId: incident.incidentId, action: command.action, from: incident.state, to: rule.to, authority: command.authority, changedAt: command.at };
}

/** Evolve: the incident after one more event. Exhaustive over the stream's event types. */
export function evolveIncident(incident: Incident | undefined, event: IncidentStreamEvent): Incident {
  switch (event.type) {
    case 'IncidentOpened':
      return { ...event.data, state: 'OPEN', history: [] };
    case 'IncidentStateChanged':
      if (incident === undefined) throw new OpxError('opx.incident.corrupt', `IncidentStateChanged before IncidentOpened on ${event.data.incidentId}`);
      return { ...incident, state: event.data.to, history: [...incident.history, event.data] };
    default: {
      const unhandled: never = event;
      throw new Error(`unhandled incident event ${(unhandled as IncidentStreamEvent).type}`);
    }
  }
}
