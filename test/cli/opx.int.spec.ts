/**
 * `opx` driven as an operator drives it: spawned processes against real stores (a temp data dir
 * served in-process by the CLI, or the embedded server started here and passed with
 * --connection), asserting output and exit codes. Never on timings.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { DEFAULT_CONFIG_DIR } from '../../src/container/config.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import type { EventStore } from '../../src/eventstore/event-store.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';
import { LIVE_PROJECTION_STREAM, loadLiveCheckpoint, writeSnapshot } from '../../src/projections/live-projection.js';
import { recordAudit, type AuditSummary } from '../../src/operators/audit-record.js';
import { importHistory, type HistoryLine } from '../../src/replay/history-file.js';
import type { ReplayReport } from '../../src/replay/replay-audit.js';
import type { WhatIfReport } from '../../src/replay/what-if.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { goldenHistoryLines } from '../support/golden.js';
import { opx, tempDir, withDataDir } from './opx-cli.js';

const parse = (line: string): HistoryLine => JSON.parse(line) as HistoryLine;

/** A replay audit's summary as opx serve records it: diverged once, one policy drifted. */
const divergentAudit: AuditSummary = {
  runId: 'audit-1',
  verdict: 'DIVERGENT',
  startedAt: '2026-04-01T12:00:00.000Z',
  finishedAt: '2026-04-01T12:01:00.000Z',
  by: 'alice',
  eventsRead: 40,
  eventsCompared: 30,
  streamsChecked: 4,
  divergentStreams: 1,
  divergenceCount: 1,
  divergences: [{ streamId: 'candidate-cand-x', revision: '2', kind: 'content', path: '/decision', recorded: '"PROMOTE"', replayed: '"DEFER"', message: 'the replayed decision differs' }],
  policyDrift: [{ policy: 'standard-promotion@1.0.0', recordedHash: 'a'.repeat(64), currentHash: 'b'.repeat(64), firstCandidateId: 'cand-x', decisions: 2 }],
  correlation: { verdict: 'IDENTICAL', inputs: 9, eventsCompared: 9, divergenceCount: 0, divergences: [] },
  integrity: { verdict: 'TAMPERED', findingCount: 1, findings: [{ kind: 'changed', streamId: 'incident-inc-y', revision: '0', fields: ['data.severity'] }] },
};

/** Four candidates whose fate the bundled rules and policies make plain. */
class SignalFixtures {
  static readonly line = (s: object): string => JSON.stringify(s);
  static signal(id: string, service: string, severity: string, fingerprint: string, at: string, labels: Record<string, string> = {}): string {
    return this.line({ signalId: id, service, severity, fingerprint, observedAt: at, labels });
  }
  /** auth SEV2 x2 -> standard-promotion sev2-small-defer: DEFER. */
  static get deferred(): string[] {
    return [this.signal('a-1', 'auth', 'SEV2', 'auth:LatencyP99', '2026-04-01T10:00:00Z'), this.signal('a-2', 'auth', 'SEV2', 'auth:LatencyP99', '2026-04-01T10:00:30Z')];
  }
  /** edge-proxy SEV1 x2 -> sev1-promote: PROMOTE. */
  static get promoted(): string[] {
    return [this.signal('e-1', 'edge-proxy', 'SEV1', 'edge:5xx', '2026-04-01T11:00:00Z'), this.signal('e-2', 'edge-proxy', 'SEV1', 'edge:5xx', '2026-04-01T11:00:10Z')];
  }
  /** batch-reports SEV4 x3 -> info-noise rule, noise-suppress: SUPPRESS. */
  static get suppressed(): string[] {
    return [1, 2, 3].map((i) => this.signal(`b-${i}`, 'batch-reports', 'SEV4', `batch:job${i}`, `2026-04-01T12:00:0${i}Z`, { alertname: 'JobSlow' }));
  }
  /** Alertmanager: checkout critical x2 -> payments-any-critical, payments-promotion: PROMOTE. */
  static get alertmanager(): string {
    const alert = (fp: string, at: string) => ({ status: 'firing', labels: { alertname: 'CheckoutDown', severity: 'critical', job: 'checkout' }, annotations: {}, startsAt: at, endsAt: '0001-01-01T00:00:00Z', fingerprint: fp, generatorURL: '' });
    return this.line({ version: '4', status: 'firing', receiver: 'opx', groupKey: '{}', alerts: [alert('f00d01', '2026-04-01T13:00:00.123456789Z'), alert('f00d02', '2026-04-01T13:01:00Z')] });
  }
  static get all(): string {
    return [...this.deferred, ...this.promoted, ...this.suppressed, this.alertmanager].join('\n') + '\n';
  }
}

