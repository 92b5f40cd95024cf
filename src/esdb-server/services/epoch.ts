import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { DELETED_STREAM, type EventStoreCore } from '../store.js';

/**
 * What EventStoreDB writes to `$all` each time a node starts leading: an `$epoch-information`
 * event in the `$epoch-information` stream (EpochManager, camel-cased JSON of the epoch record).
 * A fresh store therefore never has an empty `$all`, and clients that read it see system events
 * first, as they do against EventStoreDB; readers of domain events skip `$` streams.
 */
export const EPOCH_INFORMATION_STREAM = '$epoch-information';
export const EPOCH_INFORMATION_EVENT_TYPE = '$epoch-information';

export interface NodeEpoch {
  readonly instanceId: string;
  readonly epochNumber: number;
}

/** Writes this start's epoch (number one past the last written) and returns it with the node's instance id. */
export const writeEpochInformation = (store: EventStoreCore, clock: Clock): NodeEpoch => {
  const instanceId = randomUUID();
  const last = store.streamLastRevision(EPOCH_INFORMATION_STREAM);
  let epochNumber = 0;
  let prevEpochPosition = -1;
  if (last !== undefined && last !== DELETED_STREAM) {
    const previous = store.lastEventJsonOf(EPOCH_INFORMATION_STREAM) as { epochNumber?: unknown; epochPosition?: unknown } | undefined;
    epochNumber = typeof previous?.epochNumber === 'number' ? previous.epochNumber + 1 : Number(last) + 1;
    prevEpochPosition = typeof previous?.epochPosition === 'number' ? previous.epochPosition : -1;
  }
  const data = {
    epochPosition: Number(store.lastPosition()),
    epochNumber,
    epochId: randomUUID(),
    prevEpochPosition,
    timeStamp: new Date(clock.now()).toISOString(),
    leaderInstanceId: instanceId,
  };
  store.appendSystem(EPOCH_INFORMATION_STREAM, {
    eventId: randomUUID(),
    type: EPOCH_INFORMATION_EVENT_TYPE,
    contentType: 'application/json',
    data: Buffer.from(JSON.stringify(data), 'utf8'),
    metadata: new Uint8Array(0),
  });
  return { instanceId, epochNumber };
};
