import { expect } from 'chai';

import { AuthorityMatrix } from '../../src/authority/authority-matrix.js';
import { candidateCodec } from '../../src/candidates/candidate-codec.js';
import { candidateStreamId } from '../../src/candidates/candidate-events.js';
import { parseCorrelationRules } from '../../src/correlation/correlation-rule.js';
import { correlate } from '../../src/correlation/correlator.js';
import { parseSignal } from '../../src/correlation/signal.js';
import type { RecordedEvent } from '../../src/eventstore/event-store.js';
import { handleCandidateStreamEvent } from '../../src/orchestration/candidate-event-handler.js';
import { evaluatePolicy, parsePolicyDocument, PolicyRegistry, UnknownPolicy } from '../../src/promotion/policy.js';
import { ingestSignals } from '../../src/runtime/in-process.js';
import { DEFAULT_PARSE_LIMITS, parseUntrustedJson } from '../../src/shared/canonical-json.js';
import { InvalidInput } from '../../src/shared/errors.js';
import { UnknownEventType } from '../../src/shared/event-codec.js';
import { CandidateFixtures, ConfigFixtures, DocumentFixtures, SignalFixtures } from './support/fixtures.js';
import { OpxWorld } from './support/world.js';

const without = (object: Record<string, unknown>, key: string): Record<string, unknown> => {
  const { [key]: _, ...rest } = object;
  return rest;
};

/** The edge of the pipeline: untrusted signals parsed, then correlated and recorded. */
async function ingestRaw(world: OpxWorld, raws: readonly unknown[]): Promise<void> {
  const signals = raws.map((raw, i) => parseSignal(raw, `signal #${i + 1}`));
  await ingestSignals(signals, ConfigFixtures.bundled.correlationRules, world.candidates);
}

