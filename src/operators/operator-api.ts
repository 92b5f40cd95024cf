import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { AuthorityDenied, type AuthorityType } from '../authority/authority.js';
import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import { CandidateNotFound } from '../candidates/candidate-store.js';
import { AUTH_CHALLENGE, authenticateRequest } from '../http/http-auth.js';
import { INCIDENT_ACTIONS, INCIDENT_STATES, type IncidentAction } from '../incidents/incident-events.js';
import { IncidentNotFound, StaleIncident } from '../incidents/incident-manager.js';
import { IllegalTransition, TRANSITIONS } from '../incidents/incident-state-machine.js';
import type { Authenticated, PrincipalDirectory } from '../principals/principals.js';
import type { LiveReadModels } from '../projections/live-read-models.js';
import { ManualPromotionRefused } from '../promotion/promotion-engine.js';
import type { EventStore, PersistentSubscriptions } from '../eventstore/event-store.js';
import type { Clock } from '../shared/clock.js';
import { InvalidInput, OpxError, StoreUnavailable } from '../shared/errors.js';
import { listParkedEvents, replayParkedEvents } from '../worker/parked.js';
import type { Logger } from '../shared/logger.js';
import { explainChain, type ExplainDeps } from './explain.js';
import { actorOf, type HumanActs } from './human-acts.js';

export const OPERATOR_API = '/api/v1';

export interface OperatorApiDeps {
  readonly acts: HumanActs;
  readonly explain: ExplainDeps;
  readonly readModels: LiveReadModels;
  readonly principals: PrincipalDirectory;
  readonly matrix: AuthorityMatrix;
  readonly logger: Logger;
  /** Another way to prove who a request is (the console's session cookie), tried before the Authorization header. */
  readonly authenticate?: (request: FastifyRequest) => Authenticated | undefined;
  /** What `opx status` shows: backlog, lag, parked, the last audit. */
  readonly status?: () => Promise<Record<string, unknown>>;
  /** Parked events of the worker group (stores with persistent subscriptions). */
  readonly parked?: { readonly subscriptions: PersistentSubscriptions; readonly store: EventStore; readonly clock: Clock };
  /** Extra routes that need the same authentication (audit runs, what-if). */
  readonly extend?: (app: FastifyInstance, who: (request: FastifyRequest) => Authenticated) => Promise<void>;
}

const HUMAN_ROLES = new Set(['HUMAN_OPERATOR', 'ON_CALL_RESPONDER', 'admin']);
type WithWho = FastifyRequest & { opxWho?: Authenticated };

/**
 * The operator API of `opx serve`, JSON, for people (and the console, and the CLI's --url): the
 * deferred queue and promotion (justification required), incidents and their lifecycle (each
 * transition sent with the revision the person saw: a stale one is refused with 409, never
 * applied over another), explain, status. Every request proves a principal with a human role;
 * every act is recorded with that principal and how it was proven.
 */
