import type { Consumer, SubscriptionGroup } from '../../persistent/group.js';
import type { ConsumerDetails } from './consumers.js';
import { persistentPb } from '../../proto.js';

type SubscriptionInfo = InstanceType<typeof persistentPb.SubscriptionInfo>;

/** A group as GetInfo and List describe it, cursors in EventStoreDB's text forms. */
export const subscriptionInfo = (group: SubscriptionGroup, detailsOf: (consumer: Consumer) => ConsumerDetails | undefined): SubscriptionInfo => {
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
  const connections = group.consumers.map((c) => {
    const details = detailsOf(c);
    const measurements = (details?.timings?.measurements() ?? []).map(({ key, value }) =>
      new persistentPb.SubscriptionInfo.Measurement().setKey(key).setValue(String(value)),
    );
    return new persistentPb.SubscriptionInfo.ConnectionInfo()
      .setFrom(c.from)
      .setUsername(details?.username ?? '')
      .setAverageItemsPerSecond(0)
      .setTotalItems(String(c.totalItems))
      .setCountSinceLastMeasurement('0')
      .setAvailableSlots(Math.max(0, c.bufferSize - c.inFlight))
      .setInFlightMessages(c.inFlight)
      .setConnectionName(c.connectionName)
      .setObservedMeasurementsList(measurements);
  });
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
};
