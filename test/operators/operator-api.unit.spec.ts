import type { FastifyInstance } from 'fastify';
import { expect } from 'chai';
import { Registry } from 'prom-client';

import { TOKENS } from '../../src/container/tokens.js';
import { buildHttpApp } from '../../src/http/http-app.js';
import { HumanActs } from '../../src/operators/human-acts.js';
import { operatorApi } from '../../src/operators/operator-api.js';
import { newToken, PrincipalDirectory } from '../../src/principals/principals.js';
import { LiveReadModels } from '../../src/projections/live-read-models.js';
import { PROJECTED_STREAM_PREFIXES } from '../../src/projections/read-models.js';
import { Facts } from '../correlation/support/signals.js';
import { CorrelationWorld } from '../correlation/support/world.js';

const tokens = { alice: newToken(), bob: newToken(), sender: newToken() };
const principals = PrincipalDirectory.empty()
  .with('alice', ['HUMAN_OPERATOR'], tokens.alice)
  .with('bob', ['ON_CALL_RESPONDER'], tokens.bob)
  .with('alertmanager-prod', ['ingest'], tokens.sender);

interface Rig {
  readonly world: CorrelationWorld;
  readonly app: FastifyInstance;
  readonly readModels: LiveReadModels;
  call<T = Record<string, unknown>>(who: keyof typeof tokens | undefined, method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; json: T }>;
}

/** The position of the last event the read models project (what they must have reached). */
async function projectedHead(world: CorrelationWorld): Promise<bigint> {
  let head = -1n;
  for await (const recorded of world.memory.readAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES })) head = recorded.position;
  return head;
}

