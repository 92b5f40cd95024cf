import {
  END,
  START,
  StreamNotFoundError,
  PersistentSubscriptionExistsError,
  eventTypeFilter,
  persistentSubscriptionToAllSettingsFromDefaults,
  persistentSubscriptionToStreamSettingsFromDefaults,
  streamNameFilter,
  type EventStoreDBClient,
  type Filter,
  type PersistentSubscriptionToAllResolvedEvent,
  type PersistentSubscriptionToStreamResolvedEvent,
  type ResolvedEvent,
} from '@eventstore/db-client';

import type {
  NackAction,
  PersistentDelivery,
  PersistentSubscription,
  PersistentSubscriptionSettings,
  PersistentSubscriptionTarget,
  PersistentSubscriptions,
  RecordedEvent,
} from '../event-store.js';
import { InvalidInput } from '../../shared/errors.js';
import { closableStream, type ClosableIterable } from './closable-stream.js';
import { toDomainError, type FailureContext } from './esdb-errors.js';
import { parkedStreamOf, toRecordedEvent } from './esdb-mapping.js';

/** Names that do not start with `$`: the stream-name filter used when no prefixes are given. */
const NON_SYSTEM_STREAMS = '^[^$]';

/** Keeps a subscription open until it finishes, so that the store's `close()` can stop it. */
export type Track = <T>(open: (onFinished: () => void) => ClosableIterable<T>) => ClosableIterable<T>;

/** The client's call, its failure mapped to the domain's errors. */
export async function call<T>(context: FailureContext, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw toDomainError(error, context);
  }
}

/**
 * The EventStoreDB adapter's persistent subscriptions (competing consumers, parking and replay of
 * parked events): half of {@link EsdbEventStore}, on the same client.
 */
export class EsdbPersistentSubscriptions implements PersistentSubscriptions {
  constructor(
    private readonly client: EventStoreDBClient,
    private readonly track: Track,
  ) {}

  async ensureGroup(
    target: PersistentSubscriptionTarget,
    group: string,
    settings: PersistentSubscriptionSettings,
  ): Promise<void> {
    const common = {
      maxRetryCount: settings.maxRetryCount,
      messageTimeout: settings.messageTimeoutMs,
      consumerStrategyName: settings.consumerStrategy,
      ...(settings.checkpointAfterMs === undefined ? {} : { checkPointAfter: settings.checkpointAfterMs }),
      ...(settings.liveBufferSize === undefined ? {} : { liveBufferSize: settings.liveBufferSize }),
    };
    const startFrom = settings.startFrom === 'start' ? START : END;
    try {
      await call({ operation: `ensureGroup '${group}'`, ...streamOf(target) }, () =>
        target.kind !== 'stream'
          ? this.client.createPersistentSubscriptionToAll(
              group,
              persistentSubscriptionToAllSettingsFromDefaults({ ...common, startFrom }),
              { filter: target.kind === 'all' ? prefixFilter(target.streamPrefixes) : eventTypeFilter({ prefixes: [...target.eventTypePrefixes] }) },
            )
          : this.client.createPersistentSubscriptionToStream(
              target.streamId,
              group,
              persistentSubscriptionToStreamSettingsFromDefaults({ ...common, startFrom }),
            ),
      );
    } catch (error) {
      if (error instanceof PersistentSubscriptionExistsError) return;
      throw error;
    }
  }

  subscribe(
    target: PersistentSubscriptionTarget,
    group: string,
    options: { readonly bufferSize?: number } = {},
  ): PersistentSubscription {
    type Delivered = PersistentSubscriptionToAllResolvedEvent | PersistentSubscriptionToStreamResolvedEvent;
    const clientOptions = options.bufferSize === undefined ? {} : { bufferSize: options.bufferSize };
    const subscription =
      target.kind !== 'stream'
        ? this.client.subscribeToPersistentSubscriptionToAll(group, clientOptions)
        : this.client.subscribeToPersistentSubscriptionToStream(target.streamId, group, clientOptions);
    const context: FailureContext = { operation: `persistent subscription '${group}'`, ...streamOf(target) };
    // ack/nack name the delivered record (the link when a parked event is replayed).
    const raw = new WeakMap<PersistentDelivery, Delivered>();
    const rawOf = (delivery: PersistentDelivery): Delivered => {
      const delivered = raw.get(delivery);
      if (delivered === undefined) throw new Error('This delivery did not come from this subscription');
      return delivered;
    };

    const deliveries = this.track((onFinished) =>
      closableStream<Delivered, PersistentDelivery>(subscription, {
        onFinished,
        cancel: () => subscription.unsubscribe(),
        // Not async: a delivery that decodes (all but never) is handed over without a promise.
        transform: (delivered): PersistentDelivery | Promise<undefined> => {
          if (delivered.event === undefined) {
            // A link whose event is gone (deleted or scavenged): nothing to hand over; keep it visible.
            return subscription.nack('park', 'link target not found', delivered).then(() => undefined);
          }
          let event: RecordedEvent;
          try {
            event = toRecordedEvent(delivered);
          } catch (error) {
            // Not decodable (data or metadata is not a JSON object): no handler can ever take it,
            // so park this delivery and keep the subscription going. Throwing here would end the
            // subscription instead, and the server would redeliver the event to the next one.
            return subscription
              .nack('park', `undecodable: ${error instanceof Error ? error.message : String(error)}`, delivered)
              .then(
                () => undefined,
                () => undefined, // The call is going away: the server retries (then parks) what this consumer held.
              );
          }
          const delivery: PersistentDelivery = { event, retryCount: delivered.retryCount };
          raw.set(delivery, delivered);
          return delivery;
        },
        mapError: (error) => toDomainError(error, context),
      }),
    );
    return {
      [Symbol.asyncIterator]: () => deliveries[Symbol.asyncIterator](),
      ack: (delivery) => call(context, () => subscription.ack(rawOf(delivery))),
      nack: (delivery: PersistentDelivery, action: NackAction, reason: string) =>
        call(context, () => subscription.nack(action, reason, rawOf(delivery))),
      close: () => deliveries.close(),
    };
  }

