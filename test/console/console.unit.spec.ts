import { expect } from 'chai';

import { CONTENT_SECURITY_POLICY } from '../../src/console/console-routes.js';
import { consoleRig, DISK, ORIGIN, tokens, type ConsoleRig } from './support/rig.js';

const json = { 'content-type': 'application/json' };

describe('the console of opx serve (pages, sign-in, sessions, CSRF)', () => {
  let r: ConsoleRig;
  afterEach(async () => r.readModels.stop());

  describe('the page', () => {
    beforeEach(async () => (r = await consoleRig()));

    it('is one HTML page at every shareable path, with a Content-Security-Policy that allows no inline script and no other origin', async () => {
      for (const url of ['/', '/incidents', '/incidents/inc-1?x=1', '/candidates/cand-1', '/audit', '/sign-in']) {
        const page = await r.inject({ method: 'GET', url });
        expect(page.statusCode, url).to.equal(200);
        expect(page.headers['content-type']).to.match(/^text\/html/);
        const csp = String(page.headers['content-security-policy']);
        expect(csp).to.equal(CONTENT_SECURITY_POLICY);
        expect(csp).to.include("script-src 'self'").and.include("default-src 'none'").and.include("frame-ancestors 'none'").and.not.include('unsafe-inline').and.not.include('unsafe-eval');
        expect(page.headers['x-content-type-options']).to.equal('nosniff');
        expect(page.headers['cache-control']).to.equal('no-store');
        // every script has a src on this origin: none is inline
        const scripts = [...page.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
        expect(scripts).to.have.length(1);
        for (const [, attributes, body] of scripts) {
          expect(attributes).to.match(/src="\/assets\/console\.js\?v=[\w-]+"/);
          expect(body).to.equal('');
        }
        expect(page.body).to.not.match(/\son\w+=|style=|https?:\/\//);
      }
    });

    it('serves its bundled assets with their types, revalidated by ETag, and nothing else', async () => {
      const js = await r.inject({ method: 'GET', url: '/assets/console.js' });
      expect(js.statusCode).to.equal(200);
      expect(js.headers['content-type']).to.match(/^text\/javascript/);
      expect(js.body).to.not.match(/https?:\/\/(?!www\.w3\.org)/); // no script, font or style from another origin
      expect((await r.inject({ method: 'GET', url: '/assets/console.js', headers: { 'if-none-match': String(js.headers['etag']) } })).statusCode).to.equal(304);
      expect((await r.inject({ method: 'GET', url: '/assets/console.css' })).headers['content-type']).to.match(/^text\/css/);
      expect((await r.inject({ method: 'GET', url: '/assets/..%2Fconsole-routes.js' })).statusCode).to.equal(404);
      expect((await r.inject({ method: 'GET', url: '/assets/toString' })).statusCode).to.equal(404);
    });
  });

  describe('sign-in and sessions', () => {
    beforeEach(async () => (r = await consoleRig()));

    it("signs in with a principal's token: a session cookie HttpOnly, SameSite=Strict, not readable by the page, and the CSRF token in the answer", async () => {
      const answer = await r.inject({ method: 'POST', url: '/console/session', headers: { ...json, origin: ORIGIN }, payload: JSON.stringify({ token: tokens.alice }) });
      expect(answer.statusCode).to.equal(201);
      const cookie = String(answer.headers['set-cookie']);
      expect(cookie).to.match(/^opx_session=[\w-]{43}; /).and.include('HttpOnly').and.include('SameSite=Strict').and.include('Path=/').and.not.include('Secure');
      expect(answer.json()).to.include({ principal: 'alice' }).and.have.property('csrfToken').that.matches(/^[\w-]{43}$/);
      expect(answer.body).to.not.include(cookie.split(';')[0]!.split('=')[1]);

      const me = await r.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: cookie.split(';')[0]! } });
      expect(me.json()).to.deep.equal({ principal: 'alice', roles: ['HUMAN_OPERATOR'], method: 'session' });
    });

    it('is Secure and __Host- prefixed over TLS', async () => {
      const tls = await consoleRig({ secure: true });
      try {
        const answer = await tls.inject({ method: 'POST', url: '/console/session', headers: { ...json, origin: 'https://console.test' }, payload: JSON.stringify({ token: tokens.alice }) });
        expect(answer.statusCode).to.equal(201);
        expect(String(answer.headers['set-cookie'])).to.match(/^__Host-opx_session=/).and.include('; Secure').and.include('HttpOnly').and.include('SameSite=Strict');
        expect(answer.headers['strict-transport-security']).to.match(/max-age=\d+/);
      } finally {
        await tls.readModels.stop();
      }
    });

    it('refuses an unknown token (401), a principal with no human role (403), a sign-in from another origin, and one sent as a form', async () => {
      const post = (payload: string, headers: Record<string, string> = {}) => r.inject({ method: 'POST', url: '/console/session', headers: { ...json, origin: ORIGIN, ...headers }, payload });
      expect((await post(JSON.stringify({ token: 'opx_nope' }))).statusCode).to.equal(401);
      expect((await post(JSON.stringify({}))).statusCode).to.equal(401);
      expect((await post(JSON.stringify({ token: tokens.sender }))).statusCode).to.equal(403);
      expect((await post(JSON.stringify({ token: tokens.alice }), { origin: 'https://evil.example' })).statusCode).to.equal(403);
      expect((await post(JSON.stringify({ token: tokens.alice }), { 'sec-fetch-site': 'cross-site' })).statusCode).to.equal(403);
      expect((await post(`token=${tokens.alice}`, { 'content-type': 'application/x-www-form-urlencoded' })).statusCode).to.equal(415);
      expect(r.console.sessions.size).to.equal(0);
    });

    it('ends a session at its lifetime, after an idle spell, and at sign-out (which needs the CSRF token)', async () => {
      const me = (cookie: string) => r.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie } });
      const a = await r.signIn('alice');
      r.advance(59 * 60_000);
      expect((await me(a.cookie)).statusCode).to.equal(200);
      r.advance(59 * 60_000);
      expect((await me(a.cookie)).statusCode).to.equal(200);
      r.advance(61 * 60_000);
      expect((await me(a.cookie)).statusCode, 'idle an hour').to.equal(401);

      const b = await r.signIn('alice');
      for (let i = 0; i < 9; i++) {
        r.advance(50 * 60_000);
        expect((await me(b.cookie)).statusCode, `${(i + 1) * 50} min, in use`).to.equal(200);
      }
      r.advance(40 * 60_000);
      expect((await me(b.cookie)).statusCode, 'past 8 hours').to.equal(401);

      const c = await r.signIn('alice');
      expect((await r.inject({ method: 'DELETE', url: '/console/session', headers: { cookie: c.cookie, origin: ORIGIN } })).statusCode, 'sign-out without the token').to.equal(403);
      expect((await me(c.cookie)).statusCode).to.equal(200);
      const out = await r.inject({ method: 'DELETE', url: '/console/session', headers: { cookie: c.cookie, origin: ORIGIN, 'x-csrf-token': c.csrf } });
      expect(out.statusCode).to.equal(204);
      expect(String(out.headers['set-cookie'])).to.include('Max-Age=0');
      expect((await me(c.cookie)).statusCode).to.equal(401);
      expect((await r.inject({ method: 'GET', url: '/console/session', headers: { cookie: c.cookie } })).statusCode).to.equal(401);
    });
  });

  describe('CSRF: a state change the session cookie authenticates', () => {
    beforeEach(async () => (r = await consoleRig()));

    const deferredId = async (): Promise<string> => {
      const { cookie } = await r.signIn('alice');
      return (await r.inject({ method: 'GET', url: '/api/v1/console/deferred', headers: { cookie } })).json<{ rows: Array<{ candidateId: string }> }>().rows[0]!.candidateId;
    };
    const promote = (id: string, headers: Record<string, string>) => r.inject({ method: 'POST', url: `/api/v1/candidates/${id}/promotion`, headers: { ...json, ...headers }, payload: JSON.stringify({ justification: 'customer impact' }) });
    const requests = (id: string) => r.world.events(`candidate-${id}`, 'ManualPromotionRequested');

    it('is refused without the session\'s token, with a wrong one, or from another origin, and records nothing', async () => {
      const id = await deferredId();
      const { cookie, csrf } = await r.signIn('alice');
      for (const headers of [{ cookie, origin: ORIGIN }, { cookie, origin: ORIGIN, 'x-csrf-token': 'x'.repeat(43) }, { cookie, origin: 'https://evil.example', 'x-csrf-token': csrf }, { cookie, 'sec-fetch-site': 'cross-site', 'x-csrf-token': csrf }, { cookie, 'sec-fetch-site': 'same-site', 'x-csrf-token': csrf }, { cookie, 'sec-fetch-site': 'none', 'x-csrf-token': csrf }, { cookie }]) {
        const answer = await promote(id, headers);
        expect(answer.statusCode, JSON.stringify(headers)).to.equal(403);
        expect(answer.json()).to.include({ error: 'csrf' });
      }
      expect(requests(id)).to.deep.equal([]);
    });

    it("is done with the token, from this origin, and recorded as the session's principal, proven by session", async () => {
      const id = await deferredId();
      const { cookie, csrf } = await r.signIn('alice');
      const answer = await promote(id, { cookie, origin: ORIGIN, 'sec-fetch-site': 'same-origin', 'x-csrf-token': csrf });
      expect(answer.statusCode).to.equal(202);
      expect(requests(id)[0]?.metadata['authenticatedBy']).to.deep.equal({ principal: 'alice', method: 'session' });
    });

    it('does not touch a bearer-token client (no cookie, nothing a browser sends by itself)', async () => {
      const id = await deferredId();
      expect((await promote(id, { authorization: `Bearer ${tokens.alice}` })).statusCode).to.equal(202);
    });

    it('is refused by the session hook itself where the API is mounted without the console\'s guard (401: the cookie proves nothing)', async () => {
      const bare = await consoleRig({ guard: false });
      try {
        const { cookie } = await bare.signIn('alice').catch(async () => {
          // no sign-in route without the console's routes: make a session directly
          const { id } = bare.console.sessions.create({ name: 'alice', roles: ['HUMAN_OPERATOR'] });
          return { cookie: `opx_session=${id}` };
        });
        const id = (await bare.inject({ method: 'GET', url: '/api/v1/console/deferred', headers: { cookie } })).json<{ rows: Array<{ candidateId: string }> }>().rows[0]!.candidateId;
        const answer = await bare.inject({ method: 'POST', url: `/api/v1/candidates/${id}/promotion`, headers: { ...json, cookie }, payload: JSON.stringify({ justification: 'x' }) });
        expect(answer.statusCode).to.equal(401);
        expect(bare.world.events(`candidate-${id}`, 'ManualPromotionRequested')).to.deep.equal([]);
      } finally {
        await bare.readModels.stop();
      }
    });
  });

  describe('the console\'s routes under the operator API', () => {
    beforeEach(async () => (r = await consoleRig()));

    it('tells the page what its principal may do (offers only; the API still checks every act)', async () => {
      const alice = await r.signIn('alice');
      const bob = await r.signIn('bob');
      expect((await r.inject({ method: 'GET', url: '/api/v1/console/me', headers: { cookie: alice.cookie } })).json<object>()).to.deep.include({ promote: true, promoteRole: 'HUMAN_OPERATOR', incidentActions: ['ACKNOWLEDGE_INCIDENT', 'MITIGATE_INCIDENT', 'RESOLVE_INCIDENT', 'CLOSE_INCIDENT'] });
      const bobs = (await r.inject({ method: 'GET', url: '/api/v1/console/me', headers: { cookie: bob.cookie } })).json<Record<string, unknown>>();
      expect(bobs).to.deep.include({ promote: false, incidentActions: ['ACKNOWLEDGE_INCIDENT', 'MITIGATE_INCIDENT', 'RESOLVE_INCIDENT'] });
      expect(bobs).to.not.have.property('promoteRole');
    });

    it('lists the queue with each candidate\'s runbook and source links, from an index kept beside the read models', async () => {
      const { cookie } = await r.signIn('bob');
      const page = (await r.inject({ method: 'GET', url: '/api/v1/console/deferred?limit=10', headers: { cookie } })).json<{ rows: Array<Record<string, unknown>>; total: number }>();
      expect(page.total).to.equal(1);
      expect(page.rows[0]).to.include({ title: 'DiskFull: disk 85% full', runbookUrl: DISK.annotations.runbook_url, policy: 'standard-promotion@1.0.0', service: 'inventory' });
      expect((await r.inject({ method: 'GET', url: '/api/v1/console/deferred?limit=0', headers: { cookie } })).statusCode).to.equal(400);
      expect((await r.inject({ method: 'GET', url: '/api/v1/console/deferred' })).statusCode).to.equal(401);
    });

    it('answers the read models\' position, which moves when something is recorded (what the page polls)', async () => {
      const { cookie, csrf } = await r.signIn('alice');
      const version = async () => (await r.inject({ method: 'GET', url: '/api/v1/console/version', headers: { cookie } })).json<{ position: string }>().position;
      const before = await version();
      const [row] = (await r.inject({ method: 'GET', url: '/api/v1/incidents', headers: { cookie } })).json<{ rows: Array<{ incidentId: string }> }>().rows;
      const acked = await r.inject({ method: 'POST', url: `/api/v1/incidents/${row!.incidentId}/transitions`, headers: { ...json, cookie, origin: ORIGIN, 'x-csrf-token': csrf }, payload: JSON.stringify({ action: 'ACKNOWLEDGE_INCIDENT', expectedRevision: '0' }) });
      expect(acked.statusCode).to.equal(200);
      await r.caughtUp();
      expect(before).to.match(/^\d+$/);
      expect(BigInt(await version()) > BigInt(before)).to.equal(true);
    });
  });
});
