import { StreamDeletedError, UnavailableError, WrongExpectedVersionError } from '@eventstore/db-client';
import { expect } from 'chai';

import { toDomainError } from '../../src/eventstore/esdb/esdb-errors.js';
import { StoreUnavailable, StreamDeleted, WrongExpectedVersion } from '../../src/shared/errors.js';

// The client's error classes are constructed here only to pin the adapter's translation table;
// production code imports the client in src/eventstore/esdb/ alone.
describe(toDomainError.name, () => {
  it('maps WrongExpectedVersionError to WrongExpectedVersion with stream, expected and actual', () => {
    const cause = new WrongExpectedVersionError(undefined, { streamName: 's-1', expected: 3n, current: 1n });

    const error = toDomainError(cause, { operation: 'append', streamId: 's-1', expected: 3n });

    expect(error).to.be.instanceOf(WrongExpectedVersion);
    expect(error).to.include({ streamId: 's-1', expected: 3n, actual: 1n, cause });
  });

  it("reports the caller's expected revision and the server's 'no_stream'", () => {
    const cause = new WrongExpectedVersionError(undefined, {
      streamName: 's-2',
      expected: 'stream_exists',
      current: 'no_stream',
    });

    const error = toDomainError(cause, { operation: 'append', streamId: 's-2', expected: 'stream_exists' });

    expect(error).to.include({ streamId: 's-2', expected: 'stream_exists', actual: 'no_stream' });
  });

  it('maps StreamDeletedError to StreamDeleted', () => {
    const cause = StreamDeletedError.fromStreamName('s-3');

    const error = toDomainError(cause, { operation: 'append', streamId: 's-3' });

    expect(error).to.be.instanceOf(StreamDeleted);
    expect(error).to.include({ streamId: 's-3', cause });
  });

  it('maps UnavailableError to StoreUnavailable keeping the cause', () => {
    const cause = new UnavailableError();

    const error = toDomainError(cause, { operation: 'readAll' });

    expect(error).to.be.instanceOf(StoreUnavailable);
    expect(error).to.include({ cause });
  });

  it('maps a refused connection to StoreUnavailable', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2113'), { code: 'ECONNREFUSED' });

    expect(toDomainError(cause, { operation: 'append' })).to.be.instanceOf(StoreUnavailable);
  });

  it('leaves a programming error alone', () => {
    const cause = new TypeError('not a function');

    expect(toDomainError(cause, { operation: 'append' })).to.equal(cause);
  });
});
