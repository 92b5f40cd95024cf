/**
 * Careless traps (issue 14, item 7), as an operator meets them: a mistyped data dir is an error
 * (never a new empty store that answers "no incidents" and "IDENTICAL"), a report never overwrites
 * a store or an existing file, new data dirs are private, and nothing recorded reaches the
 * terminal with a control character in it.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { STORE_FILE_NAME, openStore, selectStore } from '../../src/cli/store-selection.js';
import { SQLITE_FILE_NAME } from '../../src/esdb-server/storage/sqlite-engine.js';
import { TOKENS } from '../../src/container/tokens.js';
import { createOpxContainer } from '../../src/container/modules.js';
import { requestManualPromotion } from '../../src/promotion/manual-promotion.js';
import { eventId } from '../../src/shared/ids.js';
import { HOSTILE, UNSAFE } from './support/hostile.js';
import { opx, tempDir, withDataDir, type OpxRun } from './opx-cli.js';

const mode = (path: string): number => statSync(path).mode & 0o777;

const signal = (id: string, service: string, severity: string, fingerprint: string, at: string): string => JSON.stringify({ signalId: id, service, severity, fingerprint, observedAt: at, labels: {} });

describe('opx and careless mistakes', function () {
  this.timeout(60_000);

  describe('a data dir that holds no store', () => {
    const cwd = tempDir('traps');
    const signals = join(cwd, 'signals.jsonl');
    writeFileSync(signals, signal('a-1', 'auth', 'SEV2', 'auth:Latency', '2026-04-01T10:00:00Z') + '\n');

    it('is an error for every command when named with --data (exit 2, naming it and --create), and nothing is created', async () => {
      const missing = join(cwd, 'mistyped-data');
      for (const args of [['incidents', 'list'], ['replay'], ['verify'], ['process'], ['candidates', 'deferred'], ['signals', 'ingest', signals], ['explain', 'cand-x']]) {
        const run = await opx(['--data', missing, ...args], { cwd });
        expect(run.code, `${args.join(' ')}: ${run.stderr}`).to.equal(2);
        expect(run.stderr).to.include(`the data dir ${missing} does not exist`).and.include('--create');
        expect(run.stdout).to.equal('');
        expect(existsSync(missing), args.join(' ')).to.equal(false);
      }
    });

    it('is an error for a dir that exists but holds no store; --create makes the store there, private', async () => {
      const plain = join(cwd, 'plain-dir');
      mkdirSync(plain);
      const refused = await opx(['--data', plain, 'incidents', 'list'], { cwd });
      expect(refused.code).to.equal(2);
      expect(refused.stderr).to.include(`holds no store (no ${STORE_FILE_NAME})`);
      expect(existsSync(join(plain, STORE_FILE_NAME))).to.equal(false);
      const created = await opx(['--data', plain, '--create', 'signals', 'ingest', signals], { cwd });
      expect(created.code, created.stderr).to.equal(0);
      expect(mode(join(plain, STORE_FILE_NAME))).to.equal(0o600);
      expect((await opx(['--data', plain, '--json', 'incidents', 'list'], { cwd })).code).to.equal(0);
    });

    it('without a store flag: commands that only read refuse a missing ./.opx-data; ingesting creates it, 0700 with its store 0600', async () => {
      const fresh = tempDir('default');
      for (const args of [['incidents', 'list'], ['replay'], ['process']]) {
        const run = await opx(args, { cwd: fresh });
        expect(run.code, args.join(' ')).to.equal(2);
        expect(run.stderr).to.include('.opx-data does not exist').and.include('nothing has been recorded here');
      }
      expect(existsSync(join(fresh, '.opx-data'))).to.equal(false);
      const ingest = await opx(['signals', 'ingest', signals], { cwd: fresh });
      expect(ingest.code, ingest.stderr).to.equal(0);
      expect(mode(join(fresh, '.opx-data'))).to.equal(0o700);
      expect(mode(join(fresh, '.opx-data', STORE_FILE_NAME))).to.equal(0o600);
      expect((await opx(['incidents', 'list'], { cwd: fresh })).code).to.equal(0);
    });

    it('opx store init makes one (0700, 0600, the integrity chain started), and leaves an existing one as it is', async () => {
      const dir = join(cwd, 'initialized');
      const init = await opx(['--json', 'store', 'init', dir], { cwd });
      expect(init.code, init.stderr).to.equal(0);
      expect(init.json()).to.include({ created: true, chainStarted: true });
      expect(mode(dir)).to.equal(0o700);
      expect(mode(join(dir, STORE_FILE_NAME))).to.equal(0o600);
      const again = await opx(['--json', 'store', 'init', dir], { cwd });
      expect(again.json()).to.include({ created: false, chainStarted: false });
      const verify = await opx(['--data', dir, '--json', 'verify'], { cwd });
      expect(verify.json<{ verdict: string; chain: { startedAt: string | null } }>().chain.startedAt).to.not.equal(null);
    });

    it('keeps the store files 0600 while a server writes them (the WAL and shared memory take the database file mode), and the lock too', async () => {
      expect(STORE_FILE_NAME).to.equal(SQLITE_FILE_NAME);
      const dir = join(tempDir('modes'), 'data');
      const opened = await openStore(selectStore({ data: dir, create: true }, {}), 'a test');
      try {
        await opened.store.append('signal-x', [{ id: eventId('x'), type: 'SignalFired', data: { x: 1 }, metadata: {} }], 'no_stream');
        expect(mode(dir)).to.equal(0o700);
        for (const file of [STORE_FILE_NAME, `${STORE_FILE_NAME}-wal`, `${STORE_FILE_NAME}-shm`, 'opx.lock']) expect(mode(join(dir, file)), file).to.equal(0o600);
      } finally {
        await opened.close();
      }
    });
  });

  describe('--report', () => {
    const cwd = tempDir('report-trap');
    const data = join(cwd, 'data');
    before(async () => {
      expect((await opx(['store', 'init', data], { cwd })).code).to.equal(0);
      const signals = join(cwd, 'signals.jsonl');
      writeFileSync(signals, signal('e-1', 'edge-proxy', 'SEV1', 'edge:5xx', '2026-04-01T11:00:00Z') + '\n');
      expect((await opx(['--data', data, 'signals', 'ingest', signals], { cwd })).code).to.equal(0);
      expect((await opx(['--data', data, 'process'], { cwd })).code).to.equal(0);
    });

    it('aimed at the store is refused before the audit runs (exit 2), --force or not; the store is untouched and still replays', async () => {
      const store = join(data, STORE_FILE_NAME);
      const before = readFileSync(store);
      for (const force of [[], ['--force']]) {
        const run = await opx(['--data', data, 'replay', '--report', store, ...force], { cwd });
        expect(run.code).to.equal(2);
        expect(run.stderr).to.include('never overwrites a store');
        expect(run.stdout).to.equal('');
      }
      expect(readFileSync(store).equals(before)).to.equal(true);
      const verify = await opx(['--data', data, 'verify', '--report', join(data, 'verify.json')], { cwd });
      expect(verify.code).to.equal(2);
      expect((await opx(['--data', data, 'replay'], { cwd })).code).to.equal(0);
    });

    it('never overwrites an existing file without --force; with it, the report replaces the file', async () => {
      const file = join(cwd, 'audit.json');
      writeFileSync(file, 'yesterday');
      const refused = await opx(['--data', data, 'replay', '--report', file], { cwd });
      expect(refused.code).to.equal(2);
      expect(refused.stderr).to.include('exists: give --force');
      expect(readFileSync(file, 'utf8')).to.equal('yesterday');
      const forced = await opx(['--data', data, 'replay', '--report', file, '--force'], { cwd });
      expect(forced.code, forced.stderr).to.equal(0);
      expect((JSON.parse(readFileSync(file, 'utf8')) as { verdict: string }).verdict).to.equal('IDENTICAL');
      expect(mode(file)).to.equal(0o600);
    });
  });

  describe('control characters in recorded data', () => {
    const cwd = tempDir('escapes');
    const data = join(cwd, 'data');
    const fingerprint = `fp${HOSTILE.bidi}`;
    const operator = `eve${HOSTILE.csi}`;
    const justification = `ok${HOSTILE.newline}${HOSTILE.cr}`;
    const responder = `mallory${HOSTILE.c1csi}`;
    let deferredId: string;
    let deferredQueue: OpxRun;
    let promotedId: string;
    let incidentId: string;

    /** Alertmanager bodies whose every free-text field carries something a terminal would act on. */
    const body = (alerts: object[]): string => JSON.stringify({ version: '4', status: 'firing', receiver: `opx${HOSTILE.osc}`, groupKey: '{}', alerts });
    const alert = (fp: string, severity: string, job: string, at: string): object => ({
      status: 'firing',
      labels: { alertname: `Disk${HOSTILE.osc}`, severity, job, region: HOSTILE.del },
      annotations: { summary: `sum${HOSTILE.newline}`, description: HOSTILE.separator, runbook_url: `https://runbooks/${HOSTILE.csi}` },
      startsAt: at,
      endsAt: '0001-01-01T00:00:00Z',
      fingerprint: fp,
      generatorURL: `https://prometheus/${HOSTILE.c1csi}`,
    });

    const expectSafe = (run: OpxRun, what: string): void => {
      expect(run.code, `${what}: ${run.stderr}`).to.be.oneOf([0, 1]);
      expect(run.stdout, `${what} stdout`).not.to.match(UNSAFE);
      expect(run.stderr, `${what} stderr`).not.to.match(UNSAFE);
    };

    before(async () => {
      expect((await opx(['store', 'init', data], { cwd })).code).to.equal(0);
      const bodies = [
        body([alert(`${fingerprint}-crit`, 'critical', 'checkout', '2026-04-01T13:00:00Z')]),
        body([alert(fingerprint, 'error', 'auth', '2026-04-01T10:00:00Z'), alert(fingerprint, 'error', 'auth', '2026-04-01T10:00:30Z')]),
        body([{ ...alert('bad', 'critical', `svc${HOSTILE.osc}`, '2026-04-01T10:00:00Z') }]),
      ].join('\n');
      const ingest = await opx(['--data', data, 'signals', 'ingest', '-'], { cwd, stdin: bodies });
      expect(ingest.code).to.equal(2); // the alert with a bad service label is rejected alone, quoted in the output
      expectSafe({ ...ingest, code: 0 }, 'signals ingest');
      expect(ingest.stdout).to.include('svctitle\\x1b]0;pwned\\x07end');
      expect((await opx(['--data', data, 'process'], { cwd })).code).to.equal(0);
      const deferred = (await opx(['--data', data, '--json', 'candidates', 'deferred'], { cwd })).json<{ deferred: Array<{ candidateId: string }> }>().deferred;
      expect(deferred).to.have.length(1);
      deferredId = (deferred[0] as { candidateId: string }).candidateId;
      deferredQueue = await opx(['--data', data, 'candidates', 'deferred'], { cwd }); // before a human promotes it
      // Human acts recorded as a principal would record them: names and justifications are free text.
      await withDataDir(data, async (store) => {
        const container = createOpxContainer();
        container.rebind(TOKENS.EventStore).toConstantValue(store);
        await requestManualPromotion(store, container.get(TOKENS.CandidateStore), container.get(TOKENS.Config).authorityMatrix, {
          candidateId: deferredId,
          operator,
          justification,
          requestedAt: '2026-04-01T10:20:00.000Z',
        });
      });
      expect((await opx(['--data', data, 'process'], { cwd })).code).to.equal(0);
      const incidents = (await opx(['--data', data, '--json', 'incidents', 'list'], { cwd })).json<{ incidents: Array<{ incidentId: string; candidateId: string }> }>().incidents;
      expect(incidents).to.have.length(2);
      incidentId = (incidents[0] as { incidentId: string }).incidentId;
      promotedId = (incidents.find((i) => i.candidateId !== deferredId) as { candidateId: string }).candidateId;
      await withDataDir(data, async (store) => {
        const container = createOpxContainer();
        container.rebind(TOKENS.EventStore).toConstantValue(store);
        await container.get(TOKENS.IncidentManager).transition(incidentId, {
          action: 'ACKNOWLEDGE_INCIDENT',
          at: '2026-04-01T13:05:00.000Z',
          authority: { authorityType: 'ON_CALL_RESPONDER', authorityId: responder, sessionId: 's-1', justification: HOSTILE.osc },
        });
      });
    });

    it('incidents list, candidates deferred and candidates show print every recorded string escaped', async () => {
      const list = await opx(['--data', data, 'incidents', 'list'], { cwd });
      expectSafe(list, 'incidents list');
      expect(list.stdout).to.include('Disktitle\\x1b]0;pwned\\x07end: sumone\\nforged line');
      const show = await opx(['--data', data, 'candidates', 'show', deferredId], { cwd });
      expectSafe(show, 'candidates show');
      expect(show.stdout).to.include('evered\\x1b[31mtext\\x1b[0m').and.include('okone\\nforged linereal\\roverwritten');
      expectSafe(deferredQueue, 'candidates deferred');
      expect(deferredQueue.stdout).to.include(deferredId).and.include('Disktitle\\x1b]0;pwned\\x07end: sumone\\nforged line');
    });

    it('explain by candidate, by incident and by fingerprint prints every recorded string escaped', async () => {
      const byCandidate = await opx(['--data', data, 'explain', deferredId], { cwd });
      expectSafe(byCandidate, 'explain candidate');
      expect(byCandidate.stdout).to.include('evered\\x1b[31mtext').and.include('https://runbooks/red\\x1b[31mtext').and.include('https://prometheus/c1\\x9b2Jcleared');
      const byIncident = await opx(['--data', data, 'explain', incidentId], { cwd });
      expectSafe(byIncident, 'explain incident');
      expect(byIncident.stdout).to.include('malloryc1\\x9b2Jcleared');
      const byFingerprint = await opx(['--data', data, 'explain', fingerprint], { cwd });
      expectSafe(byFingerprint, 'explain fingerprint');
      expect(byFingerprint.stdout).to.include('Disktitle\\x1b]0;pwned');
      const promoted = await opx(['--data', data, 'explain', promotedId], { cwd });
      expectSafe(promoted, 'explain promoted');
    });

    it('errors quoting what was typed, --json output, replay and verify are escaped too', async () => {
      const unknown = await opx(['--data', data, 'explain', `cand-${HOSTILE.osc}`], { cwd });
      expect(unknown.code).to.equal(2);
      expectSafe({ ...unknown, code: 0 }, 'an error');
      const json = await opx(['--data', data, '--json', 'explain', deferredId], { cwd });
      expectSafe(json, 'explain --json');
      expect(JSON.stringify(json.json())).to.include(operator.replaceAll('\u001b', '\\u001b'));
      expectSafe(await opx(['--data', data, 'replay'], { cwd }), 'replay');
      expectSafe(await opx(['--data', data, 'verify'], { cwd }), 'verify');
    });
  });
});
