import { randomUUID } from 'node:crypto';
import grpc from '@grpc/grpc-js';
import type { Clock } from '../clock.js';
import { createFilter } from '../filters.js';
import { silentLog, type ServerLog } from '../log.js';
import { parkedStreamOf, SubscriptionGroup, type Consumer, type Delivery, type NackAction } from '../persistent/group.js';
import {
  deserializeDefinition,
  serializeDefinition,
  type ConsumerStrategy,
  type GroupDefinition,
  type GroupFilter,
  type GroupSettings,
  type StartFrom,
} from '../persistent/settings.js';
import { persistentPb, sharedPb } from '../proto.js';
import {
  Exceptions,
  isMalformed,
  type ServiceHandlers,
  parseStreamName,
  parseUint64,
  parseUuid,
  toRpcError,
} from '../rpc.js';
import { encodeReadEventResp } from '../wire/read-resp-encoder.js';
import { ALL_STREAM, DELETED_STREAM, type EventStoreCore } from '../store.js';

type CreateReq = InstanceType<typeof persistentPb.CreateReq>;
type UpdateReq = InstanceType<typeof persistentPb.UpdateReq>;
type DeleteReq = InstanceType<typeof persistentPb.DeleteReq>;
type GetInfoReq = InstanceType<typeof persistentPb.GetInfoReq>;
type ListReq = InstanceType<typeof persistentPb.ListReq>;
type ReplayParkedReq = InstanceType<typeof persistentPb.ReplayParkedReq>;
type ReadReq = InstanceType<typeof persistentPb.ReadReq>;
type ReadResp = InstanceType<typeof persistentPb.ReadResp>;
type SettingsPb = InstanceType<typeof persistentPb.CreateReq.Settings> | InstanceType<typeof persistentPb.UpdateReq.Settings>;
type SubscriptionInfo = InstanceType<typeof persistentPb.SubscriptionInfo>;

const MAX_UINT64 = 18446744073709551615n;
const TICK_MS = 50;

const groupKey = (source: string, group: string): string => `${source}\u0000${group}`;

const STRATEGY_BY_ENUM: Record<number, ConsumerStrategy> = { 0: 'DispatchToSingle', 1: 'RoundRobin', 2: 'Pinned' };