export async function operatorApi(app: FastifyInstance, deps: OperatorApiDeps): Promise<void> {
  const authenticate = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const found = deps.authenticate?.(request) ?? authenticateRequest(request.headers, deps.principals);
    if (found === undefined) {
      await reply.code(401).header('www-authenticate', AUTH_CHALLENGE).send({ error: 'unauthorized', message: 'sign in: a token of a principal with a human role' });
      return;
    }
    if (!found.principal.roles.some((r) => HUMAN_ROLES.has(r))) {
      await reply.code(403).send({ error: 'forbidden', message: `principal '${found.principal.name}' has no human role` });
      return;
    }
    (request as WithWho).opxWho = found;
  };
  const who = (request: FastifyRequest): Authenticated => {
    const found = (request as WithWho).opxWho;
    if (found === undefined) throw new Error('operator route reached without authentication');
    return found;
  };

  await app.register(async (api) => {
    api.addHook('onRequest', authenticate);
    api.setErrorHandler((error, request, reply) => void answerError(reply, error, deps.logger, request.url));

    api.get('/me', async (request) => {
      const { principal, method } = who(request);
      return { principal: principal.name, roles: principal.roles, method };
    });

    api.get<{ Querystring: { limit?: string; before?: string } }>('/candidates/deferred', async (request) =>
      deps.readModels.deferred({ limit: limitOf(request.query.limit), ...(request.query.before === undefined ? {} : { before: request.query.before }) }),
    );

    api.get<{ Params: { id: string } }>('/candidates/:id', async (request) => {
      const view = await explainChain(deps.explain, request.params.id);
      const actor = safeActor(who(request), undefined);
      const mayPromote = actor !== undefined && view.manualPromotion === 'allowed' && allowed(deps.matrix, actor.role, actor.name, 'MANUAL_PROMOTE');
      return { ...view, actions: mayPromote ? ['promote'] : [] };
    });

    api.post<{ Params: { id: string }; Body: { justification?: unknown; role?: unknown } }>('/candidates/:id/promotion', async (request, reply) => {
      const justification = requiredText(request.body?.justification, 'justification');
      const actor = actorOf(who(request), roleOf(request.body?.role));
      const { requestId, requestedAt } = await deps.acts.requestPromotion(actor, request.params.id, justification);
      return reply.code(202).send({ candidateId: request.params.id, requestId, requestedAt, by: actor.name, role: actor.role, status: 'REQUESTED' });
    });

    api.get<{ Querystring: { state?: string; limit?: string; before?: string } }>('/incidents', async (request) => {
      const { state, before } = request.query;
      if (state !== undefined && !(INCIDENT_STATES as readonly string[]).includes(state)) throw new InvalidInput('state', [`must be one of ${INCIDENT_STATES.join(', ')}`]);
      return deps.readModels.incidents({ limit: limitOf(request.query.limit), ...(state === undefined ? {} : { state }), ...(before === undefined ? {} : { before }) });
    });

    api.get<{ Params: { id: string } }>('/incidents/:id', async (request) => {
      const { incident, revision } = await deps.explain.incidents.read(request.params.id);
      const actor = safeActor(who(request), undefined);
      const actions = INCIDENT_ACTIONS.filter((action) => TRANSITIONS[action].from.includes(incident.state) && actor !== undefined && mayAct(deps.matrix, who(request), action));
      return { incident, revision: revision.toString(), actions };
    });

    api.post<{ Params: { id: string }; Body: { action?: unknown; justification?: unknown; expectedRevision?: unknown; role?: unknown } }>('/incidents/:id/transitions', async (request) => {
      const body = request.body ?? {};
      if (typeof body.action !== 'string' || !(INCIDENT_ACTIONS as readonly string[]).includes(body.action)) throw new InvalidInput('transition', [`action must be one of ${INCIDENT_ACTIONS.join(', ')}`]);
      if (typeof body.expectedRevision !== 'string' || !/^\d+$/.test(body.expectedRevision)) throw new InvalidInput('transition', ['expectedRevision must be the revision you saw (a decimal string), so a change since is refused, not overwritten']);
      const justification = typeof body.justification === 'string' ? body.justification : '';
      const actor = actorForAction(deps.matrix, who(request), body.action as IncidentAction, roleOf(body.role));
      const { incident, at } = await deps.acts.transition(actor, request.params.id, body.action as IncidentAction, justification, BigInt(body.expectedRevision));
      const { revision } = await deps.explain.incidents.read(request.params.id);
      return { incident, revision: revision.toString(), at, by: actor.name, role: actor.role };
    });

    api.get<{ Params: { id: string } }>('/explain/:id', async (request) => explainChain(deps.explain, request.params.id));

    if (deps.parked !== undefined) {
      const { subscriptions, store, clock } = deps.parked;
      api.get<{ Querystring: { group?: string; limit?: string } }>('/parked', async (request) => {
        const parked = await listParkedEvents(subscriptions, { ...(request.query.group === undefined ? {} : { group: request.query.group }), limit: limitOf(request.query.limit) });
        return { parked: parked.map((p) => ({ eventId: p.eventId, streamId: p.streamId, revision: p.revision.toString(), type: p.type, created: p.created.toISOString() })) };
      });
      api.post<{ Body: { group?: unknown; stopAt?: unknown; reason?: unknown; dryRun?: unknown } }>('/parked/replay', async (request) => {
        const body = request.body ?? {};
        const actor = actorOf(who(request), 'HUMAN_OPERATOR');
        const result = await replayParkedEvents(
          { subscriptions, store },
          {
            ...(typeof body.group === 'string' ? { group: body.group } : {}),
            ...(typeof body.stopAt === 'number' ? { stopAt: body.stopAt } : {}),
            ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
            dryRun: body.dryRun === true,
            requestedBy: actor.name,
            authenticatedBy: actor.authenticatedBy,
            requestedAt: clock.now().toISOString(),
          },
        );
        return { ...result, replayedEvents: result.replayedEvents.map((e) => ({ ...e, revision: e.revision.toString() })) };
      });
    }
    if (deps.status !== undefined) {
      const status = deps.status;
      api.get('/status', async () => status());
    }
    await deps.extend?.(api, who);
  }, { prefix: OPERATOR_API });
}

