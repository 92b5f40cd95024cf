import grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { AccessControl } from '../../src/esdb-server/auth/access.js';
import { UserStore } from '../../src/esdb-server/auth/users.js';
import { systemClock } from '../../src/esdb-server/clock.js';
import { MemoryEngine } from '../../src/esdb-server/storage/memory-engine.js';
import { EventStoreCore } from '../../src/esdb-server/store.js';

const basic = (user: string, password: string): grpc.Metadata => {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
  return metadata;
};

describe(AccessControl.name, function () {
  it("checks a call's credentials once for all its messages, and again once the users changed", function () {
    const users = new UserStore();
    users.addGenerated('ops', 'x'.repeat(43), ['$ops']);
    let checks = 0;
    const verify = users.verify.bind(users);
    users.verify = (name, password) => {
      checks++;
      return verify(name, password);
    };
    const access = new AccessControl(users, new EventStoreCore(new MemoryEngine(), systemClock));
    const call = basic('ops', 'x'.repeat(43));
    for (let i = 0; i < 5; i++) expect(access.authenticate(call).name).to.equal('ops'); // a batch append's messages
    expect(checks).to.equal(1);
    expect(access.authenticate(basic('ops', 'x'.repeat(43))).name).to.equal('ops'); // another call
    expect(checks).to.equal(2);
    users.remove('ops');
    expect(() => access.authenticate(call)).to.throw(/bad username or password/);
    expect(checks).to.equal(3);
  });
});