describe('bad input', () => {
  describe('signals', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['a missing signalId', without(SignalFixtures.raw, 'signalId'), /signal #2: signalId/],
      ['a missing observedAt', without(SignalFixtures.raw, 'observedAt'), /observedAt/],
      ['an extra field', { ...SignalFixtures.raw, priority: 'high' }, /priority should not exist/],
      ['a numeric signalId', { ...SignalFixtures.raw, signalId: 42 }, /signalId must be a string/],
      ['an unknown severity', { ...SignalFixtures.raw, severity: 'CRITICAL' }, /severity/],
      ['a service with spaces', { ...SignalFixtures.raw, service: 'auth api' }, /service may only contain/],
      ['a non-string label', { ...SignalFixtures.raw, labels: { region: 1 } }, /labels\.region must be a string/],
      ['labels as an array', { ...SignalFixtures.raw, labels: ['a'] }, /labels/],
      ['an impossible date', { ...SignalFixtures.raw, observedAt: '2026-02-30T00:00:00Z' }, /observedAt/],
      ['a __proto__ key', JSON.parse('{"__proto__":{"admin":true},"signalId":"s","service":"auth","severity":"SEV1","fingerprint":"f","observedAt":"2026-03-01T00:00:00Z"}'), /__proto__ is a forbidden key/],
      ['a __proto__ label', JSON.parse('{"signalId":"s","service":"auth","severity":"SEV1","fingerprint":"f","observedAt":"2026-03-01T00:00:00Z","labels":{"__proto__":"x"}}'), /labels\.__proto__ is a forbidden key/],
      ['a constructor key', JSON.parse('{"constructor":{"prototype":{}},"signalId":"s","service":"auth","severity":"SEV1","fingerprint":"f","observedAt":"2026-03-01T00:00:00Z"}'), /constructor is a forbidden key/],
      ['null', null, /expected a JSON object, got null/],
      ['an array', [SignalFixtures.raw], /expected a JSON object, got an array/],
    ];
    for (const [name, raw, message] of cases) {
      it(`refuses a batch with ${name} (InvalidInput naming it), appending nothing`, async () => {
        const world = OpxWorld.create();
        const good = { ...SignalFixtures.raw, severity: 'SEV1' };

        await expect(ingestRaw(world, [good, raw])).to.be.rejectedWith(InvalidInput, message);
        expect(world.size).to.equal(0);
      });
    }

    it('does not pollute Object.prototype through a __proto__ key', () => {
      const raw = JSON.parse('{"__proto__":{"polluted":true},"signalId":"s","service":"auth","severity":"SEV1","fingerprint":"f","observedAt":"2026-03-01T00:00:00Z"}') as unknown;

      expect(() => parseSignal(raw)).to.throw(InvalidInput);
      expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
    });

    it('normalizes observedAt with an offset to UTC', () => {
      expect(parseSignal({ ...SignalFixtures.raw, observedAt: '2026-03-01T01:00:00+01:00' }).observedAt).to.equal('2026-03-01T00:00:00.000Z');
    });

    // Regression (fixed bug): parseSignal accepts an observedAt without a UTC designator or offset
    // ('2026-03-01T01:00:00') and converts it with `new Date(...)`, which reads it in the host's
    // local time zone. The same signal then lands in a different correlation window (and candidate
    // id) on hosts in different time zones: correlation is no longer deterministic. It should be
    // refused, naming observedAt.
    it('refuses an observedAt without a time zone (it would be read in host-local time)', () => {
      expect(() => parseSignal({ ...SignalFixtures.raw, observedAt: '2026-03-01T01:00:00' })).to.throw(InvalidInput, /observedAt/);
    });
  });

  describe('CandidateCreated data and metadata', () => {
    const encode = () => candidateCodec.encode({ type: 'CandidateCreated', data: CandidateFixtures.promotable as never, metadata: {} as never }, 'x');

    it('refuses to record a candidate whose data carries fields the event does not have', () => {
      expect(encode).to.throw(InvalidInput, /should not exist/);
    });

    const recordedCreated = async (mutate: (data: Record<string, unknown>, metadata: Record<string, unknown>) => void): Promise<{ world: OpxWorld; event: RecordedEvent }> => {
      const w = OpxWorld.create();
      const { candidateId } = await w.givenCandidate(CandidateFixtures.promotable);
      const original = w.candidateEvents(candidateId)[0] as RecordedEvent;
      const data = JSON.parse(JSON.stringify(original.data)) as Record<string, unknown>;
      const metadata = JSON.parse(JSON.stringify(original.metadata)) as Record<string, unknown>;
      mutate(data, metadata);
      return { world: w, event: { ...original, data: data as RecordedEvent['data'], metadata: metadata as RecordedEvent['metadata'] } };
    };

    const cases: Array<[string, (d: Record<string, unknown>, m: Record<string, unknown>) => void, RegExp]> = [
      ['data missing severity', (d) => delete d['severity'], /data: severity/],
      ['data with an extra field', (d) => (d['policyId'] = 'x'), /data: policyId: property policyId should not exist/],
      ['data with signalCount as a string', (d) => (d['signalCount'] = '2'), /signalCount/],
      ['data with a bad severity', (d) => (d['severity'] = 'SEV0'), /severity/],
      ['metadata missing $correlationId', (_, m) => delete m['$correlationId'], /\$correlationId/],
      ['metadata with an extra field', (_, m) => (m['tenant'] = 'x'), /tenant should not exist/],
      ['metadata with schemaVersion as a string', (_, m) => (m['schemaVersion'] = '1'), /schemaVersion/],
      ['metadata.candidate with an extra field', (_, m) => ((m['candidate'] as Record<string, unknown>)['priority'] = 1), /candidate\.priority: property priority should not exist/],
      ['metadata.candidate.policyVersion missing', (_, m) => delete (m['candidate'] as Record<string, unknown>)['policyVersion'], /candidate\.policyVersion/],
      ['metadata.candidate.signalIds not an array', (_, m) => ((m['candidate'] as Record<string, unknown>)['signalIds'] = 'sig-a'), /candidate\.signalIds must be an array/],
      ['metadata.candidate null', (_, m) => (m['candidate'] = null), /candidate/],
      ['data with a __proto__ key', (d) => Object.defineProperty(d, '__proto__', { value: { x: 1 }, enumerable: true }), /__proto__ is a forbidden key/],
    ];
    for (const [name, mutate, message] of cases) {
      it(`refuses a delivered CandidateCreated with ${name}, appending nothing`, async () => {
        const { world: w, event } = await recordedCreated(mutate);
        const size = w.size;

        await expect(handleCandidateStreamEvent(event, w.context)).to.be.rejectedWith(InvalidInput, message);
        expect(w.size).to.equal(size);
      });
    }

    // Regression (fixed bug): @ValidateNested() without @IsDefined()/@IsObject() lets a required nested object be
    // missing altogether. A CandidateCreated whose metadata has no `candidate` decodes fine: the
    // handler accepts the delivery ('handled'), and when such an event is the stored one, CP-5's
    // fold crashes with a TypeError ("Cannot read properties of undefined (reading 'policyId')")
    // instead of a clear InvalidInput. Same gap for ManualPromotionRequested.authority,
    // PromotionDecided.authority and IncidentCreated metadata.authority (see the tests below).
    it('refuses a delivered CandidateCreated whose metadata has no candidate facts (InvalidInput, not a TypeError)', async () => {
      const { world: w, event } = await recordedCreated((_, m) => delete m['candidate']);

      await expect(handleCandidateStreamEvent(event, w.context)).to.be.rejectedWith(InvalidInput, /candidate/);
    });

    // Regression (fixed bug): see above: a ManualPromotionRequested without an authority passes the codec.
    it('refuses a ManualPromotionRequested without an authority', () => {
      const metadata = { $correlationId: 'a', $causationId: 'a', schemaVersion: 1 };
      expect(() => candidateCodec.encode({ type: 'ManualPromotionRequested', data: { candidateId: 'c1', requestId: 'r', requestedAt: '2026-03-01T00:00:00.000Z' } as never, metadata }, 'x')).to.throw(InvalidInput, /authority/);
    });

    // Regression (fixed bug): see above: an IncidentCreated whose metadata lacks the authority (INV-P2.3.6) passes the codec.
    it('refuses an IncidentCreated whose metadata carries no authority', () => {
      const data = { eventType: 'IncidentCreated', incidentId: 'i', candidateId: 'c1', decisionId: 'd', severity: 'SEV1', service: 's', createdAt: '2026-03-01T00:00:00.000Z' } as const;
      expect(() => candidateCodec.encode({ type: 'IncidentCreated', data, metadata: { $correlationId: 'a', $causationId: 'a', schemaVersion: 1 } as never }, 'x')).to.throw(InvalidInput, /authority/);
    });

    it('refuses to record (CP-5) a candidate with an invalid severity or id, appending nothing', async () => {
      const world = OpxWorld.create();
      await expect(world.candidates.create({ ...CandidateFixtures.promotable, severity: 'SEV7' as never })).to.be.rejectedWith(InvalidInput, /severity/);
      await expect(world.candidates.create({ ...CandidateFixtures.promotable, candidateId: '../etc' })).to.be.rejectedWith(InvalidInput, /candidateId must be an id/);
      expect(world.size).to.equal(0);
    });

    it('refuses an unknown event type on a candidate stream', () => {
      const event = { id: 'x', type: 'CandidateEscalated', streamId: candidateStreamId('c'), revision: 0n, position: 0n, data: {}, metadata: {}, created: new Date(0) };
      expect(() => candidateCodec.decode(event)).to.throw(UnknownEventType, /CandidateEscalated/);
    });
  });

  describe('policy documents', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['a missing id', without(DocumentFixtures.policy, 'id'), /id/],
      ['a missing rules list', without(DocumentFixtures.policy, 'rules'), /rules must be an array/],
      ['an extra top-level field', { ...DocumentFixtures.policy, owner: 'me' }, /owner should not exist/],
      ['an extra condition', { ...DocumentFixtures.policy, rules: [{ name: 'r', when: { region: ['eu'] }, decision: 'PROMOTE', reason: 'x' }] }, /rules\.0\.when\.region: property region should not exist/],
      ['an unknown decision', { ...DocumentFixtures.policy, rules: [{ name: 'r', when: {}, decision: 'ESCALATE', reason: 'x' }] }, /rules\.0\.decision/],
      ['a version that is a number', { ...DocumentFixtures.policy, version: 1 }, /version/],
      ['an unknown severity in a condition', { ...DocumentFixtures.policy, rules: [{ name: 'r', when: { severities: ['SEV0'] }, decision: 'PROMOTE', reason: 'x' }] }, /severities/],
      ['a negative minSignalCount', { ...DocumentFixtures.policy, rules: [{ name: 'r', when: { minSignalCount: -1 }, decision: 'PROMOTE', reason: 'x' }] }, /minSignalCount/],
      ['a when that is a string', { ...DocumentFixtures.policy, rules: [{ name: 'r', when: 'always', decision: 'PROMOTE', reason: 'x' }] }, /when/],
      ['a __proto__ key', JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(DocumentFixtures.policy).slice(1)}`), /__proto__ is a forbidden key/],
    ];
    for (const [name, raw, message] of cases) {
      it(`refuses a policy with ${name} (InvalidInput naming it)`, () => {
        expect(() => PolicyRegistry.fromDocuments([raw])).to.throw(InvalidInput, message);
      });
    }

    it('refuses the same id@version twice, whatever the content', () => {
      expect(() => PolicyRegistry.fromDocuments([DocumentFixtures.policy, { ...DocumentFixtures.policy, description: 'changed' }])).to.throw(InvalidInput, /test-policy@1\.0\.0 is defined twice/);
    });

    // Regression (fixed bug): `when` and `default` are @ValidateNested() without @IsDefined(): a rule without `when`
    // or a policy without `default` is accepted, and evaluation later crashes with a TypeError
    // (reading 'severities' / 'decision' of undefined) inside CP-6 instead of the policy being
    // refused at load.
    it('refuses a rule without a when', () => {
      expect(() => parsePolicyDocument({ ...DocumentFixtures.policy, rules: [{ name: 'r', decision: 'PROMOTE', reason: 'x' }] })).to.throw(InvalidInput, /when/);
    });

    // Regression (fixed bug): see above.
    it('refuses a policy without a default', () => {
      expect(() => parsePolicyDocument(without(DocumentFixtures.policy, 'default'))).to.throw(InvalidInput, /default/);
    });

    it('evaluates the accepted document: first matching rule wins, else the default', () => {
      const policy = parsePolicyDocument(DocumentFixtures.policy);
      expect(evaluatePolicy(policy, CandidateFixtures.promotable)).to.deep.equal({ decision: 'PROMOTE', reason: "rule 'sev1' matched: SEV1", matchedRule: 'sev1' });
      expect(evaluatePolicy(policy, CandidateFixtures.deferrable).matchedRule).to.equal('default');
    });

    it('a registered policy decides as evaluatePolicy does, sharing one outcome per rule among its decisions', () => {
      const [loaded] = PolicyRegistry.fromDocuments([DocumentFixtures.policy]).all();
      const document = parsePolicyDocument(DocumentFixtures.policy);
      for (const candidate of [CandidateFixtures.promotable, CandidateFixtures.deferrable, CandidateFixtures.suppressible]) {
        expect(loaded?.evaluate(candidate)).to.deep.equal(evaluatePolicy(document, candidate));
      }
      expect(loaded?.evaluate(CandidateFixtures.promotable)).to.equal(loaded?.evaluate(CandidateFixtures.promotable));
      expect(loaded?.evaluate(CandidateFixtures.deferrable)).to.equal(loaded?.evaluate(CandidateFixtures.deferrable));
    });
  });

  describe('unknown policy', () => {
    it('fails with UnknownPolicy naming the known versions, recording no decision', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.naming('standard-promotion', '9.9.9'));

      const error = await world.process(candidateId).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(UnknownPolicy);
      const known = ConfigFixtures.bundled.policies.all().filter((p) => p.document.id === 'standard-promotion').map((p) => p.document.version);
      expect(known).to.have.length.greaterThan(1);
      for (const version of known) expect((error as Error).message).to.include(version);
      expect((error as Error).message).to.include('standard-promotion@9.9.9');
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated']);
    });

    it('fails with UnknownPolicy saying no policy has that id', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.naming('vip-promotion', '1.0.0'));

      await expect(world.process(candidateId)).to.be.rejectedWith(UnknownPolicy, "no policy with id 'vip-promotion'");
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated']);
    });
  });

  describe('correlation rules', () => {
    const rule = DocumentFixtures.correlationRule;
    const cases: Array<[string, unknown, RegExp]> = [
      ['a missing id', DocumentFixtures.ruleSet(without(rule, 'id')), /rules\.0\.id/],
      ['a missing threshold', DocumentFixtures.ruleSet(without(rule, 'threshold')), /threshold/],
      ['an extra field', DocumentFixtures.ruleSet({ ...rule, owner: 'me' }), /rules\.0\.owner: property owner should not exist/],
      ['windowSeconds as a string', DocumentFixtures.ruleSet({ ...rule, windowSeconds: '300' }), /windowSeconds/],
      ['a zero threshold', DocumentFixtures.ruleSet({ ...rule, threshold: 0 }), /threshold/],
      ['a policy reference with an extra field', DocumentFixtures.ruleSet({ ...rule, policy: { id: 'p', version: '1', pinned: true } }), /rules\.0\.policy\.pinned: property pinned should not exist/],
      ['an unknown group-by field', DocumentFixtures.ruleSet({ ...rule, groupBy: ['hostname'] }), /cannot group by 'hostname'/],
      ['an empty group-by', DocumentFixtures.ruleSet({ ...rule, groupBy: [] }), /groupBy/],
      ['the same rule twice', DocumentFixtures.ruleSet(rule, rule), /burst@1\.0\.0 is defined twice/],
      ['rules that are not a list', { version: '1', rules: {} }, /rules must be an array/],
    ];
    for (const [name, raw, message] of cases) {
      it(`refuses rules with ${name} (InvalidInput naming it)`, () => {
        expect(() => parseCorrelationRules(raw)).to.throw(InvalidInput, message);
      });
    }

    // Regression (fixed bug): `match` and `policy` are @ValidateNested() without @IsDefined(): a rule without a policy
    // reference (Decision 1: the rule names the policy) is accepted and correlation then crashes
    // with a TypeError; a rule without `match` likewise.
    it('refuses a rule without a policy reference', () => {
      expect(() => parseCorrelationRules(DocumentFixtures.ruleSet(without(rule, 'policy')))).to.throw(InvalidInput, /policy/);
    });

    // Regression (fixed bug): see above.
    it('refuses a rule without a match block', () => {
      expect(() => parseCorrelationRules(DocumentFixtures.ruleSet(without(rule, 'match')))).to.throw(InvalidInput, /match/);
    });

    it('never yields a candidate without a policy from a rule that names none', () => {
      let rules;
      try {
        rules = parseCorrelationRules(DocumentFixtures.ruleSet(without(rule, 'policy')));
      } catch (error) {
        expect(error).to.be.instanceOf(InvalidInput);
        return;
      }
      expect(() => correlate([SignalFixtures.at('a', 0), SignalFixtures.at('b', 1)], rules)).to.throw();
    });
  });

  describe('authority matrix', () => {
    const doc = DocumentFixtures.authorityMatrix;
    const grants = doc['grants'] as Record<string, Record<string, unknown>>;
    const cases: Array<[string, unknown, RegExp]> = [
      ['a missing version', without(doc, 'version'), /version must be a string/],
      ['a numeric version', { ...doc, version: 2 }, /version must be a string/],
      ['a missing grant', { ...doc, grants: without(grants, 'ON_CALL_RESPONDER') }, /grants\.ON_CALL_RESPONDER should not be null or undefined/],
      ['an unknown authority type', { ...doc, grants: { ...grants, ROBOT: { actions: [], principals: ['*'] } } }, /grants\.ROBOT: property ROBOT should not exist/],
      ['an unknown action', { ...doc, grants: { ...grants, AUTO_ENGINE: { actions: ['DELETE_INCIDENT'], principals: ['*'] } } }, /grants\.AUTO_ENGINE\.actions: each value in actions must be one of/],
      ['no principals', { ...doc, grants: { ...grants, AUTO_ENGINE: { actions: [], principals: [] } } }, /grants\.AUTO_ENGINE\.principals should not be empty/],
      ['an unknown justification action', { ...doc, justificationRequired: ['FLY'] }, /justificationRequired: each value in justificationRequired must be one of/],
      ['grants missing', without(doc, 'grants'), /grants should not be null or undefined/],
      ['a __proto__ grant', JSON.parse('{"version":"1","grants":{"__proto__":{"actions":[],"principals":["*"]}},"justificationRequired":[]}'), /__proto__/],
      ['null', null, /expected a JSON object, got null/],
    ];
    for (const [name, raw, message] of cases) {
      it(`refuses a matrix with ${name} (InvalidInput naming it)`, () => {
        expect(() => AuthorityMatrix.fromDocument(raw)).to.throw(InvalidInput, message);
      });
    }

    // Regression (fixed bug): AuthorityMatrix.fromDocument is validated by hand and never checks for extra fields:
    // a misspelt key (`justificationRequried`) or an extra key in a grant is silently ignored,
    // so a matrix that means to require justifications can load requiring none.
    it('refuses a matrix with an extra (e.g. misspelt) field', () => {
      expect(() => AuthorityMatrix.fromDocument({ ...without(doc, 'justificationRequired'), justificationRequried: ['MANUAL_PROMOTE'] })).to.throw(InvalidInput, /justificationRequried/);
    });

    // Regression (fixed bug): wrong-typed grants crash with a TypeError instead of an InvalidInput naming the field:
    // `grants.AUTO_ENGINE: null` -> "Cannot read properties of null", `actions: 5` /
    // `justificationRequired: 5` -> "is not iterable"; `actions: "CREATE_INCIDENT"` is iterated
    // character by character; non-string principals and a missing `actions` are accepted.
    it('refuses wrong-typed grants with InvalidInput naming the field', () => {
      for (const raw of [
        { ...doc, grants: { ...grants, AUTO_ENGINE: null } },
        { ...doc, grants: { ...grants, AUTO_ENGINE: { actions: 5, principals: ['*'] } } },
        { ...doc, grants: { ...grants, AUTO_ENGINE: { actions: 'CREATE_INCIDENT', principals: ['*'] } } },
        { ...doc, grants: { ...grants, AUTO_ENGINE: { principals: ['*'] } } },
        { ...doc, grants: { ...grants, AUTO_ENGINE: { actions: [], principals: [5] } } },
        { ...doc, justificationRequired: 5 },
      ]) {
        expect(() => AuthorityMatrix.fromDocument(raw)).to.throw(InvalidInput, /grants\.AUTO_ENGINE|justificationRequired/);
      }
    });
  });

  describe(parseUntrustedJson.name, () => {
    it('refuses a payload over the byte limit, naming size and limit', () => {
      const text = JSON.stringify({ blob: 'x'.repeat(DEFAULT_PARSE_LIMITS.maxBytes) });

      expect(() => parseUntrustedJson(text, 'signal batch')).to.throw(InvalidInput, `more than the limit of ${DEFAULT_PARSE_LIMITS.maxBytes}`);
    });

    it('counts bytes, not characters (multi-byte text over the limit is refused)', () => {
      const text = JSON.stringify({ blob: 'é'.repeat(DEFAULT_PARSE_LIMITS.maxBytes / 2) });

      expect(text.length).to.be.lessThan(DEFAULT_PARSE_LIMITS.maxBytes + 20);
      expect(() => parseUntrustedJson(text, 'signal')).to.throw(InvalidInput, /bytes, more than the limit/);
    });

    it('accepts a payload at the limit', () => {
      const text = JSON.stringify({ blob: 'x'.repeat(DEFAULT_PARSE_LIMITS.maxBytes - 11) });

      expect(Buffer.byteLength(text)).to.equal(DEFAULT_PARSE_LIMITS.maxBytes);
      expect(parseUntrustedJson(text, 'signal')).to.have.property('blob');
    });

    it('honours a custom limit', () => {
      expect(() => parseUntrustedJson('{"a":"0123456789"}', 'tiny', { maxBytes: 10, maxDepth: 4 })).to.throw(InvalidInput, 'limit of 10');
    });

    it('refuses excessive nesting, naming the path', () => {
      const deep = '{"a":'.repeat(DEFAULT_PARSE_LIMITS.maxDepth + 2) + '1' + '}'.repeat(DEFAULT_PARSE_LIMITS.maxDepth + 2);

      expect(() => parseUntrustedJson(deep, 'config')).to.throw(InvalidInput, /nests deeper than/);
    });

    it('refuses __proto__, constructor and prototype keys at any depth', () => {
      expect(() => parseUntrustedJson('{"a":[{"__proto__":{}}]}', 'doc')).to.throw(InvalidInput, 'a[0].__proto__ is a forbidden key');
      expect(() => parseUntrustedJson('{"constructor":{}}', 'doc')).to.throw(InvalidInput, 'constructor is a forbidden key');
      expect(() => parseUntrustedJson('{"x":{"prototype":1}}', 'doc')).to.throw(InvalidInput, 'x.prototype is a forbidden key');
    });

    it('refuses text that is not JSON, naming the subject', () => {
      expect(() => parseUntrustedJson('{oops', 'policies/x.json')).to.throw(InvalidInput, /Invalid policies\/x\.json: not valid JSON/);
    });
  });
});
