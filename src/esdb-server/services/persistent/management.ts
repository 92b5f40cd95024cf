import { createFilter } from '../../filters.js';
import { parkedStreamOf, type Consumer, type SubscriptionGroup } from '../../persistent/group.js';
import { serializeDefinition, type GroupDefinition, type GroupFilter, type GroupSettings, type StartFrom } from '../../persistent/settings.js';
import { persistentPb } from '../../proto.js';
import { Exceptions, MAX_STREAM_NAME_BYTES, parseStreamName, parseUint64 } from '../../rpc.js';
import { ALL_STREAM, DELETED_STREAM, type EventStoreCore } from '../../store.js';
import type { ConsumerDetails } from './consumers.js';
import { subscriptionInfo } from './info.js';
import { deleteCheckpointStream } from './system-streams.js';
import type { GroupRegistry } from './registry.js';
import { parseAllStart, parseSettings, parseStreamSource, requireGroupName, sourceOf } from './requests.js';

type CreateReq = InstanceType<typeof persistentPb.CreateReq>;
type UpdateReq = InstanceType<typeof persistentPb.UpdateReq>;
type DeleteReq = InstanceType<typeof persistentPb.DeleteReq>;
type GetInfoReq = InstanceType<typeof persistentPb.GetInfoReq>;
type ListReq = InstanceType<typeof persistentPb.ListReq>;
type ReplayParkedReq = InstanceType<typeof persistentPb.ReplayParkedReq>;

/**
 * EventStoreDB's PersistentSubscription refuses to be made with a read batch that does not fit in
 * its buffer (the create or update fails: persistent-subscription-failed).
 */
const checkBuffers = (source: string, group: string, settings: GroupSettings): GroupSettings => {
  if (settings.readBatchSize >= settings.historyBufferSize)
    throw Exceptions.persistentSubscriptionFailed(
      source,
      group,
      `ReadBatchSize (${settings.readBatchSize}) may not be greater than or equal to BufferSize (${settings.historyBufferSize})`,
    );
  return settings;
};

/** Create, Update, Delete, GetInfo, List and ReplayParked of subscription groups. */
export class GroupManagement {
  constructor(
    private readonly store: EventStoreCore,
    private readonly groups: GroupRegistry,
    private readonly newGroup: (source: string, group: string, definition: GroupDefinition, checkpoint: bigint | undefined) => SubscriptionGroup,
    private readonly detailsOf: (consumer: Consumer) => ConsumerDetails | undefined,
  ) {}

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

  create(request: CreateReq): void {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    const group = requireGroupName(options.getGroupName());
    const settingsPb = options.getSettings();
    let source: string;
    let startFrom: StartFrom;
    let filter: GroupFilter | undefined;
    if (options.hasAll()) {
      const all = options.getAll()!;
      source = ALL_STREAM;
      startFrom = parseAllStart(all);
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
      ({ source, startFrom } = parseStreamSource(
        options.hasStream() ? options.getStream() : undefined,
        options.getStreamIdentifier(),
        settingsPb?.getRevision() ?? '',
      ));
    }
    const parked = Buffer.byteLength(parkedStreamOf(source, group), 'utf8');
    if (parked > MAX_STREAM_NAME_BYTES)
      throw Exceptions.invalidArgument(`the group's parked stream name would be ${parked} bytes long; a stream name may have at most ${MAX_STREAM_NAME_BYTES}`);
    const settings = checkBuffers(source, group, parseSettings(settingsPb, startFrom));
    if (this.groups.get(source, group) !== undefined) throw Exceptions.persistentSubscriptionExists(source, group);
    const definition: GroupDefinition = {
      settings,
      ...(filter === undefined ? {} : { filter }),
      initialCursor: this.#resolveInitialCursor(source, startFrom),
    };
    this.store.engine.saveGroup({ source, group, settings: serializeDefinition(definition) });
    this.groups.add(this.newGroup(source, group, definition, undefined));
  }

  update(request: UpdateReq): void {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    const group = requireGroupName(options.getGroupName());
    const settingsPb = options.getSettings();
    let source: string;
    let startFrom: StartFrom;
    if (options.hasAll()) {
      source = ALL_STREAM;
      startFrom = parseAllStart(options.getAll()!);
    } else {
      ({ source, startFrom } = parseStreamSource(
        options.hasStream() ? options.getStream() : undefined,
        options.getStreamIdentifier(),
        settingsPb?.getRevision() ?? '',
      ));
    }
    const existing = this.groups.existing(source, group);
    const settings = checkBuffers(source, group, parseSettings(settingsPb, startFrom));
    const definition: GroupDefinition = { ...existing.definition, settings };
    this.store.engine.saveGroup({ source, group, settings: serializeDefinition(definition) });
    existing.update(definition);
  }

  delete(request: DeleteReq): void {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    const source = sourceOf(options);
    const group = requireGroupName(options.getGroupName());
    const existing = this.groups.existing(source, group);
    this.groups.remove(existing);
    existing.dropAll(Exceptions.persistentSubscriptionDoesNotExist(source, group));
    this.store.engine.deleteGroup(source, group);
    const parked = parkedStreamOf(source, group);
    const last = this.store.streamLastRevision(parked);
    if (last !== undefined && last !== DELETED_STREAM) this.store.delete(parked, { kind: 'any' }, false);
    deleteCheckpointStream(this.store, source, group);
  }

  getInfo(request: GetInfoReq): InstanceType<typeof persistentPb.GetInfoResp> {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    const source = sourceOf(options);
    const existing = this.groups.existing(source, requireGroupName(options.getGroupName()));
    return new persistentPb.GetInfoResp().setSubscriptionInfo(subscriptionInfo(existing, this.detailsOf));
  }

  list(request: ListReq): InstanceType<typeof persistentPb.ListResp> {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    let groups = [...this.groups.values()];
    if (options.hasListForStream()) {
      const forStream = options.getListForStream()!;
      const source = forStream.hasAll() ? ALL_STREAM : parseStreamName(forStream.getStream());
      groups = groups.filter((g) => g.source === source);
      if (groups.length === 0) throw Exceptions.persistentSubscriptionDoesNotExist(source, '');
    } else if (!options.hasListAllSubscriptions()) {
      throw Exceptions.invalidArgument('list option is required');
    }
    return new persistentPb.ListResp().setSubscriptionsList(groups.map((g) => subscriptionInfo(g, this.detailsOf)));
  }

  replayParked(request: ReplayParkedReq): void {
    const options = request.getOptions();
    if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
    const source = sourceOf(options);
    const existing = this.groups.existing(source, requireGroupName(options.getGroupName()));
    const stopAt = options.hasStopAt() ? parseUint64(options.getStopAt(), 'stop_at') : undefined;
    existing.replayParked(stopAt);
  }
}
