import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';

import { contentHash, domainId, eventId, eventIdOf, OPX_EVENT_ID_NAMESPACE, RandomIds } from '../../src/shared/ids.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';

describe('deterministic ids', () => {
  const names = [
    '',
    'PromotionDecided:dec-0123456789abcdef01234567',
    'IncidentOpened:inc-ffffffffffffffffffffffff',
    'ümlaut, 日本語 and 🚨 emoji',
    'x'.repeat(10_000),
    // Around the 512 code units hashed from a scratch buffer, with 3-byte and 4-byte (surrogate pair) characters.
    ...[511, 512, 513].flatMap((n) => ['x'.repeat(n), '日'.repeat(n), `${'🚨'.repeat(Math.floor(n / 2))}${n % 2 === 0 ? '' : 'ü'}`]),
    ...Array.from({ length: 200 }, (_, i) => `IncidentStateChanged:inc-${i}:${i + 1}:ACKNOWLEDGE_INCIDENT:HUMAN_OPERATOR:alice@opx:2026-03-01T00:00:00.000Z`),
  ];

  it('eventId is exactly uuid.v5 of the UTF-8 name in the OPX namespace (so recorded ids never change)', () => {
    for (const name of names) expect(eventId(name), name.slice(0, 40)).to.equal(uuidv5(name, OPX_EVENT_ID_NAMESPACE));
  });

  it('eventIdOf(a, b, c) is eventId of the parts joined by colons, whatever their lengths and characters', () => {
    const parts = ['', 'SignalCorrelated', 'grp-0123456789abcdef01234567', '日本語', '🚨', 'x'.repeat(255), 'y'.repeat(300), 'ü'.repeat(600)];
    for (const a of parts) {
      for (const b of parts) {
        for (const c of parts) expect(eventIdOf(a, b, c), `${a.length}:${b.length}:${c.length}`).to.equal(uuidv5(`${a}:${b}:${c}`, OPX_EVENT_ID_NAMESPACE));
      }
    }
  });

  it('eventId is a version 5, RFC variant UUID', () => {
    for (const name of names) expect(eventId(name)).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('ids are flat strings of their own, not views into shared memory: one id does not change when the next is made', () => {
    const first = eventId('a');
    const copy = `${first}`;
    eventId('b');
    domainId('dec', ['c']);
    expect(first).to.equal(copy).and.to.equal(uuidv5('a', OPX_EVENT_ID_NAMESPACE));
  });

  it('domainId is the first 24 hex of SHA-256 over the JCS form of its parts', () => {
    const parts = ['cand-1', 'standard-promotion', '1.0.0', 'ümlaut "quoted" \\ slash'];
    const expected = createHash('sha256').update(canonicalJson(parts)).digest('hex').slice(0, 24);
    expect(domainId('dec', parts)).to.equal(`dec-${expected}`);
  });

  it('contentHash is SHA-256 over the JCS form, whatever the key order', () => {
    expect(contentHash({ b: 1, a: [2, 'x'] })).to.equal(contentHash({ a: [2, 'x'], b: 1 }));
    expect(contentHash({ a: 1 })).to.equal(createHash('sha256').update('{"a":1}').digest('hex'));
  });
});

describe('random ids (orchestration attempts)', () => {
  it('RandomIds gives version 4, RFC variant UUIDs, a new one each call across refills of its random pool', () => {
    const random = new RandomIds();
    const ids = Array.from({ length: 2_000 }, () => random.next());
    for (const id of ids) expect(id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('RandomIds draws random bytes as it needs them: 16 ids at first, then twice as many, up to 256', () => {
    const drawn: number[] = [];
    const random = new RandomIds((pool) => void drawn.push(pool.length / 16));
    for (let i = 0; i < 16; i++) random.next();
    expect(drawn).to.deep.equal([16]);
    for (let i = 0; i < 32 + 64 + 128 + 256 + 256; i++) random.next();
    expect(drawn).to.deep.equal([16, 32, 64, 128, 256, 256]);
  });

  it('two RandomIds draw their own random bytes', () => {
    const [a, b] = [new RandomIds(), new RandomIds()];
    expect(a.next()).to.not.equal(b.next());
  });
});
