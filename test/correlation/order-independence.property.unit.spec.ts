/**
 * Order independence, proven by property: the same signals delivered in any batching, any order
 * within the lateness bound, duplicated, with decisions taken at any point and a correlator that
 * crashes half-way, give byte-identical candidates, decisions, incidents and group streams.
 */
import { expect } from 'chai';
import fc from 'fast-check';

import { loadConfig } from '../../src/container/config.js';
import { StoreCorrelationOutputs } from '../../src/correlation/correlation-outputs.js';
import { correlateOnce } from '../../src/correlation/correlation-runner.js';
import { LiveCorrelator } from '../../src/correlation/live-correlator.js';
import { TOKENS } from '../../src/container/tokens.js';
import type { SignalFact } from '../../src/signals/signal-events.js';
import { Facts } from './support/signals.js';
import { CorrelationWorld } from './support/world.js';

const LATENESS_SECONDS = 120;
const rules = { ...loadConfig().correlationRules, latenessSeconds: LATENESS_SECONDS };

const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'] as const;
const SERVICES = ['checkout', 'payments-api', 'inventory', 'batch-reports'] as const;
const NAMES = ['TargetDown', 'HighLatency', 'DiskFull'] as const;

/** An alert: who it is, and its firings as (start, end?) in seconds after T0. */
const alertArb = fc.record({
  service: fc.constantFrom(...SERVICES),
  alertname: fc.constantFrom(...NAMES),
  severity: fc.constantFrom(...SEVERITIES),
  instance: fc.integer({ min: 1, max: 3 }),
  firings: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 400 }), duration: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }) }), { minLength: 1, maxLength: 4 }),
});

type Alert = typeof alertArb extends fc.Arbitrary<infer A> ? A : never;

function factsOf(alerts: readonly Alert[]): SignalFact[] {
  const facts: SignalFact[] = [];
  for (const alert of alerts) {
    const fp = `${alert.service}:${alert.alertname}:${alert.instance}:${alert.severity}`;
    const overrides = { service: alert.service, severity: alert.severity, labels: { alertname: alert.alertname, instance: String(alert.instance) }, annotations: { summary: `${alert.alertname} on ${alert.service}` } };
    let t = 0;
    for (const firing of alert.firings) {
      t += firing.gap;
      facts.push(Facts.firing(fp, t, overrides));
      if (firing.duration !== undefined) {
        facts.push(Facts.resolved(fp, t, t + firing.duration, overrides));
        t += firing.duration + 1;
      }
    }
  }
  return facts;
}

const timeOf = (fact: SignalFact): number => Date.parse(fact.endsAt ?? fact.observedAt);

interface Delivery {
  /** Per fact, a delay in [0, L): delivered in order of time + delay, never later than the bound allows. */
  readonly delays: number[];
  /** Where the delivered sequence is cut into batches (fractions of its length). */
  readonly cuts: number[];
  /** Facts delivered twice (indexes into the facts), at the end of a random later batch. */
  readonly duplicates: number[];
  /** After which batch the orchestrator runs (decisions interleaved with correlation). */
  readonly decideAfter: boolean[];
  /** The batch after which a correlator dies before writing its group events (or none). */
  readonly crashAfter: number | undefined;
}

const deliveryArb = (count: number) =>
  fc.record({
    delays: fc.array(fc.integer({ min: 0, max: LATENESS_SECONDS * 1000 - 1 }), { minLength: count, maxLength: count }),
    cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
    duplicates: fc.array(fc.integer({ min: 0, max: Math.max(0, count - 1) }), { maxLength: 4 }),
    decideAfter: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    crashAfter: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
  });

function batchesOf(facts: readonly SignalFact[], delivery: Delivery): SignalFact[][] {
  const ordered = facts.map((fact, i) => ({ fact, key: timeOf(fact) + (delivery.delays[i] ?? 0) })).sort((a, b) => a.key - b.key);
  const sequence = ordered.map((o) => o.fact);
  const cuts = [...new Set(delivery.cuts.map((c) => Math.floor(c * sequence.length)))].sort((a, b) => a - b);
  const batches: SignalFact[][] = [];
  let from = 0;
  for (const cut of [...cuts, sequence.length]) {
    batches.push(sequence.slice(from, cut));
    from = cut;
  }
  for (const [n, index] of delivery.duplicates.entries()) {
    const fact = facts[index];
    if (fact !== undefined) batches[Math.min(batches.length - 1, n + 1)]?.push(fact);
  }
  return batches;
}

async function reference(facts: readonly SignalFact[]): Promise<string[]> {
  const world = CorrelationWorld.create({ rules });
  await world.record(...[...facts].sort((a, b) => timeOf(a) - timeOf(b)));
  await world.settle();
  return world.derived();
}

async function delivered(facts: readonly SignalFact[], delivery: Delivery): Promise<string[]> {
  const world = CorrelationWorld.create({ rules });
  for (const [i, batch] of batchesOf(facts, delivery).entries()) {
    await world.record(...batch);
    if (delivery.crashAfter === i) {
      // A correlator that creates candidates, then dies before its group events are written.
      const outputs = new StoreCorrelationOutputs(world.memory, world.container.get(TOKENS.CandidateStore), world.logger);
      const dying = new LiveCorrelator(rules, world.memory, { readGroup: (s) => outputs.readGroup(s), createCandidate: (c) => outputs.createCandidate(c), appendGroup: () => Promise.reject(new Error('killed')) }, world.logger);
      await correlateOnce(world.memory, dying, { tick: false, ruleSetVersion: 'test' }).catch(() => undefined);
    }
    await world.correlate(false);
    if (delivery.decideAfter[i] === true) await world.orchestrate();
  }
  await world.settle();
  return world.derived();
}

describe('order independence of live correlation (property)', function () {
  this.timeout(300_000);

  it('gives byte-identical outputs for the same signals in any batching and order within the bound, duplicated, decided at any point, across a crash', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(alertArb, { minLength: 1, maxLength: 6 }).chain((alerts) => {
          const facts = factsOf(alerts);
          return fc.tuple(fc.constant(facts), deliveryArb(facts.length));
        }),
        async ([facts, delivery]) => {
          expect(await delivered(facts, delivery)).to.deep.equal(await reference(facts));
        },
      ),
      { numRuns: 60, seed: 20261207, endOnFailure: true },
    );
  });

  it('the property can fail: beyond the bound, a straggler is late and the outputs differ', async () => {
    const facts = [Facts.firing('x', 0, { severity: 'SEV3' }), Facts.firing('x', 10, { severity: 'SEV3' }), Facts.firing('x', 1000, { severity: 'SEV3' })];
    const world = CorrelationWorld.create({ rules });
    await world.record(facts[2]!, facts[1]!);
    await world.correlate(false);
    await world.record(facts[0]!);
    await world.settle();

    expect(world.derived()).to.not.deep.equal(await reference(facts));
  });
});
