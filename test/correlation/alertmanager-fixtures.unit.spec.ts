/**
 * Real Alertmanager 0.25 webhook bodies (Debian's prometheus 2.42 + prometheus-alertmanager, the
 * rules of test/support/prometheus.ts, captured by scripts/capture-alertmanager.ts) through the
 * whole flow: a steady critical alert, a flapping one, one that resolves, a flapping warning, an
 * info alert, one without a service label, and Watchdog.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { loadConfig } from '../../src/container/config.js';
import { GROUP_STREAM_PREFIX } from '../../src/correlation/correlation-events.js';
import { valueInputs } from '../../src/signals/signal-input.js';
import { CorrelationWorld } from './support/world.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/alertmanager/webhooks.jsonl', import.meta.url));
const bodies = (): unknown[] => readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
const sources = loadConfig().sources;
const inputsOf = (body: unknown, i: number) => valueInputs(body, sources, `body ${i + 1}`).inputs;

async function allAtOnce(): Promise<CorrelationWorld> {
  const world = CorrelationWorld.create();
  await world.record(...bodies().flatMap(inputsOf));
  await world.settle();
  return world;
}

const byAlert = (world: CorrelationWorld, prefix: string) => world.candidates().map((c) => String((c['context'] as { alertname?: string } | undefined)?.alertname ?? c['title'])).filter((a) => a.startsWith(prefix));

describe('real Alertmanager webhook bodies (captured fixtures)', function () {
  this.timeout(60_000);

  it('the capture holds what the tests below rely on', () => {
    const alerts = bodies().flatMap((b) => (b as { alerts: Array<{ labels: { alertname: string }; status: string }> }).alerts);
    const seen = new Set(alerts.map((a) => `${a.labels.alertname}/${a.status}`));
    for (const expected of ['CheckoutDown/firing', 'PaymentsFlapping/firing', 'PaymentsFlapping/resolved', 'BatchJobFailed/resolved', 'DiskFillingUp/firing', 'NoOwner/firing', 'Watchdog/firing', 'CertExpiresSoon/firing']) {
      expect(seen, expected).to.include(expected);
    }
  });

  it('gives one incident per critical problem (steady, flapping, resolving), a deferred warning, and records the rest', async () => {
    const world = await allAtOnce();

    expect(world.candidates().map((c) => `${String(c['title'])} ${String(c['severity'])}`).sort()).to.deep.equal([
      'BatchJobFailed: nightly batch failed SEV1',
      'CheckoutDown: checkout is down SEV1',
      'DiskFillingUp: disk 85% full SEV3',
      'PaymentsFlapping: payments latency spikes SEV1',
    ]);
    expect(world.incidents().map((i) => i['service']).sort()).to.deep.equal(['batch-reports', 'checkout', 'payments-api']);
    expect(world.decisions().sort()).to.deep.equal(['DEFER', 'PROMOTE', 'PROMOTE', 'PROMOTE']);
    expect(byAlert(world, 'PaymentsFlapping')).to.have.length(1);
  });

  it('acknowledges Watchdog as ignored and rejects the alert without a service alone, recording both', async () => {
    const world = CorrelationWorld.create();
    const report = await world.record(...bodies().flatMap(inputsOf));

    const watchdog = report.inputs.filter((i) => i.outcome === 'ignored');
    const rejected = report.inputs.filter((i) => i.outcome === 'rejected');
    expect(watchdog.length).to.be.greaterThan(0);
    expect(new Set(rejected.map((r) => r.problems?.join()))).to.deep.equal(new Set(['no service label: none of service, job, app, namespace is set']));
    expect(world.events('signal-', 'SignalIgnored')).to.have.length(1);
    expect(world.events('signal-rejected-', 'SignalRejected')).to.have.length(1);
    expect(report.counts.accepted + report.counts.duplicate + report.counts.ignored + report.counts.rejected).to.equal(report.inputs.length);
  });

  it('records every resolution, and the resolved alert shows all of its firings resolved on its group', async () => {
    const world = await allAtOnce();
    const batch = world.events(GROUP_STREAM_PREFIX, 'SignalCorrelated').filter((e) => e.data['alertname'] === 'BatchJobFailed').map((e) => e.data['outcome']);
    expect(batch).to.deep.equal(['opened', 'resolved']);
  });

  it('gives byte-identical candidates, decisions, incidents and group streams fed one body at a time, correlating and deciding after each', async () => {
    const reference = await allAtOnce();
    const oneAtATime = CorrelationWorld.create();
    for (const [i, body] of bodies().entries()) {
      await oneAtATime.record(...inputsOf(body, i));
      await oneAtATime.correlate(false);
      await oneAtATime.orchestrate();
    }
    await oneAtATime.settle();

    expect(oneAtATime.derived()).to.deep.equal(reference.derived());
  });

  it('decides the same when each body is followed by a tick (a correlator that waits for nothing): only the late marks differ', async () => {
    const reference = await allAtOnce();
    const ticking = CorrelationWorld.create();
    for (const [i, body] of bodies().entries()) {
      await ticking.record(...inputsOf(body, i));
      await ticking.settle();
    }

    const unmarked = (lines: string[]) => lines.map((l) => l.replace('"late":true', '"late":false'));
    expect(unmarked(ticking.derived())).to.deep.equal(reference.derived());
    expect(ticking.derived().filter((l) => l.includes('"late":true')).length).to.be.greaterThan(0);
    expect(reference.derived().filter((l) => l.includes('"late":true'))).to.deep.equal([]);
  });

  it('gives byte-identical outputs in reverse body order, within the lateness bound', async () => {
    const reference = await allAtOnce();
    const reversed = CorrelationWorld.create();
    for (const [i, body] of [...bodies().entries()].reverse()) await reversed.record(...inputsOf(body, i));
    await reversed.settle();

    expect(reversed.derived()).to.deep.equal(reference.derived());
  });
});
