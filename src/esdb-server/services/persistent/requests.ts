import type grpc from '@grpc/grpc-js';
import type { ConsumerStrategy, GroupSettings, StartFrom } from '../../persistent/settings.js';
import { persistentPb, type sharedPb } from '../../proto.js';
import { Exceptions, isMalformed, parseStreamName, parseUint64, toRpcError } from '../../rpc.js';
import { ALL_STREAM } from '../../store.js';

/** Parsing of the PersistentSubscriptions requests: settings, sources, start positions, names. */

type SettingsPb = InstanceType<typeof persistentPb.CreateReq.Settings> | InstanceType<typeof persistentPb.UpdateReq.Settings>;

const MAX_UINT64 = 18446744073709551615n;

const STRATEGY_BY_ENUM: Record<number, ConsumerStrategy> = { 0: 'DispatchToSingle', 1: 'RoundRobin', 2: 'Pinned' };

/** A unary handler whose result or error becomes the call's answer. */
export const unary =
  <Req, Resp>(handler: (request: Req, call: grpc.ServerUnaryCall<Req, Resp>) => Resp) =>
  (call: grpc.ServerUnaryCall<Req, Resp>, callback: grpc.sendUnaryData<Resp>): void => {
    try {
      const request: unknown = call.request;
      if (isMalformed(request)) throw Exceptions.invalidArgument(`Malformed request: ${request.reason}`);
      callback(null, handler(call.request, call));
    } catch (error) {
      callback(toRpcError(error).toStatus());
    }
  };

const nonNegative = (value: number, field: string): number => {
  if (!Number.isInteger(value) || value < 0) throw Exceptions.invalidArgument(`'${field}' must not be negative`);
  return value;
};

const positive = (value: number, field: string): number => {
  if (!Number.isInteger(value) || value <= 0) throw Exceptions.invalidArgument(`'${field}' must be positive`);
  return value;
};

/** Settings common to Create and Update; the start position is resolved by the caller. */
export const parseSettings = (settings: SettingsPb | undefined, startFrom: StartFrom): GroupSettings => {
  if (settings === undefined) throw Exceptions.invalidArgument("'settings' is required");
  const { MessageTimeoutCase, CheckpointAfterCase } = persistentPb.CreateReq.Settings;
  const messageTimeoutMs =
    settings.getMessageTimeoutCase() === MessageTimeoutCase.MESSAGE_TIMEOUT_MS
      ? settings.getMessageTimeoutMs()
      : settings.getMessageTimeoutCase() === MessageTimeoutCase.MESSAGE_TIMEOUT_TICKS
        ? Number(parseUint64(settings.getMessageTimeoutTicks(), 'message_timeout_ticks') / 10_000n)
        : 30_000;
  const checkpointAfterMs =
    settings.getCheckpointAfterCase() === CheckpointAfterCase.CHECKPOINT_AFTER_MS
      ? settings.getCheckpointAfterMs()
      : settings.getCheckpointAfterCase() === CheckpointAfterCase.CHECKPOINT_AFTER_TICKS
        ? Number(parseUint64(settings.getCheckpointAfterTicks(), 'checkpoint_after_ticks') / 10_000n)
        : 2_000;
  const named = 'getConsumerStrategy' in settings ? settings.getConsumerStrategy() : '';
  let strategy: ConsumerStrategy | undefined;
  if (named.length > 0) {
    if (named === 'RoundRobin' || named === 'DispatchToSingle' || named === 'Pinned') strategy = named;
    else throw Exceptions.invalidArgument(`Unknown consumer strategy '${named}'`);
  } else strategy = STRATEGY_BY_ENUM[settings.getNamedConsumerStrategy()];
  if (strategy === undefined) throw Exceptions.invalidArgument('Unknown named consumer strategy');
  // EventStoreDB accepts a lower bound above the upper one (the upper then checkpoints first).
  const minCheckpointCount = nonNegative(settings.getMinCheckpointCount(), 'min_checkpoint_count');
  const maxCheckpointCount = nonNegative(settings.getMaxCheckpointCount(), 'max_checkpoint_count');
  return {
    resolveLinks: settings.getResolveLinks(),
    extraStatistics: settings.getExtraStatistics(),
    maxRetryCount: nonNegative(settings.getMaxRetryCount(), 'max_retry_count'),
    minCheckpointCount,
    maxCheckpointCount,
    maxSubscriberCount: nonNegative(settings.getMaxSubscriberCount(), 'max_subscriber_count'),
    liveBufferSize: positive(settings.getLiveBufferSize(), 'live_buffer_size'),
    readBatchSize: positive(settings.getReadBatchSize(), 'read_batch_size'),
    historyBufferSize: positive(settings.getHistoryBufferSize(), 'history_buffer_size'),
    strategy,
    messageTimeoutMs: nonNegative(messageTimeoutMs, 'message_timeout'),
    checkpointAfterMs: nonNegative(checkpointAfterMs, 'checkpoint_after'),
    startFrom,
  };
};

