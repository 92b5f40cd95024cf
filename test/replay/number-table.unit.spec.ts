import { expect } from 'chai';

import { NumberTable } from '../../src/replay/replay-audit.js';

describe(NumberTable.name, () => {
  it('behaves as a Map over a long seeded run of sets, gets and deletes (growth, tombstones, rebuilds)', () => {
    const table = new NumberTable();
    const reference = new Map<number, number>();
    let seed = 42;
    const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    const keyOf = (n: number): number => (n % 5_000) * 2 ** 21 + 7; // 52-bit-ish keys, many repeats
    for (let i = 0; i < 200_000; i++) {
      const key = keyOf(next());
      const op = next() % 3;
      if (op === 0) {
        table.set(key, i);
        reference.set(key, i);
      } else if (op === 1) {
        expect(table.delete(key)).to.equal(reference.delete(key));
      } else {
        expect(table.get(key)).to.equal(reference.get(key));
      }
      if (i % 10_000 === 0) expect(table.size).to.equal(reference.size);
    }
    for (const [key, value] of reference) expect(table.get(key)).to.equal(value);
    expect(table.size).to.equal(reference.size);
  });

  it('holds keys up to 2^52 exactly', () => {
    const table = new NumberTable();
    table.set(2 ** 52 - 1, 1);
    table.set(2 ** 52 - 2, 2);
    expect(table.get(2 ** 52 - 1)).to.equal(1);
    expect(table.get(2 ** 52 - 2)).to.equal(2);
    expect(table.get(2 ** 52 - 3)).to.equal(undefined);
  });
});
