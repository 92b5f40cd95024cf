import { expect } from 'chai';

import { canonicalJson } from '../../src/shared/canonical-json.js';
import { InvalidInput } from '../../src/shared/errors.js';
import { goldenHistoryLines } from '../support/golden.js';

/**
 * RFC 8785 (JCS) as the replay compares it. The vectors are the RFC's own (section 3.2.2.3,
 * appendix B: ECMAScript number serialization; section 3.2.3: keys sorted by UTF-16 code units),
 * and the golden history is stored canonical, so every one of its lines must come back unchanged:
 * swapping the library must not move a byte.
 */
describe(canonicalJson.name, () => {
  describe('numbers (RFC 8785 appendix B)', () => {
    const vectors: Array<[number, string]> = [
      [0, '0'],
      [-0, '0'],
      [5e-324, '5e-324'],
      [-5e-324, '-5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [9007199254740992, '9007199254740992'],
      [-9007199254740992, '-9007199254740992'],
      [295147905179352830000, '295147905179352830000'],
      [9.999999999999997e22, '9.999999999999997e+22'],
      [1e23, '1e+23'],
      [1.0000000000000001e23, '1.0000000000000001e+23'],
      [999999999999999700000, '999999999999999700000'],
      [999999999999999900000, '999999999999999900000'],
      [1e21, '1e+21'],
      [9.999999999999997e-7, '9.999999999999997e-7'],
      [0.000001, '0.000001'],
      [333333333.3333332, '333333333.3333332'],
      [333333333.33333325, '333333333.33333325'],
      [333333333.3333333, '333333333.3333333'],
      [333333333.3333334, '333333333.3333334'],
      [333333333.33333343, '333333333.33333343'],
      [1.0000000000000002, '1.0000000000000002'],
    ];
    for (const [value, text] of vectors) {
      it(`writes ${text}`, () => expect(canonicalJson(value)).to.equal(text));
    }

    it('refuses NaN and the infinities', () => {
      for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) expect(() => canonicalJson(value)).to.throw();
    });
  });

  describe('strings and keys', () => {
    it('sorts keys by UTF-16 code units, recursively, with no whitespace (RFC 8785 section 3.2.3)', () => {
      const value = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
      expect(canonicalJson(value)).to.equal(
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
      );
      expect(canonicalJson({ b: [3, { z: 1, a: null }], a: true })).to.equal('{"a":true,"b":[3,{"a":null,"z":1}]}');
    });

    it('escapes as the RFC does: control characters as \\u00xx or their short form, nothing else', () => {
      expect(canonicalJson('\u000f\n"\\/\u20ac')).to.equal('"\\u000f\\n\\"\\\\/\u20ac"');
    });

    it('refuses a lone surrogate', () => {
      expect(() => canonicalJson('\ud800')).to.throw();
    });

    it('drops undefined members and writes undefined array items as null, as JSON does', () => {
      expect(canonicalJson({ a: undefined, b: [undefined, 1] })).to.equal('{"b":[null,1]}');
    });

    it('refuses a value with no JSON form, naming it', () => {
      expect(() => canonicalJson(undefined)).to.throw(InvalidInput, /no JSON representation/);
    });
  });

  it('gives back every line of the golden history byte for byte (it is stored canonical)', () => {
    const lines = goldenHistoryLines();
    const changed = lines.filter((line) => canonicalJson(JSON.parse(line)) !== line);

    expect(lines.length).to.be.greaterThan(1_000);
    expect(changed).to.deep.equal([]);
  });
});
