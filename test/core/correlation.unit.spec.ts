import { expect } from 'chai';

import { parseCorrelationRules } from '../../src/correlation/correlation-rule.js';
import { correlate } from '../../src/correlation/correlator.js';
import type { Signal } from '../../src/correlation/signal.js';
import { ingestSignals } from '../../src/runtime/in-process.js';
import { DocumentFixtures, SignalFixtures, Times } from './support/fixtures.js';
import { OpxWorld } from './support/world.js';

const rules = (overrides: Record<string, unknown> = {}) => parseCorrelationRules(DocumentFixtures.ruleSet({ ...DocumentFixtures.correlationRule, ...overrides }));

describe(correlate.name, () => {
  it('derives the same candidate ids from the same signals, in any order', () => {
    const signals = [SignalFixtures.at('a', 0), SignalFixtures.at('b', 10), SignalFixtures.at('c', 400), SignalFixtures.at('d', 410)];

    const once = correlate(signals, rules());
    const again = correlate([...signals].reverse(), rules());

    expect(once).to.have.length(2);
    expect(again).to.deep.equal(once);
    expect(new Set(once.map((c) => c.candidateId)).size).to.equal(2);
  });

  it('derives different ids for different rule versions over the same signals', () => {
    const signals = [SignalFixtures.at('a', 0), SignalFixtures.at('b', 10)];

    const [v1] = correlate(signals, rules());
    const [v2] = correlate(signals, rules({ version: '2.0.0' }));

    expect(v1?.candidateId).to.be.a('string');
    expect(v2?.candidateId).to.not.equal(v1?.candidateId);
  });

  it('makes no candidate below the threshold and one at it', () => {
    expect(correlate([SignalFixtures.at('a', 0), SignalFixtures.at('b', 10)], rules({ threshold: 3 }))).to.deep.equal([]);
    expect(correlate([SignalFixtures.at('a', 0), SignalFixtures.at('b', 10), SignalFixtures.at('c', 20)], rules({ threshold: 3 }))).to.have.length(1);
  });

  it('stamps the candidate with the time of the signal that crossed the threshold and the most severe signal', () => {
    const [candidate] = correlate([SignalFixtures.at('a', 0), SignalFixtures.at('b', 10, { severity: 'SEV1' }), SignalFixtures.at('c', 20)], rules({ threshold: 2 }));

    expect(candidate?.createdAt).to.equal(Times.at(10));
    expect(candidate?.severity).to.equal('SEV1');
    expect(candidate?.signalCount).to.equal(3);
  });

  it('does not correlate signals in different tumbling windows', () => {
    // 299s and 301s fall either side of the 300s window boundary
    expect(correlate([SignalFixtures.at('a', 299), SignalFixtures.at('b', 301)], rules())).to.deep.equal([]);
  });

  it('aligns windows to the epoch and reports them on the candidate', () => {
    const [candidate] = correlate([SignalFixtures.at('a', 310), SignalFixtures.at('b', 590)], rules());

    expect([candidate?.windowStart, candidate?.windowEnd]).to.deep.equal([Times.at(300), Times.at(600)]);
  });

  it('counts a signal seen twice (same signalId) once', () => {
    const twice = [SignalFixtures.at('a', 0), SignalFixtures.at('a', 0)];
    expect(correlate(twice, rules())).to.deep.equal([]);

    const [candidate] = correlate([...twice, SignalFixtures.at('b', 5)], rules());
    expect(candidate?.signalIds).to.deep.equal(['a', 'b']);
    expect(candidate?.signalCount).to.equal(2);
  });

  it('groups by the rule group key (different fingerprints do not correlate)', () => {
    const signals = [SignalFixtures.at('a', 0), SignalFixtures.at('b', 10, { fingerprint: 'auth:LatencyP99' })];

    expect(correlate(signals, rules())).to.deep.equal([]);
    expect(correlate(signals, rules({ groupBy: ['service'] }))).to.have.length(1);
  });

  it('groups by a label', () => {
    const signals = [SignalFixtures.at('a', 0, { labels: { region: 'eu' } }), SignalFixtures.at('b', 10, { labels: { region: 'us' } }), SignalFixtures.at('c', 20, { labels: { region: 'eu' } })];

    const candidates = correlate(signals, rules({ groupBy: ['labels.region'] }));

    expect(candidates.map((c) => c.groupKey)).to.deep.equal(['labels.region=eu']);
  });

  it('takes only signals the rule matches (services and minimum severity)', () => {
    const signals: Signal[] = [SignalFixtures.at('a', 0, { severity: 'SEV4' }), SignalFixtures.at('b', 10, { severity: 'SEV4' })];

    expect(correlate(signals, rules())).to.deep.equal([]);
    expect(correlate([SignalFixtures.at('a', 0), SignalFixtures.at('b', 10)], rules({ match: { services: ['payments-api'] } }))).to.deep.equal([]);
  });

  it('takes the policy from the rule (Decision 1)', () => {
    const [candidate] = correlate([SignalFixtures.at('a', 0), SignalFixtures.at('b', 10)], rules({ policy: { id: 'payments-promotion', version: '2.0.0' } }));

    expect(candidate).to.deep.include({ policyId: 'payments-promotion', policyVersion: '2.0.0', correlationRuleId: 'burst', correlationRuleVersion: '1.0.0' });
  });

  it('keeps at most 100 signal ids, sorted', () => {
    const signals = Array.from({ length: 120 }, (_, i) => SignalFixtures.at(`s-${String(i).padStart(3, '0')}`, i % 250));

    const [candidate] = correlate(signals, rules());

    expect(candidate?.signalCount).to.equal(120);
    expect(candidate?.signalIds).to.have.length(100);
    expect([...(candidate?.signalIds ?? [])].sort()).to.deep.equal(candidate?.signalIds);
  });
});

describe('CP-5 candidate recording', () => {
  it('records each correlated candidate once at revision 0, and re-ingesting is a no-op', async () => {
    const world = OpxWorld.create();
    const signals = [SignalFixtures.at('a', 0), SignalFixtures.at('b', 10)];

    const first = await ingestSignals(signals, rules(), world.candidates);
    const size = world.size;
    const second = await ingestSignals(signals, rules(), world.candidates);

    expect(first.candidates).to.have.length(1);
    expect(second.conflicts).to.deep.equal([]);
    expect(world.size).to.equal(size);
    expect(world.candidateTypes(first.candidates[0]?.candidateId ?? '')).to.deep.equal(['CandidateCreated']);
  });

  // Regression (fixed bug): CandidateStore.create documents "a different candidate under the same id is refused",
  // but CandidateCreated's event id is derived from the candidate id alone, so a different
  // candidate under the same id (e.g. the same window re-correlated with a late signal: more
  // signals, another severity) is taken by the store as an idempotent re-append and silently
  // dropped. ingestSignals therefore never reports the conflict it exists to report.
  it('reports a conflict when the same candidate id is correlated again from other signals', async () => {
    const world = OpxWorld.create();
    await ingestSignals([SignalFixtures.at('a', 0), SignalFixtures.at('b', 10)], rules(), world.candidates);

    const late = await ingestSignals([SignalFixtures.at('a', 0), SignalFixtures.at('b', 10), SignalFixtures.at('c', 20, { severity: 'SEV1' })], rules(), world.candidates);

    expect(late.conflicts).to.have.length(1);
  });
});
