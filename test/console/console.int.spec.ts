/**
 * The operator console in a real browser (Debian's chromium, driven by playwright-core), served
 * by `opx serve` as a process over the embedded EventStoreDB server, fed through the receiver.
 * The tests run in order over one history: they are one operator's session, step by step.
 */
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';

import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';
import { lastAudit, recordAudit } from '../../src/operators/audit-record.js';
import { eventually, PEOPLE, screenshot, ServedConsole, TestBrowser } from './support/browser.js';

// The page's globals, for the functions this file runs in the browser (page.evaluate); declared
// here, in this module only, so the Node build does not take the DOM's types.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const window: any;
declare const document: any;
/* eslint-enable @typescript-eslint/no-explicit-any */

const HOSTILE = {
  alertname: '<script>window.__pwned=1</script>',
  summary: '"><img src=x onerror="window.__pwned=2">',
  label: 'a\u001b[31mred\u0007\u202egnp.exe',
  description: 'first line\nsecond <b>line</b>\u0000',
  runbook: 'javascript:window.__pwned=4',
};

interface Row {
  readonly candidateId: string;
  readonly title?: string;
  readonly service: string;
}

describe('the operator console, in a browser', function () {
  this.timeout(180_000);
  let store: EmbeddedServer;
  let served: ServedConsole;
  let browser: TestBrowser;
  let alice: Page;
  let diskCandidate: string;
  let diskIncident: string;
  // Two minutes ago or more, at the start of a 300 s window (the burst rule's): every firing below
  // falls in one window, whatever the time the suite runs (unaligned, a pair split ~1 run in 10).
  const WINDOW_MS = 300_000;
  const t0 = Math.floor((Date.now() - 120_000) / WINDOW_MS) * WINDOW_MS;
  const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();

  /** Two firings of a warning within its window: the burst rule makes a candidate the standard policy defers. */
  const warning = (fingerprint: string, service: string, labels: Record<string, string>, annotations: Record<string, string>, offset = 0) =>
    [0, 10].map((s) => ({ signalId: `${fingerprint}-${s + offset}`, service, severity: 'SEV3', fingerprint, observedAt: at(s + offset), labels, annotations }));
  const ingest = async (signals: object[]) => {
    const answer = await served.api('ingest', 'POST', '/api/v1/signals', signals);
    expect(answer.status, JSON.stringify(answer.json)).to.equal(200);
  };
  const deferredRows = async () => (await served.api<{ rows: Row[] }>('alice', 'GET', '/api/v1/candidates/deferred')).json.rows;

  before(async () => {
    store = await startEmbeddedServer({ insecure: true });
    served = await ServedConsole.start(store.connectionString);
    await ingest([
      ...warning('disk', 'inventory', { alertname: 'DiskFull', team: 'storage' }, { summary: 'disk 85% full', runbook_url: 'https://runbooks.example/disk-full' }),
      ...warning('evil', 'evil-svc', { alertname: HOSTILE.alertname, note: HOSTILE.summary, ctl: HOSTILE.label }, { summary: HOSTILE.summary, description: HOSTILE.description, runbook_url: HOSTILE.runbook }, 5),
    ]);
    const rows = await eventually(
      'two deferred candidates',
      async () => {
        const found = await deferredRows();
        return found.length === 2 ? found : undefined;
      },
      90_000,
    );
    diskCandidate = rows.find((r) => r.service === 'inventory')!.candidateId;
    // one of its alerts resolves: the chain marks it
    await ingest([{ signalId: 'disk-0', service: 'inventory', severity: 'SEV3', fingerprint: 'disk', observedAt: at(0), status: 'resolved', endsAt: at(30), labels: { alertname: 'DiskFull', team: 'storage' }, annotations: { summary: 'disk 85% full' } }]);
    browser = await TestBrowser.launch();
    browser.first.setDefaultTimeout(45_000);
    alice = await browser.first.newPage();
  });

  afterEach(function () {
    // What `opx serve` logged (warnings and errors), to read beside a failure.
    if (this.currentTest?.state === 'failed' && served !== undefined) console.error(`opx serve's log:\n${served.log}`);
  });

  after(async () => {
    await browser?.close();
    if (served !== undefined) expect(await served.stop()).to.equal(0);
    await store?.close();
  });

  const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name });

  /** Signs in from the page with the keyboard only: the token typed, Enter. */
  async function signIn(page: Page, token: string): Promise<void> {
    await page.goto(`${served.url}/`);
    await page.getByLabel("Your principal's token").fill(token);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Deferred queue', level: 1 }).waitFor();
  }

  it('signs in with a principal\'s token (a wrong one refused), in an HttpOnly, SameSite=Strict session cookie the page cannot read', async () => {
    await alice.goto(`${served.url}/`);
    await screenshot(alice, 'sign-in');
    await alice.getByLabel("Your principal's token").fill('opx_not-a-token');
    await alice.getByRole('button', { name: 'Sign in' }).click();
    await alice.getByRole('alert').filter({ hasText: 'Not signed in' }).waitFor();

    await signIn(alice, PEOPLE.alice);
    await alice.locator('header').getByText('alice').waitFor();
    const [cookie] = await browser.first.cookies(served.url);
    expect(cookie).to.include({ name: 'opx_session', httpOnly: true, sameSite: 'Strict', secure: false, path: '/' });
    expect(await alice.evaluate(() => document.cookie)).to.equal('');
  });

  it('shows the deferred queue newest first: severity, service, alert, runbook link, the policy and rule that deferred it, how long it waited', async () => {
    const rows = alice.locator('table.queue tbody tr[data-candidate]');
    await eventually('both rows', async () => ((await rows.count()) === 2 ? true : undefined));
    const disk = alice.locator(`tr[data-candidate="${diskCandidate}"]`);
    expect(await disk.locator('td[data-label="Severity"]').innerText()).to.equal('SEV3');
    expect(await disk.locator('td[data-label="Service"]').innerText()).to.equal('inventory');
    expect(await disk.locator('td[data-label="Alert"]').innerText()).to.include('DiskFull: disk 85% full');
    expect(await disk.getByRole('link', { name: 'runbook' }).getAttribute('href')).to.equal('https://runbooks.example/disk-full');
    expect(await disk.getByRole('link', { name: 'runbook' }).getAttribute('rel')).to.equal('noopener noreferrer');
    expect(await disk.locator('td[data-label="Deferred by"]').innerText()).to.include('standard-promotion@1.0.0').and.include('no rule matched');
    expect(await disk.locator('td[data-label="Waiting"]').innerText()).to.match(/min|under a minute/);
    // newest first: the hostile one was recorded after
    expect(await rows.first().getAttribute('data-candidate')).to.not.equal(diskCandidate);
    await screenshot(alice, 'queue');
  });

  it('renders recorded labels and annotations as text, never as HTML: no script, no image, no javascript: link, control characters made visible', async () => {
    const evil = alice.locator('table.queue tbody tr[data-candidate]').first();
    expect(await evil.locator('td[data-label="Alert"] a').innerText()).to.equal(`${HOSTILE.alertname}: ${HOSTILE.summary}`);
    expect(await evil.locator('td[data-label="Runbook"] a').count()).to.equal(0);
    expect(await evil.locator('td[data-label="Runbook"]').innerText()).to.equal(HOSTILE.runbook);

    await evil.locator('td[data-label="Alert"] a').click();
    await alice.getByRole('heading', { name: 'Signals' }).waitFor();
    const labels = alice.locator('table.labels');
    expect(await labels.locator('tr', { hasText: 'ctl' }).locator('td').innerText()).to.equal('a\u241b[31mred\u2407<U+202E>gnp.exe');
    expect(await labels.locator('tr', { hasText: 'alertname' }).locator('td').innerText()).to.equal(HOSTILE.alertname);
    expect(await labels.locator('tr', { hasText: 'note' }).locator('td').innerText()).to.equal(HOSTILE.summary);
    expect(await alice.locator('dd.prewrap').innerText()).to.equal('first line\nsecond <b>line</b>\u2400');
    const injected = await alice.evaluate(() => ({
      pwned: (window as { __pwned?: unknown }).__pwned,
      images: document.querySelectorAll('main img').length,
      scripts: document.querySelectorAll('main script').length,
      bold: document.querySelectorAll('main b').length,
      javascriptLinks: [...document.querySelectorAll('a')].filter((a: { href: string }) => a.href.startsWith('javascript:')).length,
    }));
    expect(injected).to.deep.equal({ pwned: undefined, images: 0, scripts: 0, bold: 0, javascriptLinks: 0 });
    await screenshot(alice, 'hostile-candidate');
  });

  it('runs no inline script even if markup got in: the Content-Security-Policy blocks it', async () => {
    const blocked = await alice.evaluate(
      () =>
        new Promise<{ ran: boolean; violations: string[] }>((resolve) => {
          const violations: string[] = [];
          document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string }) => violations.push(e.violatedDirective));
          const holder = document.createElement('div');
          holder.innerHTML = '<img src="/nope.png" onerror="window.__csp=1">';
          document.body.append(holder);
          const script = document.createElement('script');
          script.textContent = 'window.__csp=2';
          document.body.append(script);
          setTimeout(() => resolve({ ran: (window as { __csp?: unknown }).__csp !== undefined, violations }), 500);
        }),
    );
    expect(blocked.ran).to.equal(false);
    expect(blocked.violations.some((v) => v.startsWith('script-src'))).to.equal(true);
  });

  it('promotes a deferred candidate with a justification: it leaves the queue and its incident appears, without a reload', async () => {
    await nav(alice, 'Deferred queue').click();
    await alice.evaluate(() => ((window as { __stay?: number }).__stay = 1));
    const row = alice.locator(`tr[data-candidate="${diskCandidate}"]`);
    await row.getByRole('button', { name: /^Promote/ }).click();
    const form = alice.locator('tr.form-row form');
    await form.getByRole('button', { name: 'Promote to incident' }).click();
    await form.getByRole('alert').filter({ hasText: 'justification is required' }).waitFor();
    await form.getByLabel(/Justification/).fill('customer impact confirmed by support');
    await form.getByRole('button', { name: 'Promote to incident' }).click();
    await alice.getByRole('status').filter({ hasText: 'Promotion of' }).waitFor();
    await row.waitFor({ state: 'detached', timeout: 30_000 });
    expect(await alice.evaluate(() => (window as { __stay?: number }).__stay)).to.equal(1);

    await nav(alice, 'Incidents').click();
    const incident = alice.locator('table.incidents tbody tr', { hasText: 'DiskFull: disk 85% full' });
    await incident.waitFor();
    expect(await incident.locator('td[data-label="State"]').innerText()).to.equal('OPEN');
    expect(await incident.locator('td[data-label="Promoted by"]').innerText()).to.equal('HUMAN_OPERATOR:alice');
    diskIncident = (await incident.getAttribute('data-incident'))!;
    await screenshot(alice, 'incidents');
  });

  it('shows a new deferred candidate without a reload (live updates)', async () => {
    await nav(alice, 'Deferred queue').click();
    await ingest(warning('cert', 'edge-proxy', { alertname: 'CertExpiring' }, { summary: 'certificate expires in 7 days' }, 20));
    await alice.locator('table.queue tbody tr', { hasText: 'CertExpiring: certificate expires in 7 days' }).waitFor({ timeout: 30_000 });
    expect(await alice.evaluate(() => (window as { __stay?: number }).__stay)).to.equal(1);
  });

  it('acknowledges and resolves the incident, each sent with the revision shown; a change made meanwhile is refused plainly (409), not overwritten', async () => {
    await alice.goto(`${served.url}/incidents/${encodeURIComponent(diskIncident)}`);
    const state = alice.locator('[data-state]');
    await state.waitFor();
    expect(await state.innerText()).to.equal('OPEN');
    expect(await alice.locator('dd[data-revision]').innerText()).to.equal('0');
    await alice.getByLabel(/Justification/).fill('looking into it');
    await alice.getByRole('button', { name: 'Acknowledge' }).click();
    await alice.locator('[data-state="ACKNOWLEDGED"]').waitFor();
    expect(await alice.locator('dd[data-revision]').innerText()).to.equal('1');

    // Someone else mitigates it while this page cannot hear of it (its live updates held).
    await alice.route('**/api/v1/console/version', (route) => route.abort());
    const bobs = await served.api('bob', 'POST', `/api/v1/incidents/${diskIncident}/transitions`, { action: 'MITIGATE_INCIDENT', expectedRevision: '1' });
    expect(bobs.status).to.equal(200);
    await alice.getByRole('button', { name: 'Resolve' }).click();
    const conflict = alice.getByRole('alert').filter({ hasText: 'Not applied' });
    await conflict.waitFor();
    expect(await conflict.innerText()).to.include('revision 1').and.include('MITIGATED at revision 2').and.include('Nothing was overwritten');
    await screenshot(alice, 'incident-conflict');
    await alice.unroute('**/api/v1/console/version');
    await alice.locator('[data-state="MITIGATED"]').waitFor();

    await alice.getByRole('button', { name: 'Resolve' }).click();
    await alice.locator('[data-state="RESOLVED"]').waitFor();
    const transitions = (await served.api<{ incident: { history: Array<{ action: string; authority: { authorityId: string } }> } }>('alice', 'GET', `/api/v1/incidents/${diskIncident}`)).json.incident.history;
    expect(transitions.map((t) => `${t.action}:${t.authority.authorityId}`)).to.deep.equal(['ACKNOWLEDGE_INCIDENT:alice', 'MITIGATE_INCIDENT:bob', 'RESOLVE_INCIDENT:alice']);
    expect(await alice.getByRole('button', { name: 'Close' }).count()).to.equal(1);
  });

  it('explains the chain on one page: signals (resolved marked) -> candidate -> decisions (policy, hash, rule, authority) -> incident -> transitions, and the attempts', async () => {
    const chain = alice.locator('ol.chain');
    await chain.waitFor();
    const headings = await chain.locator('h2').allInnerTexts();
    expect(headings).to.deep.equal(['Signals', 'Candidate', 'Decisions', 'Incident', 'Orchestration attempts']);
    const signals = chain.locator('li.link').nth(0);
    expect(await signals.locator('tr.resolved').count()).to.be.greaterThan(0);
    expect(await signals.innerText()).to.include('resolved');
    const decisions = await chain.locator('dl.decision').allInnerTexts();
    expect(decisions).to.have.length(2);
    expect(decisions[0]).to.include('DEFER').and.include('standard-promotion@1.0.0').and.include('AUTO_ENGINE').and.match(/[0-9a-f]{64}/);
    expect(decisions[1]).to.include('PROMOTE').and.include('alice').and.include('HUMAN_OPERATOR').and.include('customer impact confirmed by support').and.include('manual-promotion');
    const incident = await chain.locator('li.link').nth(3).innerText();
    expect(incident).to.include(diskIncident).and.include('RESOLVED');
    expect(await chain.locator('ol.lifecycle li').allInnerTexts()).to.have.length(3);
    expect(await chain.locator('li.link').nth(4).locator('tbody tr').count()).to.be.greaterThan(0);
    await screenshot(alice, 'incident-explain');
  });

  describe('a principal without the right (bob, on call)', () => {
    let context: BrowserContext;
    let bob: Page;
    before(async () => {
      context = await browser.context();
      bob = await context.newPage();
      await signIn(bob, PEOPLE.bob);
    });
    after(async () => context.close());

    it('is not offered promotion or closing, and the API refuses him when he tries anyway', async () => {
      const row = bob.locator('table.queue tbody tr', { hasText: 'CertExpiring' });
      await row.waitFor();
      expect(await row.getByRole('button').count()).to.equal(0);
      expect(await row.innerText()).to.include('view only');
      const candidateId = (await row.getAttribute('data-candidate'))!;
      await row.getByRole('link', { name: /CertExpiring/ }).click();
      await bob.getByRole('heading', { name: 'Signals' }).waitFor();
      expect(await bob.getByRole('heading', { name: 'Promote' }).count()).to.equal(0);

      await bob.goto(`${served.url}/incidents/${encodeURIComponent(diskIncident)}`);
      await bob.locator('[data-state="RESOLVED"]').waitFor();
      expect(await bob.getByRole('button', { name: 'Close' }).count()).to.equal(0);
      expect(await bob.getByText('Your roles offer no transition from RESOLVED').count()).to.equal(1);
      await screenshot(bob, 'incident-as-on-call');

      // as the page would send them, with his session and its CSRF token
      const refused = await bob.evaluate(
        async ({ candidate, incident }) => {
          const { csrfToken } = (await (await fetch('/console/session')).json()) as { csrfToken: string };
          const post = async (url: string, body: object) => (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken }, body: JSON.stringify(body) })).status;
          return [await post(`/api/v1/candidates/${candidate}/promotion`, { justification: 'I insist' }), await post(`/api/v1/incidents/${incident}/transitions`, { action: 'CLOSE_INCIDENT', expectedRevision: '3' })];
        },
        { candidate: candidateId, incident: diskIncident },
      );
      expect(refused).to.deep.equal([403, 403]);
      expect((await served.api<{ state: string }>('alice', 'GET', `/api/v1/incidents/${diskIncident}`)).json).to.have.nested.property('incident.state', 'RESOLVED');
    });
  });

  it('runs a replay audit from the audit page and shows its verdict, which status reports too', async () => {
    await nav(alice, 'Audit').click();
    await alice.getByText('No replay audit recorded yet.').waitFor();
    await alice.getByRole('button', { name: 'Run a replay audit' }).click();
    await alice.waitForURL(/\/audit\?run=audit-/);
    await alice.getByRole('heading', { name: 'Finished' }).waitFor({ timeout: 60_000 });
    const verdict = alice.locator('[data-verdict]');
    await verdict.waitFor();
    expect(await verdict.innerText()).to.equal('IDENTICAL');
    expect(await alice.getByText('No policy drift').count()).to.equal(1);
    await screenshot(alice, 'audit');
    const status = (await served.api<{ audit: { verdict: string; by: string } }>('alice', 'GET', '/api/v1/status')).json;
    expect(status.audit).to.include({ verdict: 'IDENTICAL', by: 'alice' });
  });

  it('shows where a recorded audit diverged and which policies drifted (a report another process recorded), as text', async () => {
    const client = EsdbEventStore.fromConnectionString(store.connectionString);
    try {
      const last = (await lastAudit(client))!;
      await recordAudit(client, {
        ...last,
        runId: 'audit-elsewhere',
        by: 'carol',
        verdict: 'DIVERGENT',
        divergenceCount: 1,
        divergentStreams: 1,
        divergences: [{ streamId: `candidate-${diskCandidate}`, revision: '1', kind: 'different', path: 'data.decision', recorded: '"DEFER"', replayed: '"<img src=x onerror=window.__pwned=5>"', message: 'data.decision differs' }],
        policyDrift: [{ policy: 'standard-promotion@1.0.0', recordedHash: 'a'.repeat(64), currentHash: 'b'.repeat(64), firstCandidateId: diskCandidate, decisions: 2 }],
      });
    } finally {
      await client.close();
    }
    await alice.goto(`${served.url}/audit`);
    await alice.locator('[data-verdict="DIVERGENT"]').waitFor();
    const divergence = alice.locator('table.divergences tbody tr');
    expect(await divergence.locator('td[data-label="Stream, revision"]').innerText()).to.equal(`candidate-${diskCandidate}@1`);
    expect(await divergence.locator('td[data-label="Field"]').innerText()).to.equal('data.decision');
    expect(await divergence.locator('td[data-label="Replayed"]').innerText()).to.equal('"<img src=x onerror=window.__pwned=5>"');
    expect(await alice.locator('table.drift tbody tr').innerText()).to.include('standard-promotion@1.0.0').and.include('a'.repeat(64)).and.include('b'.repeat(64));
    expect(await alice.evaluate(() => ({ pwned: window.__pwned, images: document.querySelectorAll('main img').length }))).to.deep.equal({ pwned: undefined, images: 0 });
    await screenshot(alice, 'audit-divergent');
  });

  it('keeps its state in the URL: a shared link opens the same view, and Back returns', async () => {
    const page = await browser.first.newPage(); // same person, same session
    await page.goto(`${served.url}/incidents?state=RESOLVED`);
    await page.getByRole('heading', { name: 'Incidents: RESOLVED' }).waitFor();
    await page.locator('table.incidents tbody tr').first().waitFor();
    expect(await page.locator('table.incidents tbody tr').count()).to.equal(1);
    await page.getByRole('link', { name: 'DiskFull: disk 85% full' }).click();
    await page.waitForURL(`**/incidents/${diskIncident}`);
    await page.goBack();
    await page.getByRole('heading', { name: 'Incidents: RESOLVED' }).waitFor();
    await page.goto(`${served.url}/candidates/${diskCandidate}`);
    await page.locator('[data-status]').waitFor();
    expect(await page.locator('[data-status]').innerText()).to.equal('PROMOTED');
    await page.close();
  });

  it('is usable from the keyboard alone and reflows at 200% zoom (no sideways scrolling)', async () => {
    const context = await browser.context({ viewport: { width: 640, height: 900 }, deviceScaleFactor: 2 }); // a 1280-pixel window at 200%
    try {
      const page = await context.newPage();
      await signIn(page, PEOPLE.alice);
      // Tab from the top: the skip link first, then the navigation
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).to.equal('Skip to content');
      const tabTo = async (text: string, key: 'Tab' | 'Shift+Tab', limit: number): Promise<void> => {
        let focused = '';
        for (let i = 0; i < limit && focused !== text; i++) {
          await page.keyboard.press(key);
          focused = (await page.evaluate(() => document.activeElement?.textContent)) ?? '';
        }
        expect(focused).to.equal(text);
      };
      // the queue's Promote… button opens the form with the keyboard in it; Escape closes it
      await page.locator('table.queue tbody tr').first().waitFor();
      await tabTo('Promote…', 'Tab', 30);
      await page.keyboard.press('Enter');
      // the form renders, then takes the focus (an effect after the render): wait for it, however loaded the machine
      await page.waitForFunction(() => document.activeElement?.tagName === 'TEXTAREA', undefined, { timeout: 10_000 });
      expect(await page.evaluate(() => document.activeElement?.id)).to.match(/^justification-/);
      await page.keyboard.press('Escape');
      await page.locator('tr.form-row').waitFor({ state: 'detached' });
      await tabTo('Incidents', 'Shift+Tab', 40);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Incidents', level: 1 }).waitFor();
      expect(await page.evaluate(() => document.activeElement?.tagName)).to.equal('H1');
      for (const path of ['/', '/incidents', `/incidents/${encodeURIComponent(diskIncident)}`, '/audit']) {
        await page.goto(`${served.url}${path}`);
        await page.locator('main h1').waitFor();
        await page.waitForLoadState('networkidle');
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, path).to.be.at.most(0);
      }
      await page.goto(`${served.url}/`);
      await page.locator('table.queue tbody tr').first().waitFor();
      await screenshot(page, 'queue-200-percent');
    } finally {
      await context.close();
    }
  });

  it('signs out: the page asks for a token again, and the old session is refused', async () => {
    const cookies = await browser.first.cookies(served.url);
    await alice.goto(`${served.url}/`);
    await alice.getByRole('button', { name: 'Sign out' }).click();
    await alice.getByLabel("Your principal's token").waitFor();
    await alice.reload();
    await alice.getByLabel("Your principal's token").waitFor();
    const old = cookies.find((c) => c.name === 'opx_session')!;
    const answer = await fetch(`${served.url}/api/v1/me`, { headers: { cookie: `${old.name}=${old.value}` } });
    expect(answer.status).to.equal(401);
  });
});
