import { expect } from 'chai';

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import type { RecordedEvent } from '../../src/eventstore/event-store.js';
import { PolicyRegistry } from '../../src/promotion/policy.js';
import { Findings, firstDifference, MAX_REPORTED_DIVERGENCES, Tally } from '../../src/replay/report.js';
import { config, GoldenStreams, withData } from './support/golden-streams.js';

const divergenceOn = (streamId: string, revision = '1') => ({ streamId, revision, kind: 'different' as const, message: 'differs' });

describe(Findings.name, () => {
  let decision: RecordedEvent;
  before(async () => (decision = (await GoldenStreams.load()).promoted().stream[1]!));

  it('finds an output identical to the replayed one identical, whatever the order of its fields', () => {
    const findings = new Findings();
    const reordered: RecordedEvent = { ...decision, data: Object.fromEntries(Object.entries(decision.data).reverse()) };
    findings.compare(decision, reordered);
    expect(findings.divergences).to.deep.equal([]);
    expect(findings.eventsCompared).to.equal(1);
  });

  it('names the first differing field of an output, with both values', () => {
    const findings = new Findings();
    findings.compare(withData(decision, { decision: 'DEFER' }), decision);
    expect(findings.divergences).to.deep.equal([
      {
        streamId: decision.streamId,
        revision: '1',
        kind: 'different',
        path: 'data.decision',
        recorded: 'DEFER',
        replayed: 'PROMOTE',
        message: 'PromotionDecided differs at data.decision',
      },
    ]);
  });

  it('compares the event id and metadata too, not the server-assigned fields', () => {
    const findings = new Findings();
    findings.compare({ ...decision, revision: 9n, position: 99n, created: new Date(1) }, decision);
    findings.compare({ ...decision, id: '00000000-0000-4000-8000-000000000000' }, decision);
    findings.compare({ ...decision, metadata: { ...decision.metadata, $causationId: 'x' } }, decision);
    expect(findings.divergences.map((d) => d.path)).to.deep.equal(['id', 'metadata.$causationId']);
  });

  it('reports an output the replay did not produce', () => {
    const findings = new Findings();
    findings.compare(decision, undefined);
    expect(findings.divergences[0]).to.include({ kind: 'not-reproduced', streamId: decision.streamId });
  });

  it('is empty until it holds something to tally', () => {
    const findings = new Findings();
    expect(findings.isEmpty()).to.equal(true);
    findings.inputsPending++;
    expect(findings.isEmpty()).to.equal(false);
  });
});