const unary =
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
const parseSettings = (settings: SettingsPb | undefined, startFrom: StartFrom): GroupSettings => {
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
  const minCheckpointCount = nonNegative(settings.getMinCheckpointCount(), 'min_checkpoint_count');
  const maxCheckpointCount = nonNegative(settings.getMaxCheckpointCount(), 'max_checkpoint_count');
  if (minCheckpointCount > maxCheckpointCount)
    throw Exceptions.invalidArgument('min_checkpoint_count must not exceed max_checkpoint_count');
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

/** The PersistentSubscriptions gRPC service and the registry of groups. */
export class PersistentSubscriptionsService {
  readonly #groups = new Map<string, SubscriptionGroup>();
  #ticker: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #pumpScheduled = false;

  constructor(
    private readonly store: EventStoreCore,
    private readonly clock: Clock,
    private readonly log: ServerLog = silentLog,
  ) {}

  /** Loads the groups and checkpoints saved by the engine and starts ticking. */
  start(): void {
    const checkpoints = new Map(
      this.store.engine.loadCheckpoints().map((c) => [groupKey(c.source, c.group), BigInt(c.checkpoint)] as const),
    );
    for (const record of this.store.engine.loadGroups()) {
      const key = groupKey(record.source, record.group);
      this.#groups.set(
        key,
        this.#newGroup(record.source, record.group, deserializeDefinition(record.settings), checkpoints.get(key)),
      );
    }
    this.#unsubscribe = this.store.onAppend(() => this.#schedulePump());
    this.#ticker = setInterval(() => {
      for (const group of this.#groups.values()) group.tick();
    }, TICK_MS);
    this.#ticker.unref();
  }

  /** Flushes checkpoints and stops timers (graceful shutdown). */
  stop(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const group of this.#groups.values()) group.stop();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      for (const group of this.#groups.values()) group.guarded(() => group.pump());
    });
  }

  #newGroup(source: string, group: string, definition: GroupDefinition, checkpoint: bigint | undefined): SubscriptionGroup {
    return new SubscriptionGroup(source, group, definition, checkpoint, this.store, this.clock, (value) =>
      this.store.engine.saveCheckpoint({ source, group, checkpoint: value.toString() }),
      this.log,
    );
  }

  implementation(): ServiceHandlers {
    return {
      create: unary((request: CreateReq) => {
        this.#create(request);
        return new persistentPb.CreateResp();
      }),
      update: unary((request: UpdateReq) => {
        this.#update(request);
        return new persistentPb.UpdateResp();
      }),
      delete: unary((request: DeleteReq) => {
        this.#delete(request);
        return new persistentPb.DeleteResp();
      }),
      getInfo: unary((request: GetInfoReq) => this.#getInfo(request)),
      list: unary((request: ListReq) => this.#list(request)),
      replayParked: unary((request: ReplayParkedReq) => {
        this.#replayParked(request);
        return new persistentPb.ReplayParkedResp();
      }),
      restartSubsystem: unary(() => {
        for (const group of this.#groups.values()) group.flushCheckpoint();
        return new sharedPb.Empty();
      }),
      read: (call: grpc.ServerDuplexStream<ReadReq, ReadResp | Uint8Array>) => this.#read(call),
    };
  }

  // ------------------------------------------------------------------ management

  #resolveInitialCursor(source: string, startFrom: StartFrom): bigint {
    if (source === ALL_STREAM) {
      switch (startFrom.kind) {
        case 'start':
          return 0n;
        case 'end':
          return this.store.lastPosition();
        case 'at':
          return startFrom.value > 0n ? startFrom.value - 1n : 0n;
        default: {
          const never: never = startFrom;
          return never;
        }
      }
    }
    switch (startFrom.kind) {
      case 'start':
        return -1n;
      case 'end': {
        const last = this.store.streamLastRevision(source);
        return last === undefined || last === DELETED_STREAM ? -1n : last;
      }
      case 'at':
        return startFrom.value - 1n;
      default: {
        const never: never = startFrom;
        return never;
      }
    }
  }

  #parseStreamSource(
    streamOptions: StreamSourceOptions | undefined,
    legacyIdentifier: InstanceType<typeof sharedPb.StreamIdentifier> | undefined,
    legacyRevision: string,
  ): { source: string; startFrom: StartFrom } {
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
  }

  #parseAllStart(all: AllSourceOptions): StartFrom {
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
  }

  #requireGroupName(name: string): string {
    if (name.length === 0) throw Exceptions.invalidArgument("'group_name' is required");
    return name;
  }

  #create(request: CreateReq): void {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    const group = this.#requireGroupName(options.getGroupName());
    const settingsPb = options.getSettings();
    let source: string;
    let startFrom: StartFrom;
    let filter: GroupFilter | undefined;
    if (options.hasAll()) {
      const all = options.getAll()!;
      source = ALL_STREAM;
      startFrom = this.#parseAllStart(all);
      if (all.hasFilter()) {
        const f = all.getFilter()!;
        const on = f.hasStreamIdentifier() ? 'stream' : f.hasEventType() ? 'event_type' : undefined;
        if (on === undefined) throw Exceptions.invalidArgument('filter must be on stream_identifier or event_type');
        const expression = (on === 'stream' ? f.getStreamIdentifier() : f.getEventType())!;
        filter = {
          on,
          regex: expression.getRegex(),
          prefixes: expression.getPrefixList(),
          checkpointIntervalMultiplier: f.getCheckpointintervalmultiplier(),
        };
        createFilter(on, filter); // validates the regex
      }
    } else {
      ({ source, startFrom } = this.#parseStreamSource(
        options.hasStream() ? options.getStream() : undefined,
        options.getStreamIdentifier(),
        settingsPb?.getRevision() ?? '',
      ));
    }
    const settings = parseSettings(settingsPb, startFrom);
    const key = groupKey(source, group);
    if (this.#groups.has(key)) throw Exceptions.persistentSubscriptionExists(source, group);
    const definition: GroupDefinition = {
      settings,
      ...(filter === undefined ? {} : { filter }),
      initialCursor: this.#resolveInitialCursor(source, startFrom),
    };
    this.store.engine.saveGroup({ source, group, settings: serializeDefinition(definition) });
    this.#groups.set(key, this.#newGroup(source, group, definition, undefined));
  }

  #update(request: UpdateReq): void {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    const group = this.#requireGroupName(options.getGroupName());
    const settingsPb = options.getSettings();
    let source: string;
    let startFrom: StartFrom;
    if (options.hasAll()) {
      source = ALL_STREAM;
      startFrom = this.#parseAllStart(options.getAll()!);
    } else {
      ({ source, startFrom } = this.#parseStreamSource(
        options.hasStream() ? options.getStream() : undefined,
        options.getStreamIdentifier(),
        settingsPb?.getRevision() ?? '',
      ));
    }
    const existing = this.#groups.get(groupKey(source, group));
    if (existing === undefined) throw Exceptions.persistentSubscriptionDoesNotExist(source, group);
    const settings = parseSettings(settingsPb, startFrom);
    const definition: GroupDefinition = { ...existing.definition, settings };
    this.store.engine.saveGroup({ source, group, settings: serializeDefinition(definition) });
    existing.update(definition);
  }

  #sourceOf(options: {
    hasAll(): boolean;
    getStreamIdentifier(): InstanceType<typeof sharedPb.StreamIdentifier> | undefined;
  }): string {
    return options.hasAll() ? ALL_STREAM : parseStreamName(options.getStreamIdentifier());
  }

  #existing(source: string, group: string): SubscriptionGroup {
    const found = this.#groups.get(groupKey(source, group));
    if (found === undefined) throw Exceptions.persistentSubscriptionDoesNotExist(source, group);
    return found;
  }

  #delete(request: DeleteReq): void {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    const source = this.#sourceOf(options);
    const group = this.#requireGroupName(options.getGroupName());
    const existing = this.#existing(source, group);
    this.#groups.delete(groupKey(source, group));
    existing.dropAll(Exceptions.persistentSubscriptionDoesNotExist(source, group));
    this.store.engine.deleteGroup(source, group);
    const parked = parkedStreamOf(source, group);
    const last = this.store.streamLastRevision(parked);
    if (last !== undefined && last !== DELETED_STREAM) this.store.delete(parked, { kind: 'any' }, false);
  }

  #getInfo(request: GetInfoReq): InstanceType<typeof persistentPb.GetInfoResp> {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    const source = this.#sourceOf(options);
    const existing = this.#existing(source, this.#requireGroupName(options.getGroupName()));
    return new persistentPb.GetInfoResp().setSubscriptionInfo(this.#info(existing));
  }

  #list(request: ListReq): InstanceType<typeof persistentPb.ListResp> {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    let groups = [...this.#groups.values()];
    if (options.hasListForStream()) {
      const forStream = options.getListForStream()!;
      const source = forStream.hasAll() ? ALL_STREAM : parseStreamName(forStream.getStream());
      groups = groups.filter((g) => g.source === source);
      if (groups.length === 0) throw Exceptions.persistentSubscriptionDoesNotExist(source, '');
    } else if (!options.hasListAllSubscriptions()) {
      throw Exceptions.invalidArgument('list option is required');
    }
    return new persistentPb.ListResp().setSubscriptionsList(groups.map((g) => this.#info(g)));
  }

  #replayParked(request: ReplayParkedReq): void {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    const source = this.#sourceOf(options);
    const existing = this.#existing(source, this.#requireGroupName(options.getGroupName()));
    const stopAt = options.hasStopAt() ? parseUint64(options.getStopAt(), 'stop_at') : undefined;
    existing.replayParked(stopAt);
  }

  #info(group: SubscriptionGroup): SubscriptionInfo {
    const s = group.settings;
    const stats = group.stats();
    const isAll = group.isAll;
    const cursorText = (value: bigint | undefined): string => {
      if (value === undefined) return '';
      return isAll ? `C:${value}/P:${value}` : value.toString();
    };
    let startFrom: string;
    switch (s.startFrom.kind) {
      case 'start':
        startFrom = isAll ? 'C:0/P:0' : '0';
        break;
      case 'end':
        startFrom = isAll ? 'C:-1/P:-1' : '-1';
        break;
      case 'at':
        startFrom = isAll ? `C:${s.startFrom.value}/P:${s.startFrom.value}` : s.startFrom.value.toString();
        break;
      default: {
        const never: never = s.startFrom;
        return never;
      }
    }
    const connections = group.consumers.map((c) =>
      new persistentPb.SubscriptionInfo.ConnectionInfo()
        .setFrom(c.from)
        .setUsername('')
        .setAverageItemsPerSecond(0)
        .setTotalItems(String(c.totalItems))
        .setCountSinceLastMeasurement('0')
        .setAvailableSlots(Math.max(0, c.bufferSize - c.inFlight))
        .setInFlightMessages(c.inFlight)
        .setConnectionName(c.connectionName),
    );
    return new persistentPb.SubscriptionInfo()
      .setEventSource(group.source)
      .setGroupName(group.group)
      .setStatus('Live')
      .setConnectionsList(connections)
      .setAveragePerSecond(0)
      .setTotalItems(String(stats.totalItems))
      .setCountSinceLastMeasurement('0')
      .setLastCheckpointedEventPosition(cursorText(stats.lastCheckpoint))
      .setLastKnownEventPosition(cursorText(stats.lastKnown))
      .setResolveLinkTos(s.resolveLinks)
      .setStartFrom(startFrom)
      .setMessageTimeoutMilliseconds(s.messageTimeoutMs)
      .setExtraStatistics(s.extraStatistics)
      .setMaxRetryCount(s.maxRetryCount)
      .setLiveBufferSize(s.liveBufferSize)
      .setBufferSize(s.historyBufferSize)
      .setReadBatchSize(s.readBatchSize)
      .setCheckPointAfterMilliseconds(s.checkpointAfterMs)
      .setMinCheckPointCount(s.minCheckpointCount)
      .setMaxCheckPointCount(s.maxCheckpointCount)
      .setReadBufferCount(stats.readBufferCount)
      .setLiveBufferCount('0')
      .setRetryBufferCount(stats.retryBufferCount)
      .setTotalInFlightMessages(stats.inFlight)
      .setOutstandingMessagesCount(stats.inFlight)
      .setNamedConsumerStrategy(s.strategy)
      .setMaxSubscriberCount(s.maxSubscriberCount)
      .setParkedMessageCount(group.parkedMessageCount().toString());
  }

  // ------------------------------------------------------------------ consumers

  #read(call: grpc.ServerDuplexStream<ReadReq, ReadResp | Uint8Array>): void {
    let consumer: Consumer | undefined;
    let group: SubscriptionGroup | undefined;
    let structured = false;
    let ended = false;
    const fail = (error: unknown): void => {
      if (ended) return;
      ended = true;
      if (consumer !== undefined) group?.removeConsumer(consumer);
      call.emit('error', toRpcError(error).toStatus());
    };
    const leave = (): void => {
      if (consumer !== undefined) group?.removeConsumer(consumer);
      consumer = undefined;
    };
    call.on('data', (request: unknown) => {
      if (ended) return;
      try {
        if (isMalformed(request)) throw Exceptions.invalidArgument(`Malformed ReadReq: ${request.reason}`);
        const req = request as ReadReq;
        const { ContentCase } = persistentPb.ReadReq;
        if (group === undefined) {
          if (req.getContentCase() !== ContentCase.OPTIONS)
            throw Exceptions.invalidArgument('the first ReadReq must carry options');
          const options = req.getOptions()!;
          const source = this.#sourceOf(options);
          const name = this.#requireGroupName(options.getGroupName());
          const found = this.#existing(source, name);
          const max = found.settings.maxSubscriberCount;
          if (max > 0 && found.consumers.length >= max) throw Exceptions.maximumSubscribersReached(source, name);
          structured =
            options.getUuidOption()?.getContentCase() === persistentPb.ReadReq.Options.UUIDOption.ContentCase.STRUCTURED;
          group = found;
          const metadataName = call.metadata.get('connection-name')[0];
          consumer = {
            id: randomUUID(),
            connectionName: typeof metadataName === 'string' ? metadataName : '<unknown>',
            from: call.getPeer(),
            bufferSize: Math.max(1, options.getBufferSize()),
            inFlight: 0,
            totalItems: 0,
            send: (delivery) => {
              if (!ended && !call.cancelled) call.write(this.#toReadResp(delivery, structured));
            },
            drop: (error) => {
              consumer = undefined;
              fail(error);
            },
          };
          call.write(
            new persistentPb.ReadResp().setSubscriptionConfirmation(
              new persistentPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(`${source}::${name}`),
            ),
          );
          found.addConsumer(consumer);
          return;
        }
        if (consumer === undefined) return;
        switch (req.getContentCase()) {
          case ContentCase.ACK:
            group.ack(
              consumer,
              req.getAck()!.getIdsList().map((id) => parseUuid(id, 'ack.ids')),
            );
            return;
          case ContentCase.NACK: {
            const nack = req.getNack()!;
            group.nack(
              consumer,
              nack.getIdsList().map((id) => parseUuid(id, 'nack.ids')),
              this.#nackAction(nack.getAction()),
              nack.getReason(),
            );
            return;
          }
          default:
            throw Exceptions.invalidArgument('ReadReq must carry ack or nack after the options');
        }
      } catch (error) {
        fail(error);
      }
    });
    call.on('end', () => {
      leave();
      if (!ended) {
        ended = true;
        call.end();
      }
    });
    call.on('cancelled', () => {
      ended = true;
      leave();
    });
    call.on('error', () => {
      ended = true;
      leave();
    });
  }

  #nackAction(action: ReturnType<InstanceType<typeof persistentPb.ReadReq.Nack>['getAction']>): NackAction {
    const { Action } = persistentPb.ReadReq.Nack;
    switch (action) {
      case Action.UNKNOWN:
        return 'unknown';
      case Action.PARK:
        return 'park';
      case Action.RETRY:
        return 'retry';
      case Action.SKIP:
        return 'skip';
      case Action.STOP:
        return 'stop';
      default:
        throw Exceptions.invalidArgument(`'${String(action)}' is not a valid nack action`);
    }
  }

  /** A delivery as the wire bytes of its ReadResp (see wire/read-resp-encoder.ts): the delivery's position and retry count. */
  #toReadResp(delivery: Delivery, structured: boolean): Uint8Array {
    return encodeReadEventResp(delivery.event, delivery.link, structured, delivery.position, { recordedPosition: delivery.position, retryCount: delivery.retryCount });
  }
}
