import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  jsonEvent,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';

import type {
  AppendResult,
  CatchUpSubscription,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  PersistentSubscription,
  PersistentSubscriptionSettings,
  PersistentSubscriptionTarget,
  PersistentSubscriptions,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamMetadata,
  SubscribeToAllOptions,
} from '../event-store.js';
import { readAllIncludes } from '../event-store.js';
import { settlesWithin } from '../../shared/time-limit.js';
import { closableStream, type ClosableIterable } from './closable-stream.js';
import { toDomainError, type FailureContext } from './esdb-errors.js';
import { toRecordedEvent } from './esdb-mapping.js';
import { EsdbPersistentSubscriptions, call, prefixFilter } from './esdb-persistent.js';

/**
 * Events fetched per `$all` read call by default; `readAll` pages through `$all` with calls of this
 * size. Each call costs a round trip and drains the client's pipeline: a long audit read at 4,096 a
 * page ran ~10% faster through the client than at 512.
 */
export const DEFAULT_READ_ALL_PAGE_SIZE = 4_096;

/**
 * How long `close()` waits for the client's `dispose()`. It waits for every call the client keeps
 * (its batch-append stream among them) to report that it finished, and a call broken by a server
 * that was killed and restarted may never report it: the worker crash test saw close() hang in
 * about 1 run of 20. After this long, close() lets go of the client instead of hanging its caller
 * (a worker stopping on SIGTERM).
 */
export const DEFAULT_DISPOSE_TIMEOUT_MS = 5_000;

/** Where a server is and how to be let in, for {@link EsdbEventStore.fromEndpoint}. */
export interface EsdbEndpoint {
  readonly host: string;
  readonly port: number;
  /** TLS (false: plaintext, an insecure server). */
  readonly tls: boolean;
  /** The CA to trust (PEM) instead of the system's. */
  readonly rootCertificate?: string | Buffer;
  /** The user every call is made as. */
  readonly credentials?: { readonly username: string; readonly password: string };
}

export interface EsdbEventStoreOptions {
  /**
   * Events per `$all` read call (default {@link DEFAULT_READ_ALL_PAGE_SIZE}); at least 2, since
   * a page starts at the last event of the one before (reads from a position are inclusive).
   */
  readonly readAllPageSize?: number;
  /** How long close() waits for the client to dispose of its calls (default {@link DEFAULT_DISPOSE_TIMEOUT_MS}). */
  readonly disposeTimeoutMs?: number;
}

/** Reads of at most this many events are let finish when their reader leaves early (see closableStream). */
const FINISH_RATHER_THAN_CANCEL_MAX_COUNT = 8;


/**
 * The EventStoreDB adapter: the only code that talks to `@eventstore/db-client`. It keeps every
 * read field (id, stream, revision and commit position as bigint, metadata, created), maps the
 * client's failures to the domain's errors (see `toDomainError`) and turns the client's Node
 * streams into async iterables that can be closed.
 */
export class EsdbEventStore implements EventStore, PersistentSubscriptions {
  private readonly open = new Set<ClosableIterable<unknown>>();

  private readonly readAllPageSize: number;
  private readonly disposeTimeoutMs: number;
  private readonly persistent: EsdbPersistentSubscriptions;

  constructor(
    private readonly client: EventStoreDBClient,
    options: EsdbEventStoreOptions = {},
  ) {
    this.readAllPageSize = options.readAllPageSize ?? DEFAULT_READ_ALL_PAGE_SIZE;
    this.disposeTimeoutMs = options.disposeTimeoutMs ?? DEFAULT_DISPOSE_TIMEOUT_MS;
    this.persistent = new EsdbPersistentSubscriptions(client, (open) => this.track(open));
    if (!Number.isInteger(this.readAllPageSize) || this.readAllPageSize < 2) {
      // A page of 1 would hold only the event the previous page ended on: the read would never move on.
      throw new RangeError(`readAllPageSize must be an integer of at least 2, got ${this.readAllPageSize}`);
    }
  }

