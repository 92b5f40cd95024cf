import { expect } from 'chai';
import fc from 'fast-check';
import { length } from '../../src/shared/class-validator.js';

import type { RecordedEvent } from '../../src/eventstore/event-store.js';
import { InvalidInput } from '../../src/shared/errors.js';
import { validateAs } from '../../src/shared/validation.js';
import { isCanonicalIsoTime } from '../../src/shared/validation-plan.js';
import { decodeCorrelatedSignal, isIsoTime, isPlainSignalFact, isPlainSignalMetadata } from '../../src/signals/signal-check.js';
import { signalEvent, SignalFactSchema, SignalMetadataSchema, type SignalFact } from '../../src/signals/signal-events.js';

type Schema = new () => object;

/** Values that probe every constraint of the two schemas: types, lengths, selectors and surrogates, patterns, times. */
const PROBES: readonly unknown[] = [
  undefined,
  null,
  true,
  0,
  1,
  1.5,
  -1,
  Number.NaN,
  '',
  'x',
  '\uFE0F',
  'a\uFE0F',
  '\uFE0Ex',
  '\uD83D\uDE00',
  '\uD83D',
  'x'.repeat(50),
  'x'.repeat(51),
  'x'.repeat(100),
  'x'.repeat(101),
  'x'.repeat(200),
  'x'.repeat(201),
  'x'.repeat(500),
  'x'.repeat(501),
  'x'.repeat(600),
  'x'.repeat(601),
  'x'.repeat(2000),
  'x'.repeat(2001),
  `${'\uD83D\uDE00'.repeat(300)}`,
  `${'\uD83D\uDE00'.repeat(301)}`,
  'bad source!',
  'firing',
  'resolved',
  'pending',
  'SEV1',
  'SEV9',
  '2026-06-01T00:00:00.000Z',
  '2026-06-01T00:00:00Z',
  '2026-02-30T00:00:00.000Z',
  '2026-06-01T24:00:00.000Z',
  '0099-06-01T00:00:00.000Z',
  '2026-06-01 00:00:00.000Z',
  [],
  ['a'],
  {},
  { a: 'b' },
  { a: 1 },
  { a: { b: 'c' } },
  Object.create(null) as unknown,
  JSON.parse('{"__proto__":"x"}') as unknown,
  { constructor: 'x' },
  new String('x'),
];

const fact: SignalFact = {
  signalId: '1e13768c7ec52373@2026-06-01T00:00:00.000Z',
  source: 'alertmanager',
  status: 'resolved',
  fingerprint: '1e13768c7ec52373',
  service: 'checkout',
  severity: 'SEV1',
  observedAt: '2026-06-01T00:00:00.000Z',
  endsAt: '2026-06-01T00:05:00.000Z',
  labels: { alertname: 'CheckoutDown', service: 'checkout', severity: 'critical' },
  annotations: { summary: 'checkout is down', runbook_url: 'https://runbooks.example/checkout-down' },
  generatorUrl: 'http://prometheus:9090/graph?g0.expr=up',
};
const recorded = signalEvent(fact, { receivedAt: '2026-06-01T00:05:01.000Z', channel: 'http', principal: 'alertmanager' });

/** Every value one change away from `root`: a member removed, added, or replaced by a probe (one level into labels and annotations). */
function* mutations(root: Record<string, unknown>): Generator<{ what: string; value: Record<string, unknown> }> {
  for (const [key, child] of Object.entries(root)) {
    const { [key]: _removed, ...rest } = root;
    yield { what: `${key} removed`, value: rest };
    for (const probe of PROBES) yield { what: `${key} = ${JSON.stringify(probe) ?? 'undefined'}`, value: { ...root, [key]: probe } };
    if (typeof child === 'object' && child !== null) {
      for (const probe of PROBES) yield { what: `${key}.x = ${JSON.stringify(probe) ?? 'undefined'}`, value: { ...root, [key]: { ...child, x: probe } } };
      yield { what: `${key}.__proto__`, value: { ...root, [key]: JSON.parse(`{"__proto__":"x",${JSON.stringify(child).slice(1)}`) as unknown } };
    }
  }
  for (const probe of PROBES) yield { what: `extra = ${JSON.stringify(probe) ?? 'undefined'}`, value: { ...root, extra: probe } };
  yield { what: '__proto__ key', value: JSON.parse(`{"__proto__":{"a":"b"},${JSON.stringify(root).slice(1)}`) as Record<string, unknown> };
}

/** What the codec decides: the serialization boundary's check (JSON safety, then class-validator), any throw a refusal. */
function classValidatorAccepts(schema: Schema, value: object): boolean {
  try {
    validateAs(schema, value, 'probe');
    return true;
  } catch {
    return false;
  }
}