describe(Tally.name, () => {
  it('adds up the counts of every unit and tells divergent streams from identical ones', () => {
    const tally = new Tally(config);
    tally.streamsChecked = 3;
    const one = new Findings();
    one.eventsCompared = 2;
    one.inputsReplayed = 1;
    one.diverge(divergenceOn('candidate-a'));
    one.diverge(divergenceOn('candidate-a', '2'));
    const two = new Findings();
    two.eventsCompared = 5;
    two.inputsPending = 1;
    tally.add(one);
    tally.add(two);
    expect(tally.report()).to.include({
      verdict: 'DIVERGENT',
      eventsCompared: 7,
      inputsReplayed: 1,
      inputsPending: 1,
      divergenceCount: 2,
      divergentStreams: 1,
      identicalStreams: 2,
    });
  });

  it('is IDENTICAL with no divergence', () => {
    expect(new Tally(config).report().verdict).to.equal('IDENTICAL');
  });

  it(`reports the first ${MAX_REPORTED_DIVERGENCES} divergences in the order added, and counts them all`, () => {
    const tally = new Tally(config);
    for (let i = 0; i < MAX_REPORTED_DIVERGENCES + 5; i++) {
      const findings = new Findings();
      findings.diverge(divergenceOn(`candidate-${i}`));
      tally.add(findings);
    }
    const report = tally.report();
    expect(report.divergenceCount).to.equal(MAX_REPORTED_DIVERGENCES + 5);
    expect(report.divergences.map((d) => d.streamId)).to.deep.equal(Array.from({ length: MAX_REPORTED_DIVERGENCES }, (_, i) => `candidate-${i}`));
  });

  it('finds a recorded IncidentOpened that a whole replay opened before it passed, and reports one nothing opened', () => {
    const tally = new Tally(config);
    const replayed = new Findings();
    replayed.incidentsOpened.push('incident-inc-1');
    tally.add(replayed);
    for (const stream of ['incident-inc-1', 'incident-inc-2']) {
      const seen = new Findings();
      seen.incidentSeen = stream;
      tally.add(seen);
    }
    expect(tally.report().divergences).to.deep.equal([
      { streamId: 'incident-inc-2', revision: '0', kind: 'not-reproduced', message: 'recorded IncidentOpened that no replayed promotion opens' },
    ]);
  });

  describe('policy drift', () => {
    let decision: RecordedEvent;
    before(async () => (decision = (await GoldenStreams.load()).candidateStream('CandidateCreated', 'PromotionDecided')[1]!));

    it('finds none while the recorded policy version has the recorded content', () => {
      const tally = new Tally(config);
      const findings = new Findings();
      findings.decided(decision);
      tally.add(findings);
      expect(tally.report().policyDrift).to.deep.equal([]);
    });

    it('counts the decisions made under a version whose content changed, and names the first candidate', () => {
      const { policyId, policyVersion, policyHash, candidateId } = decision.data as Record<string, string>;
      const changed = config.policies
        .all()
        .map((p) => (p.document.id === policyId && p.document.version === policyVersion ? { ...p.document, description: 'edited in place' } : p.document));
      const tally = new Tally({ policies: PolicyRegistry.fromDocuments(changed) });
      const findings = new Findings();
      findings.decided(decision);
      findings.decided(withData(decision, { candidateId: 'cand-other' }));
      tally.add(findings);
      const [drift] = tally.report().policyDrift;
      expect(drift).to.include({ policy: `${policyId}@${policyVersion}`, recordedHash: policyHash, firstCandidateId: candidateId, decisions: 2 });
      expect(drift?.currentHash).to.be.a('string').and.not.equal(policyHash);
    });

    it('keeps what the drift check reads of a decision, not the recorded event (findings wait in the pipeline)', async () => {
      setFlagsFromString('--expose-gc');
      const collect = runInNewContext('gc') as () => void;
      const findings = new Findings();
      let recorded: RecordedEvent | undefined = { ...decision, data: { ...decision.data } };
      const held = new WeakRef(recorded.data);
      findings.decided(recorded);
      recorded = undefined;
      await new Promise((resolve) => setImmediate(resolve)); // a WeakRef's target lives until the task ends
      collect();
      expect(held.deref()).to.equal(undefined);
      const { policyId, policyVersion, policyHash, candidateId } = decision.data as Record<string, string>;
      expect(findings.decisions).to.deep.equal([{ policyId, policyVersion, policyHash, candidateId }]);
    });

    it('reports a version no longer in config with no current hash', () => {
      const { policyId, policyVersion } = decision.data as Record<string, string>;
      const without = config.policies.all().filter((p) => !(p.document.id === policyId && p.document.version === policyVersion));
      const tally = new Tally({ policies: PolicyRegistry.fromDocuments(without.map((p) => p.document)) });
      const findings = new Findings();
      findings.decided(decision);
      tally.add(findings);
      expect(tally.report().policyDrift[0]).to.include({ currentHash: null, decisions: 1 });
    });
  });
});

describe(firstDifference.name, () => {
  it('names the deepest first differing path', () => {
    expect(firstDifference({ a: { b: 1, c: 2 } }, { a: { b: 1, c: 3 } })).to.deep.equal({ path: 'a.c', recorded: 2, replayed: 3 });
  });
  it('names a field missing on one side', () => {
    expect(firstDifference({ a: 1 }, { a: 1, z: 2 })).to.deep.equal({ path: 'z', recorded: null, replayed: 2 });
  });
  it('names the root when two values of another kind differ', () => {
    expect(firstDifference(1, 'one')).to.deep.equal({ path: '(root)', recorded: 1, replayed: 'one' });
  });
});