  /**
   * `esdb://host:2113?tls=false`, `esdb+discover://admin:changeit@cluster:2113`, ... TLS,
   * credentials and cluster discovery are the client's, passed through untouched.
   */
  static fromConnectionString(connectionString: string, options: EsdbEventStoreOptions = {}): EsdbEventStore {
    return new EsdbEventStore(EventStoreDBClient.connectionString(connectionString), options);
  }

  /**
   * A server reached without a connection string: an embedded server started in this process
   * with credentials made for it, whose CA certificate and secret live in memory only (a
   * connection string names its CA by file).
   */
  static fromEndpoint(endpoint: EsdbEndpoint, options: EsdbEventStoreOptions = {}): EsdbEventStore {
    const client = new EventStoreDBClient(
      { endpoint: { address: endpoint.host, port: endpoint.port } },
      endpoint.tls ? (endpoint.rootCertificate === undefined ? {} : { rootCertificate: Buffer.from(endpoint.rootCertificate) }) : { insecure: true },
      endpoint.credentials,
    );
    return new EsdbEventStore(client, options);
  }

  async append(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    const context: FailureContext = { operation: 'append', streamId, expected: expectedRevision };
    const result = await call(context, () =>
      this.client.appendToStream(
        streamId,
        events.map((event) =>
          jsonEvent({ id: event.id, type: event.type, data: event.data, metadata: event.metadata }),
        ),
        { expectedRevision: toClientExpectedRevision(expectedRevision) },
      ),
    );
    // An idempotent re-append comes back without a position: report the original write's.
    const position = result.position?.commit ?? (await this.positionOf(streamId, result.nextExpectedRevision));
    return { nextExpectedRevision: result.nextExpectedRevision, position };
  }

