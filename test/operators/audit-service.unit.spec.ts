import { expect } from 'chai';

import { TOKENS } from '../../src/container/tokens.js';
import { AUDIT_REPORTS_STREAM, lastAudit, summarize } from '../../src/operators/audit-record.js';
import { AuditService, type AuditRunView } from '../../src/operators/audit-service.js';
import type { HistoryAuditReport } from '../../src/replay/history-audit.js';
import { consoleRig, ORIGIN, type ConsoleRig } from '../console/support/rig.js';

const identicalReport = (eventsRead: number): HistoryAuditReport => ({
  verdict: 'IDENTICAL',
  eventsRead,
  eventsCompared: 0,
  inputsReplayed: 0,
  inputsPending: 0,
  streamsChecked: 0,
  identicalStreams: 0,
  divergentStreams: 0,
  divergenceCount: 0,
  divergences: [],
  policyDrift: [],
  correlation: { verdict: 'IDENTICAL', inputs: 0, eventsCompared: 0, inputsHeld: 0, outputsPending: 0, batchCandidates: 0, divergenceCount: 0, divergences: [] },
  autoResolution: { verdict: 'IDENTICAL', triggers: 0, eventsCompared: 0, superseded: 0, pending: 0, divergenceCount: 0, divergences: [] },
  integrity: {
    verdict: 'INTACT',
    eventsRead,
    eventsVerified: eventsRead,
    eventsExcluded: 0,
    recordedBeforeChain: 0,
    unsealed: 0,
    unverifiable: 0,
    seals: 1,
    chain: { startedAt: '0', head: 'a'.repeat(64), sealedThrough: String(eventsRead) },
    findingCount: 0,
    findings: [],
  },
});

/** An audit that runs until the test lets it finish, reporting progress when told. */
class HeldAudit {
  private release: ((report: HistoryAuditReport) => void) | undefined;
  private fail: ((error: Error) => void) | undefined;
  progress: ((eventsRead: number) => void) | undefined;
  readonly run = (onProgress: (eventsRead: number) => void): Promise<HistoryAuditReport> => {
    this.progress = onProgress;
    return new Promise((resolve, reject) => {
      this.release = resolve;
      this.fail = reject;
    });
  };
  finish(report: HistoryAuditReport): void {
    this.release?.(report);
  }
  crash(error: Error): void {
    this.fail?.(error);
  }
}

