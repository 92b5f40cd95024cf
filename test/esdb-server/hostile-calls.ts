import grpc from '@grpc/grpc-js';
import persistentPb from '@eventstore/db-client/generated/persistent_pb.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';

/**
 * Hostile requests for every RPC of the embedded server, as raw bytes over a raw gRPC client
 * (the official client would refuse to send most of them). Not a spec file.
 */

export type CallKind = 'unary' | 'server' | 'client' | 'bidi';

export interface HostileCall {
  readonly name: string;
  readonly path: string;
  readonly kind: CallKind;
  readonly messages: readonly Uint8Array[];
}

const STREAMS = '/event_store.client.streams.Streams';
const PERSISTENT = '/event_store.client.persistent_subscriptions.PersistentSubscriptions';
const FEATURES = '/event_store.client.server_features.ServerFeatures';

const garbage = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99]);
const empty = new Uint8Array(0);
const id = (text: string) => new sharedPb.StreamIdentifier().setStreamName(Buffer.from(text, 'utf8'));
const uuid = (text: string) => new sharedPb.UUID().setString(text);

const readReq = (configure: (options: InstanceType<typeof streamsPb.ReadReq.Options>) => void): Uint8Array => {
  const options = new streamsPb.ReadReq.Options();
  configure(options);
  return new streamsPb.ReadReq().setOptions(options).serializeBinary();
};

const streamRead = (stream: string, revision: string | undefined, count: string) =>
  readReq((o) => {
    const s = new streamsPb.ReadReq.Options.StreamOptions().setStreamIdentifier(id(stream));
    if (revision === undefined) s.setStart(new sharedPb.Empty());
    else s.setRevision(revision);
    o.setStream(s).setCount(count).setNoFilter(new sharedPb.Empty()).setUuidOption(new streamsPb.ReadReq.Options.UUIDOption().setString(new sharedPb.Empty()));
  });

const allRead = (commit: string, prepare: string, filter?: InstanceType<typeof streamsPb.ReadReq.Options.FilterOptions>) =>
  readReq((o) => {
    o.setAll(
      new streamsPb.ReadReq.Options.AllOptions().setPosition(new streamsPb.ReadReq.Options.Position().setCommitPosition(commit).setPreparePosition(prepare)),
    )
      .setCount('10')
      .setUuidOption(new streamsPb.ReadReq.Options.UUIDOption().setStructured(new sharedPb.Empty()));
    if (filter === undefined) o.setNoFilter(new sharedPb.Empty());
    else o.setFilter(filter);
  });

const appendOptions = (stream: string) =>
  new streamsPb.AppendReq().setOptions(new streamsPb.AppendReq.Options().setStreamIdentifier(id(stream)).setAny(new sharedPb.Empty())).serializeBinary();

const proposed = (eventId: string, metadata: Record<string, string>) => {
  const message = new streamsPb.AppendReq.ProposedMessage().setId(uuid(eventId)).setData(Buffer.from('{}'));
  for (const [key, value] of Object.entries(metadata)) message.getMetadataMap().set(key, value);
  return new streamsPb.AppendReq().setProposedMessage(message).serializeBinary();
};

const batch = (correlation: string | undefined, stream: string, isFinal: boolean) => {
  const req = new streamsPb.BatchAppendReq()
    .setOptions(new streamsPb.BatchAppendReq.Options().setStreamIdentifier(id(stream)).setAny(new emptyPb.Empty()))
    .setIsFinal(isFinal);
  if (correlation !== undefined) req.setCorrelationId(uuid(correlation));
  return req.serializeBinary();
};

const deleteReq = (stream: string, revision?: string) => {
  const options = new streamsPb.DeleteReq.Options().setStreamIdentifier(id(stream));
  if (revision === undefined) options.setAny(new sharedPb.Empty());
  else options.setRevision(revision);
  return new streamsPb.DeleteReq().setOptions(options).serializeBinary();
};