/** A flow with a deferred warning and a promoted page, the operator API over it. */
async function rig(): Promise<Rig> {
  const world = CorrelationWorld.create();
  const disk = { service: 'inventory', severity: 'SEV3' as const, labels: { alertname: 'DiskFull' }, annotations: { summary: 'disk 85% full' } };
  await world.record(Facts.firing('page', 0), Facts.firing('disk', 10, disk), Facts.firing('disk', 20, disk));
  await world.settle();
  const readModels = new LiveReadModels(world.memory, world.logger);
  readModels.start();
  const c = world.container;
  const app = await buildHttpApp({ logger: world.logger, registry: new Registry(), ready: async () => true }, [
    (instance) =>
      operatorApi(instance, {
        acts: new HumanActs(world.memory, c.get(TOKENS.CandidateStore), c.get(TOKENS.IncidentManager), c.get(TOKENS.Config).authorityMatrix, world.clock),
        explain: { reader: world.memory, candidates: c.get(TOKENS.CandidateStore), incidents: c.get(TOKENS.IncidentManager), attempts: c.get(TOKENS.OrchestrationStore), policies: c.get(TOKENS.Config).policies, matrix: c.get(TOKENS.Config).authorityMatrix },
        readModels,
        principals,
        matrix: c.get(TOKENS.Config).authorityMatrix,
        logger: world.logger,
        status: async () => ({ poison: readModels.poison }),
      }),
  ]);
  await readModels.reached(await projectedHead(world));
  return {
    world,
    app,
    readModels,
    call: async (who, method, url, body) => {
      const response = await app.inject({ method, url: `/api/v1${url}`, headers: { ...(who === undefined ? {} : { authorization: `Bearer ${tokens[who]}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
      return { status: response.statusCode, json: response.json() };
    },
  };
}

describe('the operator API (opx serve, /api/v1)', () => {
  let r: Rig;
  beforeEach(async () => (r = await rig()));
  afterEach(async () => r.readModels.stop());

  it('answers only principals with a human role: 401 without a token, 403 for an ingest sender', async () => {
    expect((await r.call(undefined, 'GET', '/me')).status).to.equal(401);
    expect((await r.call('sender', 'GET', '/me')).status).to.equal(403);
    expect((await r.call('alice', 'GET', '/me')).json).to.deep.equal({ principal: 'alice', roles: ['HUMAN_OPERATOR'], method: 'bearer' });
  });

  it('lists the deferred queue with titles, and promotes with a justification as the principal proven, recorded with how', async () => {
    const deferred = await r.call<{ rows: Array<{ candidateId: string; title: string }>; total: number }>('alice', 'GET', '/candidates/deferred');
    expect(deferred.json.rows.map((row) => row.title)).to.deep.equal(['DiskFull: disk 85% full']);
    const id = deferred.json.rows[0]!.candidateId;
    expect((await r.call('alice', 'POST', `/candidates/${id}/promotion`, {})).status).to.equal(400);
    expect((await r.call('bob', 'POST', `/candidates/${id}/promotion`, { justification: 'x' })).status).to.equal(403);

    const promoted = await r.call('alice', 'POST', `/candidates/${id}/promotion`, { justification: 'customer impact confirmed' });
    expect(promoted.status).to.equal(202);
    const request = r.world.events(`candidate-${id}`, 'ManualPromotionRequested')[0];
    expect(request?.data['authority']).to.deep.include({ authorityType: 'HUMAN_OPERATOR', authorityId: 'alice', justification: 'customer impact confirmed' });
    expect(request?.metadata['authenticatedBy']).to.deep.equal({ principal: 'alice', method: 'bearer' });
    expect((await r.call('alice', 'POST', `/candidates/${id}/promotion`, { justification: 'again' })).status).to.equal(422);
  });

  it('offers each principal the transitions its roles may make, and refuses the others (403)', async () => {
    const [incident] = (await r.call<{ rows: Array<{ incidentId: string }> }>('alice', 'GET', '/incidents')).json.rows;
    const id = incident!.incidentId;
    expect((await r.call<{ actions: string[] }>('alice', 'GET', `/incidents/${id}`)).json.actions).to.deep.equal(['ACKNOWLEDGE_INCIDENT']);
    await r.call('bob', 'POST', `/incidents/${id}/transitions`, { action: 'ACKNOWLEDGE_INCIDENT', expectedRevision: '0' });
    await r.call('bob', 'POST', `/incidents/${id}/transitions`, { action: 'RESOLVE_INCIDENT', expectedRevision: '1' });
    expect((await r.call<{ actions: string[] }>('bob', 'GET', `/incidents/${id}`)).json.actions).to.deep.equal([]);
    expect((await r.call<{ actions: string[] }>('alice', 'GET', `/incidents/${id}`)).json.actions).to.deep.equal(['CLOSE_INCIDENT']);
    expect((await r.call('bob', 'POST', `/incidents/${id}/transitions`, { action: 'CLOSE_INCIDENT', expectedRevision: '2' })).status).to.equal(403);
  });

  it('refuses a transition sent with a revision that is no longer the incident\'s (409), never applying it over the other', async () => {
    const id = (await r.call<{ rows: Array<{ incidentId: string }> }>('alice', 'GET', '/incidents')).json.rows[0]!.incidentId;
    const first = await r.call('alice', 'POST', `/incidents/${id}/transitions`, { action: 'ACKNOWLEDGE_INCIDENT', expectedRevision: '0' });
    expect(first.status).to.equal(200);
    const stale = await r.call<{ revision: string; state: string }>('bob', 'POST', `/incidents/${id}/transitions`, { action: 'ACKNOWLEDGE_INCIDENT', expectedRevision: '0' });
    expect(stale.status).to.equal(409);
    expect(stale.json).to.deep.include({ revision: '1', state: 'ACKNOWLEDGED' });
    expect(r.world.events(`incident-${id}`, 'IncidentStateChanged')).to.have.length(1);
    expect((await r.call('alice', 'POST', `/incidents/${id}/transitions`, { action: 'RESOLVE_INCIDENT' })).status).to.equal(400);
  });

  it('explains a candidate or an incident', async () => {
    const id = (await r.call<{ rows: Array<{ incidentId: string; candidateId: string }> }>('alice', 'GET', '/incidents')).json.rows[0]!;
    const view = await r.call<{ candidate: { candidateId: string; title: string }; decisions: Array<{ decision: string }> }>('bob', 'GET', `/explain/${id.incidentId}`);
    expect(view.json.candidate).to.include({ candidateId: id.candidateId, title: 'CheckoutDown: checkout is down' });
    expect(view.json.decisions.map((d) => d.decision)).to.deep.equal(['PROMOTE']);
    expect((await r.call('alice', 'GET', '/explain/cand-nope')).status).to.equal(404);
  });

  it('is not blinded by a malformed event: the queue still answers, the event is reported with its stream and revision', async () => {
    await r.world.memory.append('candidate-cand-poison0000000000000000000', [{ id: '6f1d2a6c-0000-4000-8000-000000000001', type: 'CandidateCreated', data: { nonsense: true }, metadata: {} }], 'no_stream');
    await r.world.record(Facts.firing('disk2', 30, { service: 'payments-api', severity: 'SEV3', labels: { alertname: 'DiskFull' } }), Facts.firing('disk2', 40, { service: 'payments-api', severity: 'SEV3', labels: { alertname: 'DiskFull' } }));
    await r.world.settle();
    await r.readModels.reached(await projectedHead(r.world));

    expect((await r.call<{ total: number }>('alice', 'GET', '/candidates/deferred')).json.total).to.equal(2);
    expect((await r.call<{ poison: Array<{ streamId: string; revision: string }> }>('alice', 'GET', '/status')).json.poison.map((p) => [p.streamId, p.revision])).to.deep.equal([['candidate-cand-poison0000000000000000000', '0']]);
  });
});