const revisionStart = (revision: bigint): StartFrom =>
  revision === MAX_UINT64 ? { kind: 'end' } : revision === 0n ? { kind: 'start' } : { kind: 'at', value: revision };

interface StreamSourceOptions {
  hasStreamIdentifier(): boolean;
  getStreamIdentifier(): InstanceType<typeof sharedPb.StreamIdentifier> | undefined;
  getRevisionOptionCase(): number;
  getRevision(): string;
}

interface AllSourceOptions {
  getAllOptionCase(): number;
  getPosition(): { getCommitPosition(): string; getPreparePosition(): string } | undefined;
}

/** The stream and start of a stream group, from the stream options or the v6 client's deprecated fields. */
export const parseStreamSource = (
  streamOptions: StreamSourceOptions | undefined,
  legacyIdentifier: InstanceType<typeof sharedPb.StreamIdentifier> | undefined,
  legacyRevision: string,
): { source: string; startFrom: StartFrom } => {
  if (streamOptions !== undefined) {
    const source = parseStreamName(streamOptions.getStreamIdentifier());
    // RevisionOptionCase: 2 = revision, 3 = start, 4 = end
    switch (streamOptions.getRevisionOptionCase()) {
      case 2:
        return { source, startFrom: revisionStart(parseUint64(streamOptions.getRevision(), 'revision')) };
      case 3:
        return { source, startFrom: { kind: 'start' } };
      case 4:
        return { source, startFrom: { kind: 'end' } };
      default:
        throw Exceptions.invalidArgument('stream revision option is required');
    }
  }
  // the v6 client still sends the deprecated stream_identifier + settings.revision
  const source = parseStreamName(legacyIdentifier);
  return { source, startFrom: revisionStart(parseUint64(legacyRevision || '0', 'settings.revision')) };
};

/** The start of a `$all` group. */
export const parseAllStart = (all: AllSourceOptions): StartFrom => {
  // AllOptionCase: 1 = position, 2 = start, 3 = end
  switch (all.getAllOptionCase()) {
    case 1: {
      const position = all.getPosition()!;
      const commit = parseUint64(position.getCommitPosition(), 'commit_position');
      parseUint64(position.getPreparePosition(), 'prepare_position');
      return commit === 0n ? { kind: 'start' } : commit === MAX_UINT64 ? { kind: 'end' } : { kind: 'at', value: commit };
    }
    case 2:
      return { kind: 'start' };
    case 3:
      return { kind: 'end' };
    default:
      throw Exceptions.invalidArgument('$all position option is required');
  }
};

export const requireGroupName = (name: string): string => {
  if (name.length === 0) throw Exceptions.invalidArgument("'group_name' is required");
  return name;
};

export const sourceOf = (options: { hasAll(): boolean; getStreamIdentifier(): InstanceType<typeof sharedPb.StreamIdentifier> | undefined }): string =>
  options.hasAll() ? ALL_STREAM : parseStreamName(options.getStreamIdentifier());
