import { expect } from 'chai';

import { StoreUnavailable } from '../../src/shared/errors.js';
import { ALERTMANAGER_ROUTE, SIGNALS_ROUTE } from '../../src/receiver/receiver.js';
import { alert, basic, bearer, gated, INGEST, OPERATOR, receiverRig, webhook } from './support/receiver.js';

const post = (rig: Awaited<ReturnType<typeof receiverRig>>, url: string, payload: unknown, headers: Record<string, string> = bearer(INGEST)) =>
  rig.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

describe('the receiver (opx serve: POST /api/v1/alerts/alertmanager, /api/v1/signals)', () => {
  describe('authentication', () => {
    it('refuses a post without credentials with 401 and a challenge, recording nothing', async () => {
      const rig = await receiverRig();
      const response = await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1')]), {});

      expect(response.statusCode).to.equal(401);
      expect(response.headers['www-authenticate']).to.include('Bearer').and.include('Basic');
      expect(rig.facts()).to.deep.equal([]);
    });

    it('refuses a wrong token (401) and a principal without the ingest role (403), recording nothing', async () => {
      const rig = await receiverRig();
      expect((await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1')]), bearer('opx_not-a-token-anyone-has'))).statusCode).to.equal(401);
      expect((await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1')]), bearer(OPERATOR))).statusCode).to.equal(403);
      expect((await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1')]), basic('alice', INGEST))).statusCode).to.equal(401);
      expect(rig.facts()).to.deep.equal([]);
    });

    it('authenticates before reading the body: a malformed body without credentials is 401, not 400', async () => {
      const rig = await receiverRig();
      expect((await post(rig, ALERTMANAGER_ROUTE, '{not json', {})).statusCode).to.equal(401);
    });

    it('accepts a bearer token and basic auth (name and token), recording the principal and channel with each fact', async () => {
      const rig = await receiverRig();
      expect((await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1')]))).statusCode).to.equal(200);
      expect((await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a2')]), basic('alertmanager-prod', INGEST))).statusCode).to.equal(200);
      expect(rig.facts('SignalFired').map((f) => [f.metadata['principal'], f.metadata['channel']])).to.deep.equal([
        ['alertmanager-prod', 'http'],
        ['alertmanager-prod', 'http'],
      ]);
    });

    it('with --insecure accepts a post without credentials, recorded as anonymous', async () => {
      const rig = await receiverRig({ insecure: true });
      expect((await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1')]), {})).statusCode).to.equal(200);
      expect(rig.facts('SignalFired')[0]?.metadata['principal']).to.equal('anonymous');
    });
  });

  describe('answers that fit Alertmanager\'s retry rules', () => {
    it('answers 200 only after every accepted alert is durably appended', async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const rig = await receiverRig({ store: (memory) => gated(memory, () => gate) });
      let answered = false;
      const response = post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1'), alert('a2')])).then((r) => {
        answered = true;
        return r;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(answered).to.equal(false);
      release();
      expect((await response).statusCode).to.equal(200);
      expect(rig.facts('SignalFired')).to.have.length(2);
    });

    it('answers 503 with Retry-After when the store is unavailable (Alertmanager retries)', async () => {
      const rig = await receiverRig({ store: (memory) => gated(memory, () => Promise.reject(new StoreUnavailable('down'))) });
      const response = await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1')]));
      expect(response.statusCode).to.equal(503);
      expect(response.headers['retry-after']).to.equal('1');
    });

    it('answers 503 with Retry-After when the store does not acknowledge within the deadline', async () => {
      const rig = await receiverRig({ deadlineMs: 100, store: (memory) => gated(memory, () => new Promise((resolve) => setTimeout(resolve, 1_000))) });
      const response = await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1')]));
      expect(response.statusCode).to.equal(503);
      expect(response.json<{ error: string }>().error).to.equal('store_timeout');
    });

    it('rejects a bad alert inside a good body alone: listed in the 200 answer, recorded with why, logged and counted', async () => {
      const rig = await receiverRig();
      const response = await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1'), alert('', { startsAt: 'yesterday' }), alert('a3')]));

      expect(response.statusCode).to.equal(200);
      const answer = response.json<{ accepted: number; rejected: Array<{ location: string; problems: string[] }> }>();
      expect(answer.accepted).to.equal(2);
      expect(answer.rejected.map((r) => r.location)).to.deep.equal(['alerts[1]']);
      expect(answer.rejected[0]?.problems.join(';')).to.include('fingerprint').and.include('startsAt');
      expect(rig.facts('SignalRejected')).to.have.length(1);
      expect(rig.logger.entries.some((e) => e.level === 'warn' && e.message.includes('rejected'))).to.equal(true);
      expect(await rig.registry.getSingleMetricAsString('opx_receiver_inputs_total')).to.include('outcome="rejected"} 1').and.include('outcome="accepted"} 2');
    });

    it('records nothing new when the same body is posted twice (an Alertmanager retry, an HA pair)', async () => {
      const rig = await receiverRig();
      const body = webhook([alert('a1'), alert('a2')]);
      await post(rig, ALERTMANAGER_ROUTE, body);
      const before = rig.memory.size;
      const again = await post(rig, ALERTMANAGER_ROUTE, body);

      expect(again.json()).to.deep.include({ accepted: 0, duplicate: 2 });
      expect(rig.memory.size).to.equal(before);
    });

    it('records and surfaces truncatedAlerts', async () => {
      const rig = await receiverRig();
      const response = await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1')], { truncatedAlerts: 7 }));

      expect(response.json()).to.deep.include({ truncatedAlerts: 7 });
      expect(rig.facts('AlertsTruncated').map((f) => f.data['truncatedAlerts'])).to.deep.equal([7]);
      expect(await rig.registry.getSingleMetricAsString('opx_receiver_truncated_alerts_total')).to.include('} 7');
    });

    it('acknowledges an ignored alert (Watchdog) as ignored, not an error', async () => {
      const rig = await receiverRig();
      const response = await post(rig, ALERTMANAGER_ROUTE, webhook([alert('wd', { labels: { alertname: 'Watchdog', severity: 'none' } })]));
      expect(response.json()).to.deep.include({ ignored: 1, rejected: [] });
    });
  });

  describe('bad input: a clear error, nothing recorded', () => {
    for (const [what, payload, contentType, status] of [
      ['malformed JSON', '{"version":"4","alerts":[{', 'application/json', 400],
      ['a body that is not an Alertmanager webhook', '{"version":"3","alerts":[]}', 'application/json', 400],
      ['a wrong content type', '<alerts/>', 'application/xml', 415],
      ['a prototype-polluting key', '{"version":"4","alerts":[],"__proto__":{"x":1}}', 'application/json', 400],
    ] as const) {
      it(`answers ${status} to ${what}`, async () => {
        const rig = await receiverRig();
        const response = await post(rig, ALERTMANAGER_ROUTE, payload, { ...bearer(INGEST), 'content-type': contentType });
        expect(response.statusCode).to.equal(status);
        expect(response.json<{ message: string }>().message).to.be.a('string').and.not.equal('');
        expect(rig.facts()).to.deep.equal([]);
      });
    }

    it('answers 413 to a body over the limit', async () => {
      const rig = await receiverRig({ limits: { bodyLimit: 2_048 } });
      const response = await post(rig, ALERTMANAGER_ROUTE, webhook(Array.from({ length: 40 }, (_, i) => alert(`a${i}`))));
      expect(response.statusCode).to.equal(413);
      expect(rig.facts()).to.deep.equal([]);
    });
  });

  describe('POST /api/v1/signals', () => {
    it('takes a JSON array and NDJSON of signals, each accepted or rejected alone', async () => {
      const rig = await receiverRig();
      const signal = (id: string) => ({ signalId: id, service: 'auth', severity: 'SEV2', fingerprint: 'auth:lat', observedAt: '2026-06-01T11:00:00Z' });
      const array = await post(rig, SIGNALS_ROUTE, [signal('s1'), { ...signal('s2'), severity: 'SEV9' }]);
      expect(array.json()).to.deep.include({ accepted: 1 });
      const ndjson = await rig.app.inject({ method: 'POST', url: SIGNALS_ROUTE, headers: { ...bearer(INGEST), 'content-type': 'application/x-ndjson' }, payload: `${JSON.stringify(signal('s3'))}\n{broken\n${JSON.stringify(signal('s4'))}\n` });
      expect(ndjson.statusCode).to.equal(200);
      expect(ndjson.json()).to.deep.include({ received: 3, accepted: 2 });
    });
  });

  describe('operations', () => {
    it('/healthz answers, /metrics is Prometheus text', async () => {
      const rig = await receiverRig();
      expect((await rig.app.inject({ method: 'GET', url: '/healthz' })).json()).to.deep.include({ status: 'ok' });
      const metrics = await rig.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.headers['content-type']).to.include('text/plain');
    });

    it('answers 503 with Retry-After beyond the requests in flight, and the rest still get through', async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const rig = await receiverRig({ limits: { maxInFlight: 2 }, store: (memory) => gated(memory, () => gate) });
      const first = [post(rig, ALERTMANAGER_ROUTE, webhook([alert('a1')])), post(rig, ALERTMANAGER_ROUTE, webhook([alert('a2')]))];
      await new Promise((resolve) => setTimeout(resolve, 30));
      const third = await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a3')]));
      expect(third.statusCode).to.equal(503);
      expect(third.headers['retry-after']).to.equal('1');
      release();
      expect((await Promise.all(first)).map((r) => r.statusCode)).to.deep.equal([200, 200]);
      expect((await post(rig, ALERTMANAGER_ROUTE, webhook([alert('a3')]))).statusCode).to.equal(200);
    });
  });
});
