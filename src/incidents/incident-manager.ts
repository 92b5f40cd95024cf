import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import { candidateCodec } from '../candidates/candidate-codec.js';
import { candidateStreamId, incidentCreatedEventOf, type IncidentCreatedEvent } from '../candidates/candidate-events.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import type { EventReader, EventStore, EventToAppend } from '../eventstore/event-store.js';
import type { PromotionDecision } from '../promotion/promotion-engine.js';
import { OpxError, WrongExpectedVersion } from '../shared/errors.js';
import { domainId, eventId } from '../shared/ids.js';
import { incidentCodec, incidentStreamId, type IncidentStateChangedData } from './incident-events.js';
import { decideTransition, evolveIncident, type Incident, type TransitionCommand } from './incident-state-machine.js';

/** The incident CP-7 created (or found): `alreadyRecorded` is true when it was found. */
export interface CreatedIncident extends IncidentCreatedEvent {
  readonly alreadyRecorded: boolean;
}

export class PromotionBypass extends OpxError {
  static readonly code = 'opx.incident.promotion_bypass';

  constructor(reason: string) {
    super(PromotionBypass.code, `Incident creation refused (INV-P2.3.2, no promotion bypass): ${reason}`);
  }
}

export class IncidentNotFound extends OpxError {
  static readonly code = 'opx.incident.not_found';

  constructor(readonly incidentId: string) {
    super(IncidentNotFound.code, `Incident '${incidentId}' not found`);
  }
}

/** The incident moved since the person saw it: their transition is refused, never applied over the other. */
export class StaleIncident extends OpxError {
  static readonly code = 'opx.incident.stale';

  constructor(
    readonly incidentId: string,
    readonly expectedRevision: bigint,
    readonly revision: bigint,
    readonly state: string,
  ) {
    super(StaleIncident.code, `Incident '${incidentId}' changed since revision ${expectedRevision}: it is at revision ${revision}, ${state}`);
  }
}

/** Same decision -> same incident (INV-P2.3.1, via CP-7 idempotency). */
export const incidentIdOf = (decisionId: string): string => domainId('inc', [decisionId]);
export const incidentCreatedEventId = (incidentId: string): string => eventId(`IncidentCreated:${incidentId}`);
export const incidentOpenedEventId = (incidentId: string): string => eventId(`IncidentOpened:${incidentId}`);

/**
 * CP-7, the incident manager. An incident exists only for a PROMOTE decision recorded on the
 * candidate stream by CP-6; IncidentCreated is appended there at the revision read (the
 * idempotency point), then the incident's own stream is opened at `no_stream` with a
 * deterministic event id, which makes the second write idempotent too: a crash between the two
 * is healed by the redelivery.
 */
export class IncidentManager {
  constructor(
    private readonly store: EventStore,
    private readonly candidates: CandidateStore,
    private readonly authorityMatrix: AuthorityMatrix,
  ) {}

  async createIncidentFromPromotion(decision: PromotionDecision, currentTime: string): Promise<CreatedIncident> {
    if (decision.decision !== 'PROMOTE') throw new PromotionBypass(`decision ${decision.decisionId} is ${decision.decision}, not PROMOTE`);
    this.authorityMatrix.assertAllowed(decision.authority, 'CREATE_INCIDENT');
    let history = await this.candidates.load(decision.candidateId);
    if (!history.decisions.some((d) => d.decisionId === decision.decisionId)) history = await this.candidates.refresh(decision.candidateId);
    const recordedDecision = history.decisions.find((d) => d.decisionId === decision.decisionId);
    if (recordedDecision === undefined || recordedDecision.decision !== 'PROMOTE') {
      throw new PromotionBypass(`no recorded PROMOTE decision ${decision.decisionId} on candidate '${decision.candidateId}'`);
    }
    const incidentId = incidentIdOf(decision.decisionId);
    const existing = history.incidents.find((i) => i.incidentId === incidentId);
    const incident: IncidentCreatedEvent = existing ?? {
      eventType: 'IncidentCreated',
      incidentId,
      candidateId: history.candidate.candidateId,
      decisionId: decision.decisionId,
      severity: history.candidate.severity,
      service: history.candidate.service,
      createdAt: currentTime,
    };
    const createdEventId = incidentCreatedEventId(incidentId);
    let alreadyRecorded = existing !== undefined;
    if (!alreadyRecorded) {
      const metadata = { $correlationId: history.createdEventId, $causationId: recordedDecision.eventId, schemaVersion: 1, authority: recordedDecision.authority };
      const created = { type: 'IncidentCreated', data: incident, metadata } as const;
      try {
        await this.store.append(candidateStreamId(incident.candidateId), [candidateCodec.encodeTrusted(created, createdEventId)], history.revision);
        this.candidates.appended(history, created, createdEventId);
      } catch (error) {
        if (!(error instanceof WrongExpectedVersion)) throw error;
        const reloaded = await this.candidates.refresh(incident.candidateId);
        if (!reloaded.incidents.some((i) => i.incidentId === incidentId)) throw error;
        alreadyRecorded = true;
      }
    }
    await this.openIncidentStream(incident, recordedDecision.authority, history.createdEventId, createdEventId);
    return { ...incidentCreatedEventOf(incident), alreadyRecorded };
  }