const createSettings = () =>
  new persistentPb.CreateReq.Settings()
    .setMaxRetryCount(1)
    .setReadBatchSize(10)
    .setLiveBufferSize(10)
    .setHistoryBufferSize(10)
    .setMaxCheckpointCount(1)
    .setMessageTimeoutMs(1000)
    .setCheckpointAfterMs(1000)
    .setConsumerStrategy('RoundRobin');

const create = (stream: string, group: string, tweak: (s: InstanceType<typeof persistentPb.CreateReq.Settings>) => void = () => undefined) => {
  const settings = createSettings();
  tweak(settings);
  const options = new persistentPb.CreateReq.Options()
    .setGroupName(group)
    .setStream(new persistentPb.CreateReq.StreamOptions().setStreamIdentifier(id(stream)).setStart(new sharedPb.Empty()))
    .setSettings(settings);
  return new persistentPb.CreateReq().setOptions(options).serializeBinary();
};

const persistentRead = (stream: string, group: string) =>
  new persistentPb.ReadReq()
    .setOptions(
      new persistentPb.ReadReq.Options()
        .setStreamIdentifier(id(stream))
        .setGroupName(group)
        .setBufferSize(10)
        .setUuidOption(new persistentPb.ReadReq.Options.UUIDOption().setString(new sharedPb.Empty())),
    )
    .serializeBinary();

const ack = (ids: string[]) => new persistentPb.ReadReq().setAck(new persistentPb.ReadReq.Ack().setIdsList(ids.map(uuid))).serializeBinary();

/** Every RPC, each with inputs a well-behaved client never sends. */
export const hostileCalls = (stream: string): HostileCall[] => {
  const calls: HostileCall[] = [];
  const add = (name: string, path: string, kind: CallKind, messages: readonly Uint8Array[]): void => {
    calls.push({ name, path, kind, messages });
  };
  for (const [label, bytes] of [
    ['garbage', garbage],
    ['empty', empty],
  ] as const) {
    add(`Streams.Read ${label}`, `${STREAMS}/Read`, 'server', [bytes]);
    add(`Streams.Append ${label}`, `${STREAMS}/Append`, 'client', [bytes]);
    add(`Streams.BatchAppend ${label}`, `${STREAMS}/BatchAppend`, 'bidi', [bytes]);
    add(`Streams.Delete ${label}`, `${STREAMS}/Delete`, 'unary', [bytes]);
    add(`Streams.Tombstone ${label}`, `${STREAMS}/Tombstone`, 'unary', [bytes]);
    for (const method of ['Create', 'Update', 'Delete', 'GetInfo', 'List', 'ReplayParked'])
      add(`Persistent.${method} ${label}`, `${PERSISTENT}/${method}`, 'unary', [bytes]);
    add(`Persistent.Read ${label}`, `${PERSISTENT}/Read`, 'bidi', [bytes]);
  }
  add('ServerFeatures garbage', `${FEATURES}/GetSupportedMethods`, 'unary', [garbage]);
  add('Streams.Read count 2^64-1', `${STREAMS}/Read`, 'server', [streamRead(stream, undefined, '18446744073709551615')]);
  add('Streams.Read revision 2^64-1', `${STREAMS}/Read`, 'server', [streamRead(stream, '18446744073709551615', '1')]);
  add('Streams.Read $all prepare above commit', `${STREAMS}/Read`, 'server', [allRead('1', '2')]);
  add('Streams.Read invalid regex', `${STREAMS}/Read`, 'server', [
    allRead(
      '0',
      '0',
      new streamsPb.ReadReq.Options.FilterOptions()
        .setStreamIdentifier(new streamsPb.ReadReq.Options.FilterOptions.Expression().setRegex('(('))
        .setMax(10)
        .setCheckpointintervalmultiplier(1),
    ),
  ]);
  add('Streams.Read filter without window', `${STREAMS}/Read`, 'server', [
    allRead(
      '0',
      '0',
      new streamsPb.ReadReq.Options.FilterOptions().setEventType(new streamsPb.ReadReq.Options.FilterOptions.Expression().setPrefixList(['a'])),
    ),
  ]);
  add('Streams.Append events before options', `${STREAMS}/Append`, 'client', [
    proposed('8b0c9c8e-54a3-4b6a-9a57-2c1f7a3c2d10', { type: 'T', 'content-type': 'application/json' }),
  ]);
  add('Streams.Append no type', `${STREAMS}/Append`, 'client', [
    appendOptions(stream),
    proposed('8b0c9c8e-54a3-4b6a-9a57-2c1f7a3c2d11', { 'content-type': 'application/json' }),
  ]);
  add('Streams.Append bad event id', `${STREAMS}/Append`, 'client', [
    appendOptions(stream),
    proposed('not-a-uuid', { type: 'T', 'content-type': 'application/json' }),
  ]);
  add('Streams.Append options twice', `${STREAMS}/Append`, 'client', [appendOptions(stream), appendOptions(stream)]);
  add('Streams.BatchAppend no correlation', `${STREAMS}/BatchAppend`, 'bidi', [batch(undefined, stream, true)]);
  add('Streams.BatchAppend never final', `${STREAMS}/BatchAppend`, 'bidi', [batch('8b0c9c8e-54a3-4b6a-9a57-2c1f7a3c2d12', stream, false)]);
  add('Streams.Delete revision 2^64-1', `${STREAMS}/Delete`, 'unary', [deleteReq(stream, '18446744073709551615')]);
  add('Streams.Delete no expected revision', `${STREAMS}/Delete`, 'unary', [
    new streamsPb.DeleteReq().setOptions(new streamsPb.DeleteReq.Options().setStreamIdentifier(id(stream))).serializeBinary(),
  ]);
  add('Persistent.Create zero sizes', `${PERSISTENT}/Create`, 'unary', [
    create(stream, 'hostile-zero', (s) => s.setReadBatchSize(0).setHistoryBufferSize(0).setLiveBufferSize(0)),
  ]);
  add('Persistent.Create unknown strategy', `${PERSISTENT}/Create`, 'unary', [create(stream, 'hostile-strategy', (s) => s.setConsumerStrategy('Nope'))]);
  add('Persistent.Create negative retry', `${PERSISTENT}/Create`, 'unary', [create(stream, 'hostile-retry', (s) => s.setMaxRetryCount(-1))]);
  add('Persistent.Create no group name', `${PERSISTENT}/Create`, 'unary', [create(stream, '')]);
  add('Persistent.Read unknown group', `${PERSISTENT}/Read`, 'bidi', [persistentRead(stream, 'no-such-group')]);
  add('Persistent.Read ack before options', `${PERSISTENT}/Read`, 'bidi', [ack(['8b0c9c8e-54a3-4b6a-9a57-2c1f7a3c2d13'])]);
  return calls;
};