describe('opx (the operator CLI)', function () {
  // one test runs up to eight CLI processes, each starting an embedded server: seconds apiece on a loaded 2-core machine
  this.timeout(120_000);

  describe('help and usage', () => {
    const cwd = tempDir('help');

    it('documents every command and the exit codes in opx --help, exit 0', async () => {
      const run = await opx(['--help'], { cwd });
      expect(run.code).to.equal(0);
      for (const command of ['store', 'signals', 'candidates', 'process', 'incidents', 'explain', 'replay', 'projections', 'demo']) expect(run.stdout).to.match(new RegExp(`^  ${command}\\b`, 'm'));
      expect(run.stdout).to.include('Exit codes:').and.include('3  event store unavailable');
    });

    it('refuses contradictory store flags and unknown options with exit 2', async () => {
      const both = await opx(['--memory', '--data', 'x', 'incidents', 'list'], { cwd });
      expect(both.code).to.equal(2);
      expect(both.stderr).to.include('--data and --memory');
      const unknown = await opx(['incidents', 'list', '--bogus'], { cwd });
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.include("unknown option '--bogus'");
    });

    it('exits 3 naming the store when --connection cannot be reached', async () => {
      const run = await opx(['--connection', 'esdb://127.0.0.1:1?tls=false', 'incidents', 'list'], { cwd });
      expect(run.code).to.equal(3);
      expect(run.stderr).to.include('esdb://127.0.0.1:1').and.include('unavailable');
    });

    it('exits 3 when the data dir is owned by another live process', async () => {
      const dir = tempDir('locked');
      writeFileSync(join(dir, 'opx.lock'), JSON.stringify({ pid: process.pid, purpose: 'a test' }));
      const run = await opx(['--data', dir, 'incidents', 'list'], { cwd });
      expect(run.code).to.equal(3);
      expect(run.stderr).to.include(`in use by process ${process.pid}`);
    });
  });

  describe('the operator flow on the embedded default store (./.opx-data)', () => {
    const cwd = tempDir('flow');
    const file = join(cwd, 'signals.jsonl');
    writeFileSync(file, SignalFixtures.all);
    let deferredId: string;
    let promotedIncident: string;
    const principals = join(cwd, 'principals.json');
    const tokens: Record<string, string> = {};
    /** A human act, as `name` (a principal of the flow's principals file, proven by its token). */
    const as = (name: string, args: readonly string[]) => opx([...args, '--token', tokens[name] ?? 'none'], { cwd, env: { OPX_PRINCIPALS: principals } });

    before(async () => {
      for (const [name, role] of [['alice', 'HUMAN_OPERATOR'], ['carol', 'HUMAN_OPERATOR'], ['bob', 'ON_CALL_RESPONDER']] as const) {
        const added = await opx(['--json', 'principals', 'add', name, '--role', role, '--file', principals], { cwd });
        expect(added.code, added.stderr).to.equal(0);
        tokens[name] = added.json<{ token: string }>().token;
      }
      expect(readFileSync(principals, 'utf8')).to.not.include(tokens['alice']);
    });

    it('rejects each bad line alone, by line number (exit 2), and records the good ones', async () => {
      const bad = join(cwd, 'bad.jsonl');
      writeFileSync(bad, [SignalFixtures.deferred[0], '{not json', SignalFixtures.line({ signalId: 'x', service: 'auth', severity: 'SEV9', fingerprint: 'f', observedAt: '2026-04-01T10:00:00Z' }), SignalFixtures.deferred[1]].join('\n'));
      const run = await opx(['--json', 'signals', 'ingest', bad], { cwd });
      expect(run.code).to.equal(2);
      const report = run.json<{ counts: Record<string, number>; rejected: Array<{ location: string; problems: string[] }> }>();
      expect(report.counts).to.deep.equal({ accepted: 2, duplicate: 0, ignored: 0, rejected: 2 });
      expect(report.rejected.map((r) => r.location)).to.deep.equal(['line 2', 'line 3']);
      expect(report.rejected[0]?.problems.join()).to.include('not valid JSON');
      expect(report.rejected[1]?.problems.join()).to.include('severity must be one of SEV1, SEV2, SEV3, SEV4');
      const human = await opx(['signals', 'ingest', bad], { cwd });
      expect(human.stdout).to.include('line 2: not valid JSON').and.match(/rejected\s+2/).and.match(/already recorded\s+2/);
    });

    it('reads stdin with -, records each signal once, and reports a repeat as already recorded', async () => {
      const first = await opx(['--json', 'signals', 'ingest', '-'], { cwd, stdin: SignalFixtures.all });
      expect(first.code, first.stderr).to.equal(0);
      const report = first.json<{ inputs: number; alertmanagerPayloads: number; counts: Record<string, number> }>();
      expect(report).to.deep.include({ inputs: 9, alertmanagerPayloads: 1, counts: { accepted: 7, duplicate: 2, ignored: 0, rejected: 0 } });
      const again = await opx(['signals', 'ingest', file], { cwd });
      expect(again.code).to.equal(0);
      expect(again.stdout).to.match(/recorded new\s+0/).and.match(/already recorded\s+9/);
    });

    it('process decides them: one deferred, two incidents', async () => {
      const run = await opx(['--json', 'process'], { cwd });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.json()).to.include({ handled: 4, incidents: 2, deferred: 1 });
      expect(run.json<{ correlation: object }>().correlation).to.deep.equal({ inputs: 9, late: 0, uncorrelated: 0, candidatesOpened: 4, poison: 0 });
      const deferred = await opx(['--json', 'candidates', 'deferred'], { cwd });
      const rows = deferred.json<{ deferred: Array<{ candidateId: string; service: string; severity: string }> }>().deferred;
      expect(rows.map((r) => [r.service, r.severity])).to.deep.equal([['auth', 'SEV2']]);
      deferredId = (rows[0] as { candidateId: string }).candidateId;
      const services = (await opx(['--json', 'incidents', 'list'], { cwd })).json<{ incidents: Array<{ service: string; severity: string }> }>().incidents.map((i) => `${i.service}/${i.severity}`);
      expect(services).to.deep.equal(['edge-proxy/SEV1', 'checkout/SEV1']);
    });

    it('answers "is it done?" without a replay (status), and lists candidates by decision and policy', async () => {
      const status = (await opx(['--json', 'status'], { cwd })).json<{ correlation: { signalsNotCorrelated: number }; decisions: object; incidents: object; deferred: number }>();
      expect(status.correlation.signalsNotCorrelated).to.equal(0);
      expect(status).to.deep.include({ decisions: { awaitingDecision: 0, promotionRequestsPending: 0 }, incidents: { OPEN: 2 }, deferred: 1 });
      const human = await opx(['status'], { cwd });
      expect(human.stdout).to.include('done: nothing is waiting').and.include('last audit    none recorded');
      const deferredOnly = (await opx(['--json', 'candidates', 'list', '--decision', 'DEFER'], { cwd })).json<{ candidates: Array<{ candidateId: string; policy: string }> }>();
      expect(deferredOnly.candidates.map((c) => c.candidateId)).to.deep.equal([deferredId]);
      const byPolicy = (await opx(['--json', 'candidates', 'list', '--policy', 'standard-promotion@1.0.0', '--since', '2026-04-01T11:30:00Z'], { cwd })).json<{ matched: number }>();
      expect(byPolicy.matched).to.equal(2);
      expect((await opx(['--json', 'parked', 'list'], { cwd })).json<{ parked: unknown[] }>().parked).to.deep.equal([]);
      const replay = await opx(['parked', 'replay', '--dry-run'], { cwd });
      expect(replay.code).to.equal(1);
      expect(replay.stderr).to.include('--token');
      expect((await as('alice', ['--json', 'parked', 'replay', '--dry-run'])).json()).to.deep.include({ replayed: 0, parked: 0, dryRun: true });
    });

    it("shows in status the last replay audit opx serve recorded: verdict, when, by whom, where it diverged, the drifted policies", async () => {
      await withDataDir(join(cwd, '.opx-data'), (store) => recordAudit(store, divergentAudit));
      const audited = await opx(['status'], { cwd });
      expect(audited.stdout).to.include('last audit    DIVERGENT at 2026-04-01T12:01:00.000Z by alice, 1 divergence (first: candidate-cand-x revision 2), policy drift: standard-promotion@1.0.0, integrity TAMPERED (first: changed incident-inc-y revision 0)');
      expect((await opx(['--json', 'status'], { cwd })).json<{ lastAudit: unknown }>().lastAudit).to.deep.equal(divergentAudit);
    });

    it('refuses a promotion the authority matrix does not allow, or of a candidate that is not deferred (exit 1)', async () => {
      const responder = await as('bob', ['candidates', 'promote', deferredId, '--justification', 'sure']);
      expect(responder.code).to.equal(1);
      expect(responder.stderr).to.include('may not MANUAL_PROMOTE');
      const incidents = (await opx(['--json', 'incidents', 'list'], { cwd })).json<{ incidents: Array<{ candidateId: string }> }>().incidents;
      const notDeferred = await as('alice', ['candidates', 'promote', (incidents[0] as { candidateId: string }).candidateId, '--justification', 'x']);
      expect(notDeferred.code).to.equal(1);
      expect(notDeferred.stderr).to.include('its decision was PROMOTE, not DEFER');
      const unknown = await as('alice', ['candidates', 'promote', 'cand-nope', '--justification', 'x']);
      expect(unknown.code).to.equal(2);
      const missing = await as('alice', ['candidates', 'promote', deferredId]);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.include("required option '--justification <text>'");
    });

    it('records no human act it did not authenticate: no token, or a token no principal holds, is refused (exit 1) and nothing is written', async () => {
      const before = (await opx(['--json', 'candidates', 'show', deferredId], { cwd })).json<{ revision: string }>().revision;
      const anonymous = await opx(['candidates', 'promote', deferredId, '--justification', 'trust me'], { cwd, env: { OPX_PRINCIPALS: principals } });
      expect(anonymous.code).to.equal(1);
      expect(anonymous.stderr).to.include('--token').and.include('nothing was recorded');
      const forged = await opx(['candidates', 'promote', deferredId, '--justification', 'trust me', '--token', 'opx_forged-token-of-nobody'], { cwd, env: { OPX_PRINCIPALS: principals } });
      expect(forged.code).to.equal(1);
      expect(forged.stderr).to.include('not one of');
      expect((await opx(['--json', 'candidates', 'show', deferredId], { cwd })).json<{ revision: string }>().revision).to.equal(before);
    });

    it('records a human promotion, which process turns into an incident', async () => {
      const request = await as('alice', ['--json', 'candidates', 'promote', deferredId, '--justification', 'customer impact confirmed']);
      expect(request.code, request.stderr).to.equal(0);
      expect(request.json()).to.include({ candidateId: deferredId, status: 'REQUESTED', role: 'HUMAN_OPERATOR', by: 'alice' });
      const shown = (await opx(['--json', 'candidates', 'show', deferredId], { cwd })).json<{ manualRequests: Array<{ authority: { authorityId: string } }> }>();
      expect(shown.manualRequests.map((r) => r.authority.authorityId)).to.deep.equal(['alice']);
      const pending = await as('carol', ['candidates', 'promote', deferredId, '--justification', 'me too']);
      expect(pending.code).to.equal(1);
      expect(pending.stderr).to.include('already pending');
      const processed = await opx(['--json', 'process'], { cwd });
      expect(processed.json()).to.include({ handled: 1, incidents: 3, deferred: 0 });
    });

    it('explains the chain: signals -> candidate -> decisions (policy, hash, rule, authority) -> incident, and the attempt log', async () => {
      const run = await opx(['--json', 'explain', deferredId], { cwd });
      expect(run.code, run.stderr).to.equal(0);
      const view = run.json<{
        signals: { ids: string[] };
        candidate: { status: string };
        decisions: Array<{ decision: string; policy: string; policyHash: string; policyNow: string; matchedRule: string; authority: { authorityType: string; authorityId: string } }>;
        incidents: Array<{ incidentId: string; state: string }>;
        attempts: Array<{ status: string }>;
      }>();
      expect(view.signals.ids).to.deep.equal(['a-1', 'a-2']);
      expect(view.candidate.status).to.equal('PROMOTED');
      expect(view.decisions.map((d) => [d.decision, d.policy, d.matchedRule, d.authority.authorityType, d.authority.authorityId, d.policyNow])).to.deep.equal([
        ['DEFER', 'standard-promotion@1.0.0', 'sev2-small-defer', 'AUTO_ENGINE', 'opx-candidate-processor', 'unchanged'],
        ['PROMOTE', 'standard-promotion@1.0.0', 'manual-promotion', 'HUMAN_OPERATOR', 'alice', 'unchanged'],
      ]);
      expect(view.decisions[0]?.policyHash).to.match(/^[0-9a-f]{64}$/);
      expect(view.incidents).to.have.length(1);
      expect(view.attempts.map((a) => a.status)).to.deep.equal(['success', 'success']);
      promotedIncident = (view.incidents[0] as { incidentId: string }).incidentId;
      const human = await opx(['explain', deferredId], { cwd });
      expect(human.stdout).to.include('-> candidate').and.include('rule sev2-small-defer').and.include(`-> incident ${promotedIncident}`).and.include('2 firing recorded on it');
      const byIncident = await opx(['--json', 'explain', promotedIncident], { cwd });
      expect(byIncident.json<{ candidate: { candidateId: string } }>().candidate.candidateId).to.equal(deferredId);
      const alert = await opx(['--json', 'explain', 'auth:LatencyP99'], { cwd });
      expect(alert.json<{ facts: Array<{ rule: string; correlated: { outcome: string } }> }>().facts.map((f) => [f.rule, f.correlated.outcome])).to.deep.equal([
        ['service-fingerprint-burst@1.0.0', 'counted'],
        ['service-fingerprint-burst@1.0.0', 'opened'],
      ]);
    });

    it('moves an incident through its lifecycle, refusing illegal transitions and roles (exit 1)', async () => {
      const early = await as('alice', ['incidents', 'close', promotedIncident]);
      expect(early.code).to.equal(1);
      expect(early.stderr).to.include('is OPEN; CLOSE_INCIDENT is only allowed from RESOLVED');
      for (const verb of ['ack', 'mitigate', 'resolve']) {
        const run = await as('bob', ['incidents', verb, promotedIncident]);
        expect(run.code, run.stderr).to.equal(0);
      }
      const responderClose = await as('bob', ['incidents', 'close', promotedIncident]);
      expect(responderClose.code).to.equal(1);
      expect(responderClose.stderr).to.include('does not grant CLOSE_INCIDENT to ON_CALL_RESPONDER');
      const resolved = await opx(['--json', 'incidents', 'list', '--state', 'RESOLVED'], { cwd });
      expect(resolved.json<{ incidents: Array<{ incidentId: string }> }>().incidents.map((i) => i.incidentId)).to.deep.equal([promotedIncident]);
      expect((await as('bob', ['incidents', 'ack', 'inc-nope'])).code).to.equal(2);
    });

    it('rebuilds the read models byte-identical to the live projection (caught up from its checkpoint)', async () => {
      const run = await opx(['--json', 'projections', 'rebuild'], { cwd });
      expect(run.code, run.stderr).to.equal(0);
      const report = run.json<{ verdict: string; live: { eventsAfterCheckpoint: number }; readModels: { incidents: number } }>();
      expect(report.verdict).to.equal('IDENTICAL');
      expect(report.live.eventsAfterCheckpoint).to.equal(3); // the three lifecycle transitions since `process`
      expect(report.readModels.incidents).to.equal(3);
    });

    it('detects a live projection that disagrees with history (exit 1), and --replace repairs it', async () => {
      await withDataDir(join(cwd, '.opx-data'), async (store) => {
        const live = await loadLiveCheckpoint(store);
        if (live === undefined) throw new Error('no live projection');
        const row = live.models.incidents[promotedIncident] as { incidentId: string } | undefined;
        if (row === undefined) throw new Error(`no read-model row for ${promotedIncident}`);
        const doctored = { ...live.models, incidents: { ...live.models.incidents, [row.incidentId]: { ...row, state: 'CLOSED' } } };
        expect(await writeSnapshot(store, { ...live, models: doctored as typeof live.models }, live.revision)).to.equal('written');
      });
      // Readers check, not trust: the list shows what the incident stream says, and says the read model disagreed.
      const listed = await opx(['--json', 'incidents', 'list'], { cwd });
      const shown = listed.json<{ incidents: Array<{ state: string }>; mismatches: Array<{ field: string; readModel: string }> }>();
      expect(shown.incidents.map((i) => i.state)).to.not.include('CLOSED');
      expect(shown.mismatches).to.deep.include({ id: promotedIncident, field: 'state', readModel: 'CLOSED', stream: 'RESOLVED' });
      expect((await opx(['incidents', 'list'], { cwd })).stderr).to.include('disagree with the streams').and.include('"CLOSED"');
      const run = await opx(['--json', 'projections', 'rebuild'], { cwd });
      expect(run.code).to.equal(1);
      const report = run.json<{ verdict: string; firstDifference: { path: string; live: unknown }; written: string }>();
      expect(report.verdict).to.equal('DIFFERENT');
      expect(report.firstDifference.path).to.match(/^incidents\.inc-[0-9a-f]+\.state$/);
      expect(report.firstDifference.live).to.equal('CLOSED');
      expect(report.written).to.equal('nothing');
      expect((await opx(['projections', 'rebuild', '--replace'], { cwd })).code).to.equal(1);
      expect((await opx(['projections', 'rebuild'], { cwd })).code).to.equal(0);
    });

    it('replays its own history as IDENTICAL', async () => {
      const run = await opx(['replay'], { cwd });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include('replay audit: IDENTICAL').and.include('streams checked  7 (7 identical, 0 divergent)');
    });
  });

  describe('replay of the golden history, through the official client (--connection)', () => {
    const golden = goldenHistoryLines();
    const cwd = tempDir('golden');
    let server: EmbeddedServer;
    let store: EventStore;
    const connection = (): string[] => ['--connection', server.connectionString];

    before(async () => {
      server = await startEmbeddedServer();
      store = EsdbEventStore.fromConnectionString(server.connectionString);
      await importHistory(store, golden);
    });
    after(async () => {
      await store.close();
      await server.close();
    });

    const countEvents = async (): Promise<number> => {
      let n = 0;
      for await (const _ of store.readAll()) n++;
      return n;
    };

    it('is IDENTICAL, exit 0, and writes the report file', async () => {
      const reportFile = join(cwd, 'report.json');
      const run = await opx([...connection(), 'replay', '--report', reportFile], { cwd });
      expect(run.code, run.stderr).to.equal(0);
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ReplayReport;
      expect(report).to.include({ verdict: 'IDENTICAL', divergenceCount: 0, divergentStreams: 0, eventsRead: golden.length });
      expect(report.identicalStreams).to.equal(report.streamsChecked);
      expect(run.stdout).to.include(`streams checked  ${report.streamsChecked} (${report.streamsChecked} identical, 0 divergent)`).and.include('policy drift: none');
    });

    it('reports drift of a policy whose content changed under the same version (exit 1)', async () => {
      const config = tempDir('drifted-config');
      cpSync(DEFAULT_CONFIG_DIR, config, { recursive: true });
      const path = join(config, 'policies', 'standard-promotion@1.0.0.json');
      const policy = JSON.parse(readFileSync(path, 'utf8')) as { rules: Array<{ name: string; decision: string }> };
      for (const rule of policy.rules) if (rule.name === 'sev4-suppress') rule.decision = 'DEFER';
      writeFileSync(path, JSON.stringify(policy, null, 2));
      const run = await opx([...connection(), '--json', 'replay'], { cwd, env: { OPX_CONFIG_DIR: config } });
      expect(run.code).to.equal(1);
      const report = run.json<ReplayReport>();
      const drift = report.policyDrift.find((d) => d.policy === 'standard-promotion@1.0.0');
      expect(drift, JSON.stringify(report.policyDrift)).to.not.equal(undefined);
      expect(drift?.currentHash).to.match(/^[0-9a-f]{64}$/).and.not.equal(drift?.recordedHash);
      expect(report.policyDrift.map((d) => d.policy)).to.not.include('payments-promotion@2.0.0');
      const human = await opx([...connection(), 'replay'], { cwd, env: { OPX_CONFIG_DIR: config } });
      expect(human.stdout).to.include('policy drift (').and.include('standard-promotion@1.0.0: recorded sha256');
    });

    it('what-if standard-promotion@1.1.0: re-decides without writing, with consistent counts and the changes the rules imply', async () => {
      const before = await countEvents();
      const run = await opx([...connection(), '--json', 'replay', '--policy', 'standard-promotion@1.1.0'], { cwd });
      expect(run.code, run.stderr).to.equal(0);
      expect(await countEvents()).to.equal(before);
      const report = run.json<WhatIfReport>();
      expect(report.policy).to.equal('standard-promotion@1.1.0');
      expect(report.changed).to.equal(Object.values(report.transitions).reduce((a, b) => a + b, 0));
      expect(report.changed + report.unchanged).to.equal(report.candidatesEvaluated);
      expect(report.changes).to.have.length(report.changed);

      const lines = golden.map(parse);
      const created = lines.filter((e) => e.type === 'CandidateCreated');
      const standard = created.filter((e) => (e.metadata as { candidate: { policyId: string } }).candidate.policyId === 'standard-promotion');
      expect(report.candidatesEvaluated).to.equal(standard.length);
      const facts = (e: HistoryLine) => e.data as { candidateId: string; severity: string; service: string; signalCount: number };
      const noisy = ['batch-reports', 'log-shipper'];
      const changeOf = new Map(report.changes.map((c) => [c.candidateId, `${c.recorded.decision}->${c.whatIf.decision}`]));
      // SEV1 is promoted first by both versions: never changes.
      for (const e of standard.filter((e) => facts(e).severity === 'SEV1')) expect(changeOf.has(facts(e).candidateId)).to.equal(false);
      // SEV3 with fewer than 4 signals on an ordinary service: 1.0.0 defers (no rule), 1.1.0 suppresses (sev3-suppress).
      const sev3 = standard.map(facts).filter((c) => c.severity === 'SEV3' && c.signalCount < 4 && !noisy.includes(c.service));
      expect(sev3.length).to.be.greaterThan(0);
      for (const c of sev3) expect(changeOf.get(c.candidateId), c.candidateId).to.equal('DEFER->SUPPRESS');
      // SEV2 bursts of 3-4 signals: 1.0.0 promotes (>= 3), 1.1.0 needs 5 and falls to its default, DEFER.
      const sev2 = standard.map(facts).filter((c) => c.severity === 'SEV2' && c.signalCount >= 3 && c.signalCount < 5 && !noisy.includes(c.service));
      expect(sev2.length).to.be.greaterThan(0);
      for (const c of sev2) expect(changeOf.get(c.candidateId), c.candidateId).to.equal('PROMOTE->DEFER');
      expect(report.transitions['DEFER->SUPPRESS']).to.be.at.least(sev3.length);
      expect(report.transitions['PROMOTE->DEFER']).to.be.at.least(sev2.length);
    });

    it('what-if refuses an unknown policy version (exit 2), naming the known ones', async () => {
      const run = await opx([...connection(), 'replay', '--policy', 'standard-promotion@9.9.9'], { cwd });
      expect(run.code).to.equal(2);
      expect(run.stderr).to.include('known versions of standard-promotion: 1.0.0, 1.1.0');
    });

    it('projections rebuild: the first run makes the live projection, the next finds it byte-identical', async () => {
      const first = await opx([...connection(), '--json', 'projections', 'rebuild'], { cwd });
      expect(first.code, first.stderr).to.equal(0);
      expect(first.json()).to.include({ verdict: 'NO_LIVE_PROJECTION', written: 'written' });
      const second = await opx([...connection(), '--json', 'projections', 'rebuild'], { cwd });
      expect(second.json()).to.include({ verdict: 'IDENTICAL', written: 'nothing' });
      let snapshots = 0;
      for await (const _ of store.readStream(LIVE_PROJECTION_STREAM)) snapshots++;
      expect(snapshots).to.equal(1);
    });
  });

  describe('a poison event (a malformed CandidateCreated appended by another client)', () => {
    it('blinds nothing: process decides the rest and names it (exit 1); lists, the deferred queue and a rebuild still answer', async () => {
      const cwd = tempDir('poison');
      const data = join(cwd, 'data');
      await withDataDir(data, (store) => store.append('candidate-cand-poison0000000000000000000', [{ id: '6f1d2a6c-0000-4000-8000-0000000000aa', type: 'CandidateCreated', data: { severity: 'SEV1' }, metadata: {} }], 'no_stream'));
      const file = join(cwd, 'signals.jsonl');
      writeFileSync(file, SignalFixtures.promoted.join('\n'));
      expect((await opx(['--data', data, 'signals', 'ingest', file], { cwd })).code).to.equal(0);

      const processed = await opx(['--data', data, '--json', 'process'], { cwd });
      expect(processed.code).to.equal(1);
      const report = processed.json<{ handled: number; failed: Array<{ streamId: string; revision: string }>; incidents: number }>();
      expect(report.failed.map((f) => [f.streamId, f.revision])).to.deep.equal([['candidate-cand-poison0000000000000000000', '0']]);
      expect(report.incidents).to.equal(1);
      for (const args of [['incidents', 'list'], ['candidates', 'deferred'], ['projections', 'rebuild']]) {
        const run = await opx(['--data', data, ...args], { cwd });
        expect(run.code, `${args.join(' ')}: ${run.stderr}`).to.equal(0);
      }
    });
  });

  describe('a tampered history (embedded data dir)', () => {
    it('pinpoints the tampered event: stream, revision, field path, recorded vs replayed; exit 1', async () => {
      const cwd = tempDir('tampered');
      const lines = goldenHistoryLines().map(parse);
      const index = lines.findIndex((e) => e.type === 'PromotionDecided' && (e.data as { decision: string }).decision === 'SUPPRESS');
      const original = lines[index] as HistoryLine;
      lines[index] = { ...original, data: { ...original.data, decision: 'DEFER' } };
      await withDataDir(join(cwd, 'data'), (store) => importHistory(store, lines.map((e) => canonicalJson(e))));
      const run = await opx(['--data', join(cwd, 'data'), '--json', 'replay'], { cwd });
      expect(run.code).to.equal(1);
      const report = run.json<ReplayReport>();
      expect(report.verdict).to.equal('DIVERGENT');
      expect(report.divergentStreams).to.equal(1);
      expect(report.divergences[0]).to.include({ streamId: original.streamId, revision: '1', kind: 'different', path: 'data.decision', recorded: 'DEFER', replayed: 'SUPPRESS' });
      const human = await opx(['--data', join(cwd, 'data'), 'replay'], { cwd });
      expect(human.code).to.equal(1);
      expect(human.stdout).to.include(`first divergence: ${original.streamId} revision 1`).and.include('field     data.decision').and.include('recorded  "DEFER"').and.include('replayed  "SUPPRESS"');
    });
  });

  describe('replay in its bounded worker thread (embedded data dir)', () => {
    const cwd = tempDir('heap');
    const data = join(cwd, 'data');
    before(() => withDataDir(data, (store) => importHistory(store, goldenHistoryLines())));

    it('refuses a data dir another live process owns (exit 3), as every command does', async () => {
      const locked = tempDir('replay-locked');
      writeFileSync(join(locked, 'opx.lock'), JSON.stringify({ pid: process.pid, purpose: 'a test' }));
      const run = await opx(['--data', locked, 'replay'], { cwd });
      expect(run.code).to.equal(3);
      expect(run.stderr).to.include(`in use by process ${process.pid}`);
    });

    it('exits 2 on a --heap-mb that is not a positive integer', async () => {
      const run = await opx(['--data', data, 'replay', '--heap-mb', '0'], { cwd });
      expect(run.code).to.equal(2);
      expect(run.stderr).to.include('--heap-mb must be a positive integer');
    });

    it('reports a heap too small by name (exit 2, not the divergence code; nothing on stdout), then releases the data dir for the next command', async () => {
      const starved = await opx(['--data', data, '--json', 'replay', '--heap-mb', '2'], { cwd });
      expect(starved.code).to.equal(2);
      expect(starved.stdout).to.equal('');
      const { error } = JSON.parse(starved.stderr) as { error: { code: string; message: string; exitCode: number } };
      expect(error).to.include({ code: 'opx.replay.heap_exhausted', exitCode: 2 });
      expect(error.message).to.include('2 MB').and.include('--heap-mb');
      const next = await opx(['--data', data, '--json', 'replay', '--heap-mb', '64'], { cwd });
      expect(next.code, next.stderr).to.equal(0);
      expect(next.json<ReplayReport>().verdict).to.equal('IDENTICAL');
    });
  });

  describe('store serve', () => {
    it('serves a store other commands reach with --connection, and stops on SIGTERM', async () => {
      const cwd = tempDir('serve');
      const { spawn } = await import('node:child_process');
      const { OPX_BIN } = await import('./opx-cli.js');
      const child = spawn(process.execPath, [OPX_BIN, '--memory', '--json', 'store', 'serve', '--port', '0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      const listening = await new Promise<{ connectionString: string }>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n')[0];
          if (out.includes('\n') && line !== undefined) resolve(JSON.parse(line) as { connectionString: string });
        });
        child.on('exit', (code) => reject(new Error(`store serve exited with ${code}`)));
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      try {
        const file = join(cwd, 'signals.jsonl');
        writeFileSync(file, SignalFixtures.promoted.join('\n'));
        const ingest = await opx(['--connection', listening.connectionString, '--json', 'signals', 'ingest', file], { cwd });
        expect(ingest.json<{ counts: { accepted: number } }>().counts.accepted).to.equal(2);
        const processed = await opx(['--connection', listening.connectionString, '--json', 'process'], { cwd });
        expect(processed.json<{ correlation: { candidatesOpened: number } }>().correlation.candidatesOpened).to.equal(1);
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).to.equal(0);
    });
  });

  describe('worker', () => {
    it('refuses to start without a server (exit 2, naming --connection)', async () => {
      const run = await opx(['--memory', 'worker'], { cwd: tempDir('worker-usage') });
      expect(run.code).to.equal(2);
      expect(run.stderr).to.match(/--connection/);
    });

    it('orchestrates what is ingested through a persistent subscription and exits 0 on SIGTERM', async () => {
      const cwd = tempDir('worker');
      const server = await startEmbeddedServer();
      const { spawn } = await import('node:child_process');
      const { OPX_BIN } = await import('./opx-cli.js');
      const worker = spawn(process.execPath, [OPX_BIN, '--connection', server.connectionString, 'worker', '--http-port', '0', '--concurrency', '4'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((resolve) => worker.on('exit', resolve));
      try {
        const file = join(cwd, 'signals.jsonl');
        writeFileSync(file, SignalFixtures.all);
        const ingest = await opx(['--connection', server.connectionString, '--json', 'signals', 'ingest', file], { cwd });
        expect(ingest.code).to.equal(0);
        let incidents: unknown[] = [];
        for (let i = 0; i < 200 && incidents.length < 2; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          incidents = (await opx(['--connection', server.connectionString, '--json', 'incidents', 'list'], { cwd })).json<{ incidents: unknown[] }>().incidents;
        }
        expect(incidents).to.have.length(2);
      } finally {
        worker.kill('SIGTERM');
        await server.close();
      }
      expect(await exited).to.equal(0);
    });
  });
});