describe(AuditService.name, () => {
  let r: ConsoleRig;
  afterEach(async () => {
    await r.audits.stop();
    await r.readModels.stop();
  });

  const session = async (who: 'alice' | 'bob' = 'bob') => {
    const { cookie, csrf } = await r.signIn(who);
    return {
      get: async <T>(url: string) => {
        const answer = await r.inject({ method: 'GET', url, headers: { cookie } });
        return { status: answer.statusCode, json: answer.json<T>() };
      },
      post: async <T>(url: string) => {
        const answer = await r.inject({ method: 'POST', url, headers: { cookie, origin: ORIGIN, 'x-csrf-token': csrf, 'content-type': 'application/json' }, payload: '{}' });
        return { status: answer.statusCode, json: answer.json<T>() };
      },
    };
  };
  const settled = async (s: Awaited<ReturnType<typeof session>>, runId: string): Promise<AuditRunView> => {
    for (let i = 0; i < 200; i++) {
      const run = (await s.get<AuditRunView>(`/api/v1/audit/runs/${runId}`)).json;
      if (run.state !== 'running') return run;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('the audit did not finish');
  };

  it('runs the replay audit of the whole history on request, records its report on the store, and answers it as the last', async () => {
    r = await consoleRig();
    const s = await session();
    expect((await s.get('/api/v1/audit/last')).json).to.deep.equal({ last: null, running: null });

    const started = await s.post<AuditRunView>('/api/v1/audit/runs');
    expect(started.status).to.equal(202);
    expect(started.json).to.include({ state: 'running', by: 'bob' });
    const done = await settled(s, started.json.runId);

    expect(done.state).to.equal('done');
    expect(done.report?.verdict).to.equal('IDENTICAL');
    expect(done.report?.eventsRead).to.be.greaterThan(0);
    expect(done.report?.correlation.verdict).to.equal('IDENTICAL');
    const last = (await s.get<{ last: { runId: string; verdict: string } }>('/api/v1/audit/last')).json.last;
    expect(last).to.include({ runId: started.json.runId, verdict: 'IDENTICAL' });
    // recorded, kept to the newest few, and read back by another process
    expect(r.world.events(AUDIT_REPORTS_STREAM).map((e) => e.type)).to.deep.equal(['ReplayAuditReported']);
    expect((await r.world.memory.getStreamMetadata(AUDIT_REPORTS_STREAM)).maxCount).to.equal(50);
    expect((await lastAudit(r.world.memory))?.runId).to.equal(started.json.runId);
    const other = new AuditService({ config: r.world.container.get(TOKENS.Config), store: r.world.memory, logger: r.world.logger });
    expect((await other.last())?.runId).to.equal(started.json.runId);
  });

  it('runs one at a time (409 names the one running), shows its progress, and keeps the last verdict when a run fails', async () => {
    const held = new HeldAudit();
    r = await consoleRig({ audit: held.run });
    const s = await session();
    const first = await s.post<AuditRunView>('/api/v1/audit/runs');
    const second = await s.post<{ error: string; running: AuditRunView }>('/api/v1/audit/runs');
    expect(second.status).to.equal(409);
    expect(second.json.running.runId).to.equal(first.json.runId);

    held.progress?.(10_000);
    const running = (await s.get<AuditRunView>(`/api/v1/audit/runs/${first.json.runId}`)).json;
    expect(running).to.include({ state: 'running', eventsRead: 10_000 });
    expect(running.expectedEvents).to.be.greaterThan(0);
    expect((await s.get<{ running: AuditRunView }>('/api/v1/audit/last')).json.running.runId).to.equal(first.json.runId);
    held.finish(identicalReport(12_345));
    expect((await settled(s, first.json.runId)).report?.eventsRead).to.equal(12_345);

    const third = await s.post<AuditRunView>('/api/v1/audit/runs');
    expect(third.status).to.equal(202);
    held.crash(new Error('store unavailable'));
    const failed = await settled(s, third.json.runId);
    expect(failed).to.include({ state: 'failed', error: 'store unavailable' });
    expect((await s.get<{ last: { runId: string } }>('/api/v1/audit/last')).json.last.runId).to.equal(first.json.runId);
    expect(r.world.events(AUDIT_REPORTS_STREAM)).to.have.length(1);
    expect((await s.get('/api/v1/audit/runs/audit-nope')).status).to.equal(404);
  });

  it('keeps where a divergent history diverged and which policies drifted, values cut short', () => {
    const long = 'x'.repeat(5_000);
    const report: HistoryAuditReport = {
      ...identicalReport(10),
      verdict: 'DIVERGENT',
      divergenceCount: 150,
      divergentStreams: 3,
      divergences: Array.from({ length: 100 }, (_, i) => ({ streamId: `candidate-c${i}`, revision: '1', kind: 'different' as const, path: 'data.decision', recorded: long, replayed: { decision: 'PROMOTE' }, message: 'differs' })),
      policyDrift: [{ policy: 'standard-promotion@1.0.0', recordedHash: 'a'.repeat(64), currentHash: 'b'.repeat(64), firstCandidateId: 'c0', decisions: 7 }],
    };
    const summary = summarize(report, { runId: 'audit-1', by: 'alice', startedAt: '2026-06-01T12:00:00.000Z' }, '2026-06-01T12:00:05.000Z');
    expect(summary).to.deep.include({ verdict: 'DIVERGENT', divergenceCount: 150, divergentStreams: 3, by: 'alice' });
    expect(summary.divergences).to.have.length(20);
    expect(summary.divergences[0]).to.deep.include({ streamId: 'candidate-c0', revision: '1', path: 'data.decision', replayed: '{"decision":"PROMOTE"}' });
    expect(summary.divergences[0]!.recorded).to.have.length(300);
    expect(summary.policyDrift).to.deep.equal(report.policyDrift);
    expect(JSON.stringify(summary).length).to.be.lessThan(20_000);
  });
});