/** Sends one hostile call and resolves with the status the server ended it with. */
export const sendHostile = (address: string, call: HostileCall, credentials = grpc.credentials.createInsecure()): Promise<grpc.StatusObject> =>
  new Promise((resolve) => {
    const client = new grpc.Client(address, credentials);
    const identity = (b: Buffer): Buffer => b;
    const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b);
    const done = (status: grpc.StatusObject): void => {
      client.close();
      resolve(status);
    };
    switch (call.kind) {
      case 'unary':
        client.makeUnaryRequest(call.path, toBuffer, identity, call.messages[0]!, () => undefined).on('status', done);
        return;
      case 'server': {
        const stream = client.makeServerStreamRequest(call.path, toBuffer, identity, call.messages[0]!);
        stream
          .on('data', () => undefined)
          .on('error', () => undefined)
          .on('status', done);
        return;
      }
      case 'client': {
        const stream = client.makeClientStreamRequest(call.path, toBuffer, identity, () => undefined);
        stream.on('status', done);
        for (const message of call.messages) stream.write(message);
        stream.end();
        return;
      }
      case 'bidi': {
        const stream = client.makeBidiStreamRequest(call.path, toBuffer, identity);
        stream
          .on('data', () => undefined)
          .on('error', () => undefined)
          .on('status', done);
        for (const message of call.messages) stream.write(message);
        stream.end();
        return;
      }
      default: {
        const never: never = call.kind;
        throw new Error(String(never));
      }
    }
  });