  /** Idempotent: the same deterministic id at `no_stream` is a no-op the second time. */
  private async openIncidentStream(incident: IncidentCreatedEvent, authority: PromotionDecision['authority'], correlationId: string, causationId: string): Promise<void> {
    const opened = incidentCodec.encodeTrusted(
      {
        type: 'IncidentOpened',
        data: {
          incidentId: incident.incidentId,
          candidateId: incident.candidateId,
          decisionId: incident.decisionId,
          severity: incident.severity,
          service: incident.service,
          openedAt: incident.createdAt,
          authority,
        },
        metadata: { $correlationId: correlationId, $causationId: causationId, schemaVersion: 1 },
      },
      incidentOpenedEventId(incident.incidentId),
    );
    await this.store.append(incidentStreamId(incident.incidentId), [opened], 'no_stream');
  }

  async get(incidentId: string): Promise<Incident> {
    return (await this.loadWithRevision(incidentId)).incident;
  }

  /** The incident and the revision of its stream (what a person sees, and sends back with a transition). */
  async read(incidentId: string): Promise<{ readonly incident: Incident; readonly revision: bigint }> {
    const { incident, revision } = await this.loadWithRevision(incidentId);
    return { incident, revision };
  }

  /**
   * A lifecycle transition by a person: checked against the authority matrix and the state
   * machine, recorded at the revision read (a concurrent transition makes this one fail).
   */
  async transition(incidentId: string, command: TransitionCommand): Promise<Incident> {
    this.authorityMatrix.assertAllowed(command.authority, command.action);
    const read = await this.loadWithRevision(incidentId);
    const { incident, revision } = read;
    if (command.expectedRevision !== undefined && command.expectedRevision !== revision) throw new StaleIncident(incidentId, command.expectedRevision, revision, incident.state);
    const { change, event } = transitionEvent(read, command);
    try {
      await this.store.append(incidentStreamId(incidentId), [event], revision);
    } catch (error) {
      // Another transition landed between the read and this append: refused as stale, not retried over it.
      if (error instanceof WrongExpectedVersion && command.expectedRevision !== undefined) {
        const now = await this.loadWithRevision(incidentId);
        throw new StaleIncident(incidentId, command.expectedRevision, now.revision, now.incident.state);
      }
      throw error;
    }
    return evolveIncident(incident, { type: 'IncidentStateChanged', data: change, metadata: event.metadata as never });
  }

  private async loadWithRevision(incidentId: string): Promise<IncidentAt> {
    const read = await readIncidentAt(this.store, incidentId);
    if (read === undefined) throw new IncidentNotFound(incidentId);
    return read;
  }
}

/** An incident as its stream stood at one revision, with what the next event's metadata names. */
export interface IncidentAt {
  readonly incident: Incident;
  readonly revision: bigint;
  readonly correlationId: string;
  readonly lastEventId: string;
}

/**
 * The fold of an incident stream, of its events before `beforePosition` in `$all` when given (the
 * incident as it stood when a later event was recorded); undefined when there were none.
 */
export async function readIncidentAt(reader: EventReader, incidentId: string, beforePosition?: bigint): Promise<IncidentAt | undefined> {
  let incident: Incident | undefined;
  let revision = -1n;
  let correlationId = '';
  let lastEventId = '';
  for await (const recorded of reader.readStream(incidentStreamId(incidentId))) {
    if (beforePosition !== undefined && recorded.position >= beforePosition) break;
    const event = incidentCodec.decode(recorded);
    incident = evolveIncident(incident, event);
    revision = recorded.revision;
    correlationId = event.metadata.$correlationId;
    lastEventId = recorded.id;
  }
  return incident === undefined ? undefined : { incident, revision, correlationId, lastEventId };
}

/**
 * The event a lifecycle transition appends at the revision after `at` (pure: the decider, then a
 * deterministic id of incident, revision, action, authority and time, so the same act re-appended
 * is a no-op, and a replay derives the same bytes).
 */
export function transitionEvent(at: IncidentAt, command: TransitionCommand): { readonly change: IncidentStateChangedData; readonly event: EventToAppend } {
  const { incident, revision, correlationId, lastEventId } = at;
  const change = decideTransition(incident, command);
  const id = eventId(`IncidentStateChanged:${incident.incidentId}:${revision + 1n}:${command.action}:${command.authority.authorityType}:${command.authority.authorityId}:${command.at}`);
  const event = incidentCodec.encode(
    {
      type: 'IncidentStateChanged',
      data: change,
      metadata: { $correlationId: correlationId, $causationId: lastEventId, schemaVersion: 1, ...(command.authenticatedBy === undefined ? {} : { authenticatedBy: command.authenticatedBy }) },
    },
    id,
  );
  return { change, event };
}
