import { randomUUID } from 'node:crypto';
import type { SubscriptionGroup } from '../../persistent/group.js';
import type { GroupFilter, StartFrom } from '../../persistent/settings.js';
import { ALL_STREAM, DELETED_STREAM, METADATA_EVENT_TYPE, metastreamOf, type EventStoreCore, type ProposedEvent } from '../../store.js';

/**
 * The system streams EventStoreDB keeps its persistent subscriptions in, written here too so a
 * client reading `$all` or these streams sees what it would see there:
 * - `$persistentSubscriptionConfig`: after every create, update and delete, a `$PersistentConfig`
 *   event holding every group (PersistentSubscriptionConfig, camel-cased), `$maxCount` 2;
 * - `$persistentsubscription-<source>::<group>-checkpoint`: a `$SubscriptionCheckpoint` event per
 *   checkpoint, its data the position as a JSON string, `$maxCount` 2 and admin-only ACL, written
 *   first (PersistentSubscriptionCheckpointWriter); soft-deleted with its group.
 * The engine's own group and checkpoint tables stay what the server restarts from.
 */
export const CONFIG_STREAM = '$persistentSubscriptionConfig';
export const CONFIG_EVENT_TYPE = '$PersistentConfig';
export const CHECKPOINT_EVENT_TYPE = '$SubscriptionCheckpoint';

export const checkpointStreamOf = (source: string, group: string): string => `$persistentsubscription-${source}::${group}-checkpoint`;

const json = (type: string, value: unknown): ProposedEvent => ({
  eventId: randomUUID(),
  type,
  contentType: 'application/json',
  data: Buffer.from(JSON.stringify(value), 'utf8'),
  metadata: new Uint8Array(0),
});

/** Writes `metadata` to the stream's metastream unless the stream has events already. */
const configureNewStream = (store: EventStoreCore, streamId: string, metadata: Record<string, unknown>): void => {
  if (store.streamLastRevision(streamId) !== undefined) return;
  store.appendSystem(metastreamOf(streamId), json(METADATA_EVENT_TYPE, metadata));
};

/** A position as EventStoreDB prints it: a revision for a stream, `C:<commit>/P:<prepare>` in `$all`. */
const positionText = (isAll: boolean, value: bigint): string => (isAll ? `C:${value}/P:${value}` : value.toString());

const startText = (isAll: boolean, startFrom: StartFrom): string => {
  switch (startFrom.kind) {
    case 'start':
      return positionText(isAll, 0n);
    case 'end':
      return positionText(isAll, -1n);
    case 'at':
      return positionText(isAll, startFrom.value);
    default: {
      const never: never = startFrom;
      return never;
    }
  }
};

const filterDto = (filter: GroupFilter | undefined): Record<string, unknown> | null =>
  filter === undefined
    ? null
    : {
        context: filter.on === 'stream' ? 'streamid' : 'eventtype',
        type: filter.regex.length > 0 ? 'regex' : 'prefix',
        data: filter.regex.length > 0 ? filter.regex : filter.prefixes.join(','),
        isAllStream: true,
      };

const entryOf = (group: SubscriptionGroup): Record<string, unknown> => {
  const s = group.settings;
  return {
    stream: group.source,
    group: group.group,
    filter: filterDto(group.definition.filter),
    resolveLinkTos: s.resolveLinks,
    extraStatistics: s.extraStatistics,
    messageTimeout: s.messageTimeoutMs,
    startFrom: group.source === ALL_STREAM || s.startFrom.kind !== 'at' ? (s.startFrom.kind === 'end' ? -1 : 0) : Number(s.startFrom.value),
    startPosition: startText(group.source === ALL_STREAM, s.startFrom),
    liveBufferSize: s.liveBufferSize,
    historyBufferSize: s.historyBufferSize,
    maxRetryCount: s.maxRetryCount,
    readBatchSize: s.readBatchSize,
    preferRoundRobin: s.strategy === 'RoundRobin',
    checkPointAfter: s.checkpointAfterMs,
    minCheckPointCount: s.minCheckpointCount,
    maxCheckPointCount: s.maxCheckpointCount,
    maxSubscriberCount: s.maxSubscriberCount,
    namedConsumerStrategy: s.strategy,
  };
};

/** The whole configuration after a change, as one `$PersistentConfig` event. */
export const writeSubscriptionConfig = (store: EventStoreCore, groups: Iterable<SubscriptionGroup>, updatedBy: string, now: number): void => {
  configureNewStream(store, CONFIG_STREAM, { $maxCount: 2 });
  store.appendSystem(
    CONFIG_STREAM,
    json(CONFIG_EVENT_TYPE, { version: '2', updated: new Date(now).toISOString(), updatedBy, entries: [...groups].map(entryOf) }),
  );
};

/** One checkpoint of a group, as EventStoreDB's checkpoint writer records it. */
export const writeCheckpointEvent = (store: EventStoreCore, source: string, group: string, value: bigint): void => {
  const stream = checkpointStreamOf(source, group);
  configureNewStream(store, stream, {
    $maxCount: 2,
    $acl: { $r: '$admins', $w: '$admins', $d: '$admins', $mr: '$all', $mw: '$admins' },
  });
  store.appendSystem(stream, json(CHECKPOINT_EVENT_TYPE, positionText(source === ALL_STREAM, value)));
};

/** A deleted group's checkpoint stream, soft-deleted as EventStoreDB's checkpoint writer does. */
export const deleteCheckpointStream = (store: EventStoreCore, source: string, group: string): void => {
  const stream = checkpointStreamOf(source, group);
  const last = store.streamLastRevision(stream);
  if (last !== undefined && last !== DELETED_STREAM) store.delete(stream, { kind: 'any' }, false);
};