describe('signal facts checked directly (signal-check.ts)', () => {
  it('accepts a recorded fact and its metadata, firing and resolved, with and without the optional fields', () => {
    const { endsAt: _e, generatorUrl: _g, ...bare } = fact;
    for (const data of [fact, { ...bare, status: 'firing' }, { ...fact, labels: {}, annotations: {} }]) {
      expect(classValidatorAccepts(SignalFactSchema, data)).to.equal(true);
      expect(isPlainSignalFact(data), JSON.stringify(data)).to.equal(true);
    }
    expect(classValidatorAccepts(SignalMetadataSchema, recorded.event.metadata)).to.equal(true);
    expect(isPlainSignalMetadata(recorded.event.metadata)).to.equal(true);
  });

  for (const [name, schema, check, root] of [
    ['fact', SignalFactSchema, isPlainSignalFact, fact],
    ['metadata', SignalMetadataSchema, isPlainSignalMetadata, recorded.event.metadata],
  ] as const) {
    it(`never accepts a ${name} class-validator rejects, over every single-change mutation`, () => {
      let accepted = 0;
      let rejectedByBoth = 0;
      for (const { what, value } of mutations(root as unknown as Record<string, unknown>)) {
        const valid = classValidatorAccepts(schema, value);
        if (check(value)) {
          expect(valid, `${what}: accepted directly, refused by class-validator`).to.equal(true);
          accepted++;
        } else if (!valid) rejectedByBoth++;
      }
      // The mutations reach both sides: many stay valid and are taken directly, many are refused.
      expect(accepted).to.be.greaterThan(20);
      expect(rejectedByBoth).to.be.greaterThan(50);
    });
  }

  it("holds class-validator's Length for any string (surrogates and presentation selectors count as one)", () => {
    const text = fc.array(fc.constantFrom('a', '\uFE0F', '\uFE0E', '\uD83D', '\uDE00', '\uD83D\uDE00', 'é'), { maxLength: 12 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, fc.constantFrom(1, 2, 3), (value, max) => {
        const data = { ...fact, fingerprint: value.length === 0 ? value : value.slice(0, max * 4) };
        if (isPlainSignalFact(data)) expect(length(data.fingerprint, 1, 500)).to.equal(true);
        const meta = { ...recorded.event.metadata, channel: value };
        if (isPlainSignalMetadata(meta)) expect(length(value, 1, 50)).to.equal(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads a time exactly as isCanonicalIsoTime does (the form class-validator is held to)', () => {
    const shape = 'dddd-dd-ddTdd:dd:dd.dddZ';
    const nearTime = fc
      .tuple(
        fc.array(fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '9'), { minLength: 24, maxLength: 24 }),
        fc.array(fc.tuple(fc.nat(23), fc.constantFrom('a', '/', ':', '-', ' ', 'T', 'Z', '.')), { maxLength: 2 }),
      )
      .map(([digits, edits]) => {
        const chars = [...shape].map((c, i) => (c === 'd' ? (digits[i] as string) : c));
        for (const [at, c] of edits) chars[at] = c;
        return chars.join('');
      });
    const dated = fc
      .date({ min: new Date('0090-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
      .map((d) => d.toISOString());
    fc.assert(
      fc.property(fc.oneof(nearTime, dated, fc.string({ maxLength: 30 })), (text) => {
        expect(isIsoTime(text), text).to.equal(isCanonicalIsoTime(text));
      }),
      { numRuns: 20_000 },
    );
    for (const text of [
      '2024-02-29T00:00:00.000Z',
      '2023-02-29T00:00:00.000Z',
      '1900-02-29T00:00:00.000Z',
      '2000-02-29T00:00:00.000Z',
      '0099-12-31T23:59:59.999Z',
      '2026-04-31T00:00:00.000Z',
    ])
      expect(isIsoTime(text), text).to.equal(isCanonicalIsoTime(text));
    expect(isIsoTime(123)).to.equal(false);
  });

  it('leaves everything else to the codec, which refuses it with the reason', () => {
    const event = (data: unknown): RecordedEvent =>
      ({
        streamId: recorded.streamId,
        id: recorded.id,
        revision: 0n,
        position: 0n,
        type: 'SignalFired',
        data,
        metadata: recorded.event.metadata,
      }) as unknown as RecordedEvent;
    expect(decodeCorrelatedSignal(event(fact)).data).to.equal(fact);
    expect(() => decodeCorrelatedSignal(event({ ...fact, severity: 'SEV9' })))
      .to.throw(InvalidInput)
      .with.property('message')
      .that.matches(/severity/);
    // Valid for class-validator, not the plain shape (a label that is not a string): the codec accepts it.
    const odd = { ...fact, labels: { ...fact.labels, replicas: 3 } };
    expect(isPlainSignalFact(odd)).to.equal(false);
    expect(decodeCorrelatedSignal(event(odd)).data).to.deep.equal(odd);
  });
});
