import {
  AccessDeniedError,
  jsonEvent,
  persistentSubscriptionToStreamSettingsFromDefaults,
  type EventStoreDBClient,
} from '@eventstore/db-client';
import { expect } from 'chai';
import { ADMINS, OPS, UserStore } from '../../src/esdb-server/auth/users.js';
import { PROCESS_USER } from '../../src/esdb-server/auth/embedded-security.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import { collect, connect, freshStream, makeTestCerts } from './helpers.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const event = (i = 0) => jsonEvent({ type: 'T', data: { i } });
const admin = { username: 'admin', password: 'admin-secret' };

/** The official client sends credentials only over TLS: these servers use a throwaway CA's certificate. */
describe('embedded EventStoreDB server: authentication and ACLs (over TLS)', function () {
  let server: EmbeddedServer;
  let certs: ReturnType<typeof makeTestCerts>;
  let certDir: string;
  const clients: EventStoreDBClient[] = [];
  const urlFor = (port: number, user?: { username: string; password: string }): string => {
    const credentials = user === undefined ? '' : `${encodeURIComponent(user.username)}:${encodeURIComponent(user.password)}@`;
    return `esdb://${credentials}localhost:${port}?tls=true&tlsCAFile=${encodeURIComponent(certs.caFile)}`;
  };
  const as = (user?: { username: string; password: string }): EventStoreDBClient => {
    const client = connect(urlFor(server.port, user));
    clients.push(client);
    return client;
  };

  before(async function () {
    certDir = mkdtempSync(join(tmpdir(), 'opx-certs-'));
    certs = makeTestCerts(certDir);
    const users = new UserStore([]);
    users.add(admin.username, admin.password, [ADMINS]);
    users.add('ops', 'ops-secret', [OPS]);
    users.add('alice', 'alice-secret', []);
    server = await startEmbeddedServer({ users, tls: certs });
  });

  after(async function () {
    await Promise.all(clients.map((c) => c.dispose()));
    await server.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  const alice = { username: 'alice', password: 'alice-secret' };

  it('refuses every call without credentials or with a wrong password', async function () {
    const stream = freshStream();
    await expect(as().appendToStream(stream, event())).to.be.rejectedWith(AccessDeniedError);
    await expect(collect(as().readStream(stream))).to.be.rejectedWith(AccessDeniedError);
    await expect(as({ username: 'alice', password: 'wrong' }).appendToStream(stream, event())).to.be.rejectedWith(AccessDeniedError);
    await expect(as().getPersistentSubscriptionToStreamInfo(stream, 'g')).to.be.rejectedWith(AccessDeniedError);
  });

  it('lets a user write and read user streams, and only admins write $ streams and read $all', async function () {
    const client = as(alice);
    const stream = freshStream();
    expect((await client.appendToStream(stream, event())).nextExpectedRevision).to.equal(0n);
    expect(await collect(client.readStream(stream))).to.have.length(1);
    await expect(client.appendToStream('$system-thing', event())).to.be.rejectedWith(AccessDeniedError);
    await expect(collect(client.readAll({ maxCount: 1 }))).to.be.rejectedWith(AccessDeniedError);
    await expect(client.tombstoneStream(`$persistentsubscription-${stream}::g-parked`)).to.be.rejectedWith(AccessDeniedError);
    // per-call credentials take over from the connection string's
    expect((await client.appendToStream('$system-thing', event(), { credentials: admin })).nextExpectedRevision).to.be.a('bigint');
    expect(await collect(as(admin).readAll({ maxCount: 1 }))).to.have.length(1);
  });

  it("honours a stream's $acl", async function () {
    const stream = freshStream();
    await as(admin).appendToStream(stream, event());
    await as(admin).setStreamMetadata(stream, { acl: { readRoles: ['$admins'], writeRoles: ['alice'] } });
    await expect(collect(as(alice).readStream(stream))).to.be.rejectedWith(AccessDeniedError);
    expect((await as(alice).appendToStream(stream, event(1))).nextExpectedRevision).to.equal(1n);
    await expect(as({ username: 'ops', password: 'ops-secret' }).appendToStream(stream, event(2))).to.be.rejectedWith(AccessDeniedError);
  });

  it('lets only admins and ops manage subscription groups', async function () {
    const stream = freshStream();
    const settings = persistentSubscriptionToStreamSettingsFromDefaults();
    await expect(as(alice).createPersistentSubscriptionToStream(stream, 'g', settings)).to.be.rejectedWith(AccessDeniedError);
    await as({ username: 'ops', password: 'ops-secret' }).createPersistentSubscriptionToStream(stream, 'g', settings);
    expect((await as(alice).getPersistentSubscriptionToStreamInfo(stream, 'g')).groupName).to.equal('g');
    await expect(as(alice).deletePersistentSubscriptionToStream(stream, 'g')).to.be.rejectedWith(AccessDeniedError);
    await as(admin).deletePersistentSubscriptionToStream(stream, 'g');
  });

  it('takes default ACLs from $settings (a server of its own: they apply to every stream)', async function () {
    const users = new UserStore([]);
    users.add(admin.username, admin.password, [ADMINS]);
    users.add('alice', 'alice-secret', []);
    const own = await startEmbeddedServer({ users, tls: certs });
    const adminClient = connect(urlFor(own.port, admin));
    const aliceClient = connect(urlFor(own.port, alice));
    try {
      expect((await aliceClient.appendToStream(freshStream(), event())).nextExpectedRevision).to.equal(0n);
      await adminClient.appendToStream('$settings', jsonEvent({ type: 'settings', data: { $userStreamAcl: { $w: '$admins' } } }));
      await expect(aliceClient.appendToStream(freshStream(), event())).to.be.rejectedWith(AccessDeniedError);
    } finally {
      await adminClient.dispose();
      await aliceClient.dispose();
      await own.close();
    }
  });
});

describe('embedded EventStoreDB server: secure by default', function () {
  it('given neither TLS nor users, serves TLS with a user made for its process, and refuses every client without them', async function () {
    const server = await startEmbeddedServer();
    const { endpoint } = server;
    expect(endpoint).to.include({ tls: true, host: 'localhost' });
    expect(endpoint.credentials?.username).to.equal(PROCESS_USER);
    expect(Buffer.from(endpoint.credentials?.password ?? '', 'base64url')).to.have.length(32);
    expect(server.connectionString).to.match(/\?tls=true$/);
    const own = connect(server);
    const anonymous = connect({ endpoint: { ...endpoint, credentials: undefined } } as unknown as Pick<EmbeddedServer, 'endpoint'>);
    const guessing = connect({ endpoint: { ...endpoint, credentials: { username: PROCESS_USER, password: 'changeit' } } });
    const plaintext = connect(`esdb://127.0.0.1:${server.port}?tls=false`);
    try {
      const stream = freshStream();
      expect((await own.appendToStream(stream, event())).nextExpectedRevision).to.equal(0n);
      expect(await collect(own.readStream(stream))).to.have.length(1);
      await expect(anonymous.appendToStream(stream, event())).to.be.rejectedWith(AccessDeniedError);
      await expect(collect(anonymous.readStream(stream))).to.be.rejectedWith(AccessDeniedError);
      await expect(guessing.appendToStream(stream, event())).to.be.rejectedWith(AccessDeniedError);
      // a plaintext client cannot even talk to it
      await expect(collect(plaintext.readStream(stream, { maxCount: 1 }))).to.be.rejected;
    } finally {
      await Promise.all([own, anonymous, guessing, plaintext].map((c) => c.dispose()));
      await server.close();
    }
  });

  it('is plaintext and open only when started insecure: true, which excludes tls and users', async function () {
    const server = await startEmbeddedServer({ insecure: true });
    const client = connect(server.connectionString);
    try {
      expect(server.connectionString).to.match(/\?tls=false$/);
      expect(server.endpoint).to.deep.equal({ host: '127.0.0.1', port: server.port, tls: false });
      expect((await client.appendToStream(freshStream(), event())).nextExpectedRevision).to.equal(0n);
    } finally {
      await client.dispose();
      await server.close();
    }
    await expect(startEmbeddedServer({ insecure: true, users: new UserStore() })).to.be.rejectedWith(TypeError, /insecure excludes tls and users/);
    await expect(startEmbeddedServer({ users: new UserStore() })).to.be.rejectedWith(TypeError, /users need tls/);
  });
});