  async *readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    if (options.maxCount !== undefined && options.maxCount <= 0) return;
    const backwards = options.direction === 'backwards';
    const context: FailureContext = { operation: 'readStream', streamId };
    try {
      const read = this.client.readStream(streamId, {
        direction: backwards ? BACKWARDS : FORWARDS,
        fromRevision: options.fromRevision ?? (backwards ? END : START),
        ...(options.maxCount === undefined ? {} : { maxCount: options.maxCount }),
      });
      yield* closableStream<ResolvedEvent, RecordedEvent>(read, {
        cancel: () => read.cancel(),
        transform: (resolved) => toRecordedEvent(resolved),
        mapError: (error) => error,
        // a reader that takes the first of a few events lets the server end the call: no RST_STREAM
        finishRatherThanCancel: options.maxCount !== undefined && options.maxCount <= FINISH_RATHER_THAN_CANCEL_MAX_COUNT,
      });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return;
      throw toDomainError(error, context);
    }
  }

  /**
   * `$all` forwards, without system streams, optionally by stream prefix. The client's `readAll`
   * has no server-side filter, so the filter is applied here while paging through `$all`;
   * `subscribeToAll` and persistent subscriptions do filter on the server.
   */
  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) return;
    const { after, streamPrefixes } = options;
    let from: Position | typeof START = after === undefined ? START : { commit: after, prepare: after };
    let last: Position | undefined;
    for (;;) {
      const read = this.client.readAll({ fromPosition: from, maxCount: this.readAllPageSize });
      const page = closableStream<AllStreamResolvedEvent, AllStreamResolvedEvent>(read, {
        cancel: () => read.cancel(),
        transform: (resolved) => resolved,
        mapError: (error) => toDomainError(error, { operation: 'readAll' }),
      });
      let received = 0;
      for await (const resolved of page) {
        received++;
        const event = resolved.event;
        if (event === undefined) continue;
        const position = event.position;
        // A page starts at the previous page's last event (reads from a position are inclusive).
        if (last !== undefined && !isAfter(position, last)) continue;
        last = position;
        if (after !== undefined && position.commit <= after) continue;
        if (!readAllIncludes(event.streamId, streamPrefixes)) continue;
        yield toRecordedEvent(resolved);
        if (--remaining <= 0) return;
      }
      if (received < this.readAllPageSize || last === undefined) return;
      from = last;
    }
  }

  /** The last event's commit position in `$all`: one backwards read of one event, read to its end. */
  async headPosition(): Promise<bigint | undefined> {
    const read = this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 });
    const events = closableStream<AllStreamResolvedEvent, AllStreamResolvedEvent>(read, {
      cancel: () => read.cancel(),
      transform: (resolved) => resolved,
      mapError: (error) => toDomainError(error, { operation: 'headPosition' }),
    });
    let head: bigint | undefined;
    for await (const resolved of events) head ??= resolved.event?.position.commit;
    return head;
  }

  async setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void> {
    await call({ operation: 'setStreamMetadata', streamId }, () =>
      this.client.setStreamMetadata(streamId, {
        ...(metadata.maxAge === undefined ? {} : { maxAge: metadata.maxAge }),
        ...(metadata.maxCount === undefined ? {} : { maxCount: metadata.maxCount }),
      }),
    );
  }

  async getStreamMetadata(streamId: string): Promise<StreamMetadata> {
    const result = await call({ operation: 'getStreamMetadata', streamId }, () =>
      this.client.getStreamMetadata(streamId),
    );
    const { maxAge, maxCount } = result.metadata ?? {};
    return {
      ...(typeof maxAge === 'number' ? { maxAge } : {}),
      ...(typeof maxCount === 'number' ? { maxCount } : {}),
    };
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): CatchUpSubscription {
    const { after, streamPrefixes } = options;
    const subscription = this.client.subscribeToAll({
      fromPosition: after === undefined ? START : { commit: after, prepare: after },
      filter: prefixFilter(streamPrefixes),
    });
    return this.track((onFinished) =>
      closableStream<AllStreamResolvedEvent, RecordedEvent>(subscription, {
        onFinished,
        cancel: () => subscription.unsubscribe(),
        transform: (resolved) => {
          const event = resolved.event;
          if (event === undefined || !readAllIncludes(event.streamId, streamPrefixes)) return undefined;
          if (after !== undefined && event.position.commit <= after) return undefined;
          return toRecordedEvent(resolved);
        },
        mapError: (error) => toDomainError(error, { operation: 'subscribeToAll' }),
      }),
    );
  }

  ensureGroup(target: PersistentSubscriptionTarget, group: string, settings: PersistentSubscriptionSettings): Promise<void> {
    return this.persistent.ensureGroup(target, group, settings);
  }

  subscribe(target: PersistentSubscriptionTarget, group: string, options: { readonly bufferSize?: number } = {}): PersistentSubscription {
    return this.persistent.subscribe(target, group, options);
  }

  replayParked(target: PersistentSubscriptionTarget, group: string, options: { readonly stopAt?: number } = {}): Promise<void> {
    return this.persistent.replayParked(target, group, options);
  }

  readParked(target: PersistentSubscriptionTarget, group: string): AsyncIterable<RecordedEvent> {
    return this.persistent.readParked(target, group);
  }

  async close(): Promise<void> {
    const open = [...this.open];
    this.open.clear();
    await Promise.allSettled(open.map((iterable) => iterable.close()));
    await settlesWithin(this.client.dispose(), this.disposeTimeoutMs);
  }

  /** Commit position of the event at `revision` (-1 when the stream has none). */
  private async positionOf(streamId: string, revision: bigint): Promise<bigint> {
    if (revision < 0n) return -1n;
    for await (const event of this.readStream(streamId, { fromRevision: revision, maxCount: 1 })) {
      return event.position;
    }
    return -1n;
  }

  /** Keeps a subscription open until it finishes, so that `close()` can stop it. */
  private track<T>(open: (onFinished: () => void) => ClosableIterable<T>): ClosableIterable<T> {
    let iterable: ClosableIterable<T> | undefined = undefined;
    const onFinished = (): void => {
      if (iterable !== undefined) this.open.delete(iterable);
    };
    iterable = open(onFinished);
    this.open.add(iterable);
    return iterable;
  }
}

function toClientExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return expected;
  }
}

function isAfter(a: Position, b: Position): boolean {
  return a.commit > b.commit || (a.commit === b.commit && a.prepare > b.prepare);
}
