import { expect } from 'chai';

import { settlesWithin } from '../../src/shared/time-limit.js';

describe('settlesWithin (a bound on waiting)', () => {
  it("gives the work's value when it settles in time", async () => {
    expect(await settlesWithin(Promise.resolve(42), 1_000)).to.deep.equal({ settled: true, value: 42 });
  });

  it('says it did not settle when the work outlasts the bound, without waiting for it', async () => {
    expect(await settlesWithin(new Promise(() => undefined), 10)).to.deep.equal({ settled: false });
  });

  it("leaves a rejection within the bound to the caller", async () => {
    await expect(settlesWithin(Promise.reject(new Error('store down')), 1_000)).to.be.rejectedWith('store down');
  });
});
