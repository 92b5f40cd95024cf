import { expect } from 'chai';

import { NumberTable, StreamIdSet } from '../../src/replay/stream-id-set.js';

/** A seeded sequence of pseudo-random integers below 2^31. */
function seeded(seed: number): () => number {
  return () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
}

describe(StreamIdSet.name, () => {
  const prefix = 'candidate-cand-';
  const id = (hex: string): string => `${prefix}${hex}`;

  it('behaves as a Set of strings over a long seeded run of adds, lookups and deletes', () => {
    const set = new StreamIdSet(prefix);
    const reference = new Set<string>();
    const next = seeded(7);
    // OPX ids, ids sharing their first 13 digits, and ids of other forms.
    const idOf = (n: number): string =>
      n % 10 === 0 ? `candidate-legacy-${n % 300}` : id(`0123456789a${(n % 7).toString(16)}c${(n % 3_000).toString(16).padStart(11, '0')}`);
    for (let i = 0; i < 100_000; i++) {
      const streamId = idOf(next());
      const op = next() % 3;
      if (op === 0) {
        set.add(streamId);
        reference.add(streamId);
      } else if (op === 1) {
        expect(set.delete(streamId)).to.equal(reference.delete(streamId));
      } else {
        expect(set.has(streamId)).to.equal(reference.has(streamId));
      }
      if (i % 5_000 === 0) expect(set.size).to.equal(reference.size);
    }
    for (const streamId of reference) expect(set.has(streamId)).to.equal(true);
    expect(set.size).to.equal(reference.size);
  });

  it('keeps apart ids that share their first 13 hex digits, whichever is deleted first', () => {
    const set = new StreamIdSet(prefix);
    const [a, b] = [id('0123456789abc00000000000'), id('0123456789abcfffffffffff')];
    set.add(a);
    set.add(b);
    expect(set.delete(a)).to.equal(true);
    expect(set.has(b)).to.equal(true);
    set.add(b); // the compact slot is free again, but b already holds its place elsewhere
    expect(set.size).to.equal(1);
    expect(set.delete(b)).to.equal(true);
    expect(set.has(b)).to.equal(false);
    expect(set.size).to.equal(0);
  });

  it('never finds an id it was not given, however close', () => {
    const set = new StreamIdSet(prefix);
    set.add(id('0123456789abcdef01234567'));
    for (const other of ['1123456789abcdef01234567', '0123456789abcdef01234566', '0123456789ABCDEF01234567']) expect(set.has(id(other)), other).to.equal(false);
    expect(set.has('incident-inc-0123456789abcdef01234567')).to.equal(false);
  });

  it('holds ids of any other form by the whole id', () => {
    const set = new StreamIdSet(prefix);
    set.add('candidate-legacy-42');
    expect(set.has('candidate-legacy-4')).to.equal(false);
    expect(set.delete('candidate-legacy-42')).to.equal(true);
    expect(set.size).to.equal(0);
  });
});

describe(NumberTable.name, () => {
  it('behaves as a Map over a long seeded run of sets, gets and deletes (growth, deleted slots, rebuilds)', () => {
    const table = new NumberTable();
    const reference = new Map<number, number>();
    const next = seeded(42);
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

  it('grows to hold many keys at once', () => {
    const table = new NumberTable();
    for (let i = 0; i < 10_000; i++) table.set(i * 7_919, i);
    expect(table.size).to.equal(10_000);
    for (let i = 0; i < 10_000; i++) expect(table.get(i * 7_919)).to.equal(i);
  });

  it('holds keys up to 2^52 exactly', () => {
    const table = new NumberTable();
    table.set(2 ** 52 - 1, 1);
    table.set(2 ** 52 - 2, 2);
    expect(table.get(2 ** 52 - 1)).to.equal(1);
    expect(table.get(2 ** 52 - 2)).to.equal(2);
    expect(table.get(2 ** 52 - 3)).to.equal(undefined);
  });

  it('stays findable after many deletes fill it with deleted slots (a rebuild at the same size)', () => {
    const table = new NumberTable();
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 500; i++) table.set(round * 1_000 + i, i);
      for (let i = 0; i < 500; i++) table.delete(round * 1_000 + i);
    }
    table.set(7, 70);
    expect(table.get(7)).to.equal(70);
    expect(table.size).to.equal(1);
  });
});
