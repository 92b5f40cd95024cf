import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { AuthorityMatrix } from '../../../src/authority/authority-matrix.js';
import { loadConfig } from '../../../src/container/config.js';
import { TOKENS } from '../../../src/container/tokens.js';
import type { RecordedEvent } from '../../../src/eventstore/event-store.js';
import type { InMemoryEventStore } from '../../../src/eventstore/in-memory-event-store.js';
import { INCIDENT_STREAM_PREFIX } from '../../../src/incidents/incident-events.js';
import { explainChain, type ChainView } from '../../../src/operators/explain.js';
import { valueInputs } from '../../../src/signals/signal-input.js';
import { CorrelationWorld } from '../../correlation/support/world.js';

const FIXTURE = fileURLToPath(new URL('../../../../test/fixtures/alertmanager/webhooks.jsonl', import.meta.url));
const BUNDLED_MATRIX = fileURLToPath(new URL('../../../../config/authority-matrix.json', import.meta.url));

/** The bundled authority matrix document (which grants ALERT_AUTOMATION nothing). */
export const bundledMatrixDocument = (): { grants: Record<string, unknown>; version: string; justificationRequired: string[] } =>
  JSON.parse(readFileSync(BUNDLED_MATRIX, 'utf8')) as { grants: Record<string, unknown>; version: string; justificationRequired: string[] };

/** The bundled matrix plus the grant docs/configuration.md shows. */
export function grantingMatrix(): AuthorityMatrix {
  const doc = bundledMatrixDocument();
  return AuthorityMatrix.fromDocument({ ...doc, grants: { ...doc.grants, ALERT_AUTOMATION: { actions: ['RESOLVE_INCIDENT'], principals: ['opx-alert-automation'] } } });
}

/** The first captured Alertmanager 0.25 body (CheckoutDown, firing): the shape every body below takes. */
const template = (): Record<string, unknown> & { alerts: Array<Record<string, unknown>> } => {
  const first = readFileSync(FIXTURE, 'utf8').split('\n')[0] ?? '';
  return JSON.parse(first) as Record<string, unknown> & { alerts: Array<Record<string, unknown>> };
};

export const T0 = Date.parse('2026-12-07T12:00:00.000Z');
export const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

/**
 * A webhook body as Alertmanager sends it for instances of CheckoutDown: `firing` with endsAt
 * zero, or `resolved` with endsAt set; fingerprint and startsAt make each alert's identity.
 */
export function webhook(status: 'firing' | 'resolved', alerts: ReadonlyArray<{ readonly instance: string; readonly started: number; readonly ended?: number }>): unknown {
  const body = template();
  const [alert] = body.alerts;
  return {
    ...body,
    status,
    alerts: alerts.map((a) => ({
      ...alert,
      status,
      labels: { ...(alert?.['labels'] as object), instance: a.instance },
      startsAt: at(a.started),
      endsAt: status === 'resolved' ? at(a.ended ?? a.started + 60) : '0001-01-01T00:00:00Z',
      fingerprint: `c0ffee${a.instance.padStart(10, '0')}`,
    })),
  };
}

/** A correlation world fed Alertmanager bodies through the recorder, with CP-7 acts by a person. */
export class AlertWorld {
  private constructor(readonly world: CorrelationWorld) {}

  static create(options: { readonly granted: boolean; readonly memory?: InMemoryEventStore }): AlertWorld {
    return new AlertWorld(CorrelationWorld.create({ ...(options.granted ? { authorityMatrix: grantingMatrix() } : {}), ...(options.memory === undefined ? {} : { memory: options.memory }) }));
  }

  get memory(): InMemoryEventStore {
    return this.world.memory;
  }

  get config() {
    return this.world.container.get(TOKENS.Config);
  }

  async send(body: unknown): Promise<void> {
    await this.world.record(...valueInputs(body, loadConfig().sources, 'webhook').inputs);
  }

  /** `opx process`: correlation to the end of what is recorded (the alert automation after it), then orchestration. */
  async process(): Promise<void> {
    await this.world.correlation.correlateOnce({ tick: true });
    await this.world.orchestrate();
  }

  /** Correlation and orchestration without the alert automation (a runtime that has not run it yet). */
  async processWithoutAutomation(): Promise<void> {
    await this.world.settle();
  }

  incidentId(): string {
    const [opened] = this.world.incidents();
    if (opened === undefined) throw new Error('no incident opened');
    return String(opened['incidentId']);
  }

  incidentIds(): string[] {
    return this.world.incidents().map((i) => String(i['incidentId']));
  }

  /** What explain (CLI, operator API) shows of the incident's chain. */
  explain(incidentId = this.incidentId()): Promise<ChainView> {
    const c = this.world.container;
    const deps = { reader: this.memory, candidates: c.get(TOKENS.CandidateStore), incidents: c.get(TOKENS.IncidentManager), attempts: c.get(TOKENS.OrchestrationStore) };
    return explainChain({ ...deps, policies: this.config.policies, matrix: this.config.authorityMatrix }, incidentId);
  }

  async state(incidentId = this.incidentId()): Promise<string> {
    return (await this.world.container.get(TOKENS.IncidentManager).get(incidentId)).state;
  }

  /** A person's act through CP-7, at `seconds` after T0. */
  async act(action: 'ACKNOWLEDGE_INCIDENT' | 'MITIGATE_INCIDENT' | 'RESOLVE_INCIDENT' | 'CLOSE_INCIDENT', seconds: number, incidentId = this.incidentId()): Promise<void> {
    const authorityType = action === 'CLOSE_INCIDENT' ? 'HUMAN_OPERATOR' : 'ON_CALL_RESPONDER';
    await this.world.container.get(TOKENS.IncidentManager).transition(incidentId, {
      action,
      at: at(seconds),
      authority: { authorityType, authorityId: 'alice', sessionId: `s-${action}`, justification: 'on it' },
      authenticatedBy: { principal: 'alice', method: 'bearer' },
    });
  }

  /** The transitions recorded under ALERT_AUTOMATION. */
  automated(): RecordedEvent[] {
    return this.world.events(INCIDENT_STREAM_PREFIX, 'IncidentStateChanged').filter((e) => (e.data['authority'] as { authorityType: string }).authorityType === 'ALERT_AUTOMATION');
  }
}
