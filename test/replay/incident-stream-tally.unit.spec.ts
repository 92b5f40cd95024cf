import { expect } from 'chai';

import { IncidentStreamTally } from '../../src/replay/replay-audit.js';

describe(IncidentStreamTally.name, () => {
  const id = (hex: string): string => `incident-inc-${hex}`;

  it('takes out what was put in, once each', () => {
    const tally = new IncidentStreamTally();
    tally.add(id('0123456789abcdef01234567'));
    expect(tally.delete(id('0123456789abcdef01234567'))).to.equal(true);
    expect(tally.delete(id('0123456789abcdef01234567'))).to.equal(false);
  });

  it('keeps two incidents apart when their ids share the 52-bit prefix it counts them under', () => {
    const tally = new IncidentStreamTally();
    tally.add(id('0123456789abc00000000000'));
    tally.add(id('0123456789abcfffffffffff'));
    expect(tally.delete(id('0123456789abcfffffffffff'))).to.equal(true);
    expect(tally.delete(id('0123456789abc00000000000'))).to.equal(true);
    expect(tally.delete(id('0123456789abc00000000000'))).to.equal(false);
  });

  it('never finds an id it was not given', () => {
    const tally = new IncidentStreamTally();
    tally.add(id('0123456789abcdef01234567'));
    expect(tally.delete(id('1123456789abcdef01234567'))).to.equal(false);
    expect(tally.delete('incident-not-an-opx-id')).to.equal(false);
  });

  it('counts ids of any other form by the whole id', () => {
    const tally = new IncidentStreamTally();
    tally.add('incident-legacy-42');
    expect(tally.delete('incident-legacy-4')).to.equal(false);
    expect(tally.delete('incident-legacy-42')).to.equal(true);
  });

  it('stays exact past the counts it holds compactly (2^20)', () => {
    const tally = new IncidentStreamTally();
    const stream = id('0123456789abcdef01234567');
    const times = 2 ** 20 + 2;
    for (let i = 0; i < times; i++) tally.add(stream);
    for (let i = 0; i < times; i++) expect(tally.delete(stream)).to.equal(true);
    expect(tally.delete(stream)).to.equal(false);
  });
});
