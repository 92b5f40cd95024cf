import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { Registry } from 'prom-client';

import { ConsoleIndex } from '../../../src/console/console-api.js';
import { OperatorConsole } from '../../../src/console/operator-console.js';
import { TOKENS } from '../../../src/container/tokens.js';
import { buildHttpApp } from '../../../src/http/http-app.js';
import { AuditService, type AuditServiceDeps } from '../../../src/operators/audit-service.js';
import { HumanActs } from '../../../src/operators/human-acts.js';
import { operatorApi } from '../../../src/operators/operator-api.js';
import { newToken, PrincipalDirectory } from '../../../src/principals/principals.js';
import { LiveReadModels } from '../../../src/projections/live-read-models.js';
import { PROJECTED_STREAM_PREFIXES } from '../../../src/projections/read-models.js';
import { Facts } from '../../correlation/support/signals.js';
import { CorrelationWorld } from '../../correlation/support/world.js';

export const tokens = { alice: newToken(), bob: newToken(), sender: newToken() };
/** alice may do everything a human may; bob is on call (no promotion, no close); the sender only ingests. */
export const principals = PrincipalDirectory.empty()
  .with('alice', ['HUMAN_OPERATOR'], tokens.alice)
  .with('bob', ['ON_CALL_RESPONDER'], tokens.bob)
  .with('alertmanager-prod', ['ingest'], tokens.sender);

export const HOST = 'console.test';
export const ORIGIN = `http://${HOST}`;

export interface ConsoleRig {
  readonly world: CorrelationWorld;
  readonly app: FastifyInstance;
  readonly readModels: LiveReadModels;
  readonly console: OperatorConsole;
  readonly audits: AuditService;
  /** Moves the sessions' clock. */
  advance(ms: number): void;
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  /** Signs in as a principal from the page: the cookie to send and the CSRF token. */
  signIn(who: keyof typeof tokens): Promise<{ cookie: string; csrf: string }>;
  /** Waits until the read models hold everything recorded. */
  caughtUp(): Promise<void>;
}

export const DISK = { service: 'inventory', severity: 'SEV3' as const, labels: { alertname: 'DiskFull' }, annotations: { summary: 'disk 85% full', runbook_url: 'https://runbooks.example/disk-full' } };

/**
 * The console and the operator API over an in-memory store with a promoted page and a deferred
 * warning (with a runbook), mounted as `opx serve` mounts them; requests through inject, from the
 * console's origin unless told otherwise.
 */
export async function consoleRig(options: { readonly secure?: boolean; readonly audit?: AuditServiceDeps['audit']; readonly guard?: boolean } = {}): Promise<ConsoleRig> {
  const world = CorrelationWorld.create();
  await world.record(Facts.firing('page', 0), Facts.firing('disk', 10, DISK), Facts.firing('disk', 20, DISK));
  await world.settle();
  const readModels = new LiveReadModels(world.memory, world.logger);
  const index = new ConsoleIndex(readModels);
  const c = world.container;
  const config = c.get(TOKENS.Config);
  const audits = new AuditService({ config, store: world.memory, logger: world.logger, expectedEvents: () => index.auditableEvents, ...(options.audit === undefined ? {} : { audit: options.audit }) });
  let clock = Date.parse('2026-06-01T12:00:00.000Z');
  const operatorConsole = new OperatorConsole({ readModels, index, audits, principals, matrix: config.authorityMatrix, secure: options.secure === true, logger: world.logger, sessions: { now: () => clock, ttlMs: 8 * 3_600_000, idleMs: 3_600_000 } });
  readModels.start();
  const app = await buildHttpApp({ logger: world.logger, registry: new Registry(), ready: async () => true }, [
    ...(options.guard === false ? [] : [operatorConsole.routes]),
    (instance) =>
      operatorApi(instance, {
        acts: new HumanActs(world.memory, c.get(TOKENS.CandidateStore), c.get(TOKENS.IncidentManager), config.authorityMatrix, world.clock),
        explain: { reader: world.memory, candidates: c.get(TOKENS.CandidateStore), incidents: c.get(TOKENS.IncidentManager), attempts: c.get(TOKENS.OrchestrationStore), policies: config.policies, matrix: config.authorityMatrix },
        readModels,
        principals,
        matrix: config.authorityMatrix,
        logger: world.logger,
        authenticate: operatorConsole.authenticate,
        extend: operatorConsole.extend,
      }),
  ]);
  const caughtUp = async (): Promise<void> => {
    let head = -1n;
    for await (const recorded of world.memory.readAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES })) head = recorded.position;
    await readModels.reached(head);
  };
  await caughtUp();
  const inject = (o: InjectOptions) => app.inject({ ...o, headers: { host: HOST, ...o.headers } });
  return {
    world,
    app,
    readModels,
    console: operatorConsole,
    audits,
    advance: (ms) => void (clock += ms),
    inject,
    caughtUp,
    signIn: async (who) => {
      const answer = await inject({ method: 'POST', url: '/console/session', headers: { origin: ORIGIN, 'content-type': 'application/json' }, payload: JSON.stringify({ token: tokens[who] }) });
      if (answer.statusCode !== 201) throw new Error(`sign-in as ${who}: ${answer.statusCode} ${answer.body}`);
      const cookie = String(answer.headers['set-cookie']).split(';')[0] as string;
      return { cookie, csrf: (answer.json<{ csrfToken: string }>()).csrfToken };
    },
  };
}