  async replayParked(
    target: PersistentSubscriptionTarget,
    group: string,
    options: { readonly stopAt?: number } = {},
  ): Promise<void> {
    const context: FailureContext = { operation: `replayParked '${group}'`, ...streamOf(target) };
    let replayOptions: { stopAt?: bigint } = {};
    if (options.stopAt !== undefined) {
      // The port's stopAt is a count; EventStoreDB's is the parked stream's revision to stop
      // before (exclusive), read from revision 0 and then written as the stream's `$tb`. After
      // an earlier replay has moved `$tb`, a small absolute stopAt would replay nothing and move
      // `$tb` back. So: the first parked event still visible, plus the count.
      const count = options.stopAt;
      if (!Number.isSafeInteger(count) || count < 0) {
        throw new InvalidInput(`replayParked '${group}'`, [`stopAt must be a non-negative integer, got ${count}`]);
      }
      if (count === 0) return;
      const first = await this.#firstParkedRevision(target, group, context);
      if (first === undefined) return;
      replayOptions = { stopAt: first + BigInt(count) };
    }
    await call(context, () =>
      target.kind !== 'stream'
        ? this.client.replayParkedMessagesToAll(group, replayOptions)
        : this.client.replayParkedMessagesToStream(target.streamId, group, replayOptions),
    );
  }

  /** Parked events are links in the group's parked stream; they are resolved to the originals. */
  async *readParked(target: PersistentSubscriptionTarget, group: string): AsyncIterable<RecordedEvent> {
    const streamId = parkedStreamOf(target, group);
    try {
      const read = this.client.readStream(streamId, { resolveLinkTos: true });
      yield* closableStream<ResolvedEvent, RecordedEvent>(read, {
        cancel: () => read.cancel(),
        // Parked events are often the ones that could not be decoded: list them anyway.
        transform: (resolved) => (resolved.event === undefined ? undefined : toParkedEvent(resolved)),
        mapError: (error) => error,
      });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return;
      throw toDomainError(error, { operation: 'readParked', streamId });
    }
  }

  /** Revision of the oldest parked event not yet replayed (the parked stream honours `$tb`). */
  async #firstParkedRevision(
    target: PersistentSubscriptionTarget,
    group: string,
    context: FailureContext,
  ): Promise<bigint | undefined> {
    const streamId = parkedStreamOf(target, group);
    try {
      let first: bigint | undefined;
      // Read to the end (one event at most) rather than breaking out: an abandoned read keeps
      // its call open and `close()` would wait for it.
      for await (const parked of this.client.readStream(streamId, { fromRevision: START, maxCount: 1 })) {
        first ??= parked.event?.revision;
      }
      return first;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw toDomainError(error, context);
    }
  }
}

/** Server-side stream filter: the prefixes, or "not a system stream" when none are given. */
export function prefixFilter(prefixes: readonly string[] | undefined): Filter {
  return prefixes === undefined || prefixes.length === 0
    ? streamNameFilter({ regex: NON_SYSTEM_STREAMS })
    : streamNameFilter({ prefixes: [...prefixes] });
}

/** A parked event as read, or, when its payload is not a JSON object, with `data.$undecodable` saying why. */
function toParkedEvent(resolved: ResolvedEvent): RecordedEvent {
  try {
    return toRecordedEvent(resolved);
  } catch (error) {
    if (!(error instanceof InvalidInput)) throw error;
    const event = resolved.event as NonNullable<ResolvedEvent['event']>;
    return { ...toRecordedEvent({ ...resolved, event: { ...event, data: {}, metadata: {} } }), data: { $undecodable: error.message } };
  }
}

function streamOf(target: PersistentSubscriptionTarget): { streamId?: string } {
  return target.kind === 'stream' ? { streamId: target.streamId } : {};
}
