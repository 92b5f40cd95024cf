import { expect } from 'chai';

import { CoveredStreams, IncidentStreamTally } from '../../src/replay/stream-tracking.js';

describe(IncidentStreamTally.name, () => {
  const id = (hex: string): string => `incident-inc-${hex}`;

  it('takes out what was put in, once each', () => {
    const tally = new IncidentStreamTally();
    tally.add(id('0123456789abcdef01234567'));
    expect(tally.delete(id('0123456789abcdef01234567'))).to.equal(true);
    expect(tally.delete(id('0123456789abcdef01234567'))).to.equal(false);
  });

  it('keeps two incidents apart however alike their ids', () => {
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

  it('counts the same stream added several times', () => {
    const tally = new IncidentStreamTally();
    const stream = id('0123456789abcdef01234567');
    for (let i = 0; i < 3; i++) tally.add(stream);
    for (let i = 0; i < 3; i++) expect(tally.delete(stream)).to.equal(true);
    expect(tally.delete(stream)).to.equal(false);
  });
});

describe(CoveredStreams.name, () => {
  const stream = 'candidate-cand-1';

  it('covers nothing it was not told of', () => {
    expect(new CoveredStreams().covers(stream, 0n)).to.equal(false);
  });

  it('covers every event of a stream while its whole read is under way', () => {
    const covered = new CoveredStreams();
    covered.reading(stream);
    for (const revision of [0n, 5n, 500n]) expect(covered.covers(stream, revision)).to.equal(true);
  });

  it('covers events through the revision a whole read reached, then forgets the stream', () => {
    const covered = new CoveredStreams();
    covered.through(stream, 2n);
    expect([0n, 1n, 2n].map((r) => covered.covers(stream, r))).to.deep.equal([true, true, true]);
    expect(covered.covers(stream, 3n)).to.equal(false); // forgotten once the scan passed revision 2
  });

  it('forgets the stream when the scan meets an event past what the read covered', () => {
    const covered = new CoveredStreams();
    covered.through(stream, 2n);
    expect(covered.covers(stream, 3n)).to.equal(false);
    expect(covered.covers(stream, 1n)).to.equal(false);
  });

  it('covers the rest of a stream whose replay broke, forever', () => {
    const covered = new CoveredStreams();
    covered.forever(stream);
    for (const revision of [0n, 7n, 7n, 1_000n]) expect(covered.covers(stream, revision)).to.equal(true);
  });

  it('keeps streams apart', () => {
    const covered = new CoveredStreams();
    covered.reading(stream);
    expect(covered.covers('candidate-cand-2', 0n)).to.equal(false);
  });
});