const limitOf = (value: string | undefined): number => {
  if (value === undefined) return 50;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new InvalidInput('limit', ['must be an integer from 1 to 500']);
  return n;
};

function requiredText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 2_000) throw new InvalidInput(field, [`${field} is required (1 to 2000 characters)`]);
  return value;
}

function roleOf(value: unknown): AuthorityType | undefined {
  if (value === undefined) return undefined;
  if (value !== 'HUMAN_OPERATOR' && value !== 'ON_CALL_RESPONDER') throw new InvalidInput('role', ['must be HUMAN_OPERATOR or ON_CALL_RESPONDER']);
  return value;
}

const safeActor = (who: Authenticated, role: AuthorityType | undefined) => {
  try {
    return actorOf(who, role);
  } catch {
    return undefined;
  }
};

function allowed(matrix: AuthorityMatrix, role: AuthorityType, name: string, action: Parameters<AuthorityMatrix['assertAllowed']>[1]): boolean {
  try {
    matrix.assertAllowed({ authorityType: role, authorityId: name, sessionId: '-', justification: 'x' }, action);
    return true;
  } catch {
    return false;
  }
}

/** Whether any of the principal's human roles may take the action (what the page offers them). */
function mayAct(matrix: AuthorityMatrix, who: Authenticated, action: IncidentAction): boolean {
  return (['HUMAN_OPERATOR', 'ON_CALL_RESPONDER'] as const).some((role) => safeActor(who, role) !== undefined && allowed(matrix, role, who.principal.name, action));
}

/** The role to act in: the one asked for, or the principal's first role the matrix grants the action. */
function actorForAction(matrix: AuthorityMatrix, who: Authenticated, action: IncidentAction, requested: AuthorityType | undefined) {
  if (requested !== undefined) return actorOf(who, requested);
  for (const role of ['HUMAN_OPERATOR', 'ON_CALL_RESPONDER'] as const) {
    const actor = safeActor(who, role);
    if (actor !== undefined && allowed(matrix, role, who.principal.name, action)) return actor;
  }
  return actorOf(who, undefined);
}

/** Domain errors as HTTP answers a person (or the console) can act on. */
function answerError(reply: FastifyReply, error: unknown, logger: Logger, url: string): FastifyReply {
  const send = (status: number, code: string, message: string, extra: object = {}) => reply.code(status).send({ error: code, message, ...extra });
  if (error instanceof StaleIncident) return send(409, error.code, error.message, { revision: error.revision.toString(), state: error.state });
  if (error instanceof AuthorityDenied) return send(403, error.code, error.message);
  if (error instanceof IllegalTransition || error instanceof ManualPromotionRefused) return send(422, error.code, error.message);
  if (error instanceof CandidateNotFound || error instanceof IncidentNotFound) return send(404, error.code, error.message);
  if (error instanceof InvalidInput) return send(400, error.code, error.message);
  if (error instanceof StoreUnavailable) return send(503, error.code, 'the event store is unavailable; retry');
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return send(status, (error as { code?: string }).code ?? 'bad_request', (error as Error).message);
  logger.error({ err: error, url }, 'operator API request failed');
  return send(500, OpxError.is(error) ? error.code : 'internal', 'internal error');
}
