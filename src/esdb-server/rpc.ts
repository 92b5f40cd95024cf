import grpc from '@grpc/grpc-js';
import type { ServerLog } from './log.js';
import { sharedPb } from './proto.js';

/**
 * gRPC plumbing shared by the services: errors with EventStoreDB's `exception` trailer, request
 * deserializers that never throw, UUID and stream-identifier conversion, and a response writer
 * that honours backpressure.
 */

/** A gRPC error as EventStoreDB sends it: status, details and trailing metadata. */
export class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
    readonly trailers: Readonly<Record<string, string>> = {},
  ) {
    super(details);
    this.name = 'RpcError';
  }

  toStatus(): Partial<grpc.StatusObject> {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(this.trailers)) metadata.set(key, value);
    return { code: this.code, details: this.details, metadata };
  }
}

export const Exceptions = {
  invalidArgument: (details: string): RpcError => new RpcError(grpc.status.INVALID_ARGUMENT, details),
  accessDenied: (): RpcError => new RpcError(grpc.status.PERMISSION_DENIED, 'Access Denied', { exception: 'access-denied' }),
  streamDeleted: (streamName: string): RpcError =>
    new RpcError(grpc.status.FAILED_PRECONDITION, `Event stream '${streamName}' is deleted.`, {
      exception: 'stream-deleted',
      'stream-name': streamName,
    }),
  wrongExpectedVersion: (operation: string, streamName: string, expected: bigint, actual: bigint): RpcError =>
    new RpcError(
      grpc.status.FAILED_PRECONDITION,
      `${operation} failed due to WrongExpectedVersion. Stream: ${streamName}, Expected version: ${expected}, Actual version: ${actual}`,
      {
        exception: 'wrong-expected-version',
        'stream-name': streamName,
        'expected-version': expected.toString(),
        // empty = the stream does not exist (the client then reports 'no_stream')
        'actual-version': actual < 0n ? '' : actual.toString(),
      },
    ),
  maximumAppendSizeExceeded: (maxAppendSize: number): RpcError =>
    new RpcError(grpc.status.INVALID_ARGUMENT, `Maximum Append Size of ${maxAppendSize} Exceeded.`, {
      exception: 'maximum-append-size-exceeded',
      'maximum-append-size': String(maxAppendSize),
    }),
  requiredMetadataPropertyMissing: (property: string): RpcError =>
    new RpcError(grpc.status.INVALID_ARGUMENT, `Required Metadata Property '${property}' is missing`, {
      exception: 'missing-required-metadata-property',
      'required-metadata-properties': 'type,content-type',
    }),
  persistentSubscriptionDoesNotExist: (streamName: string, groupName: string): RpcError =>
    new RpcError(grpc.status.NOT_FOUND, `Subscription group ${groupName} on stream ${streamName} does not exist.`, {
      exception: 'persistent-subscription-does-not-exist',
      'stream-name': streamName,
      'group-name': groupName,
    }),
  persistentSubscriptionExists: (streamName: string, groupName: string): RpcError =>
    new RpcError(grpc.status.ALREADY_EXISTS, `Subscription group ${groupName} on stream ${streamName} exists.`, {
      exception: 'persistent-subscription-exists',
      'stream-name': streamName,
      'group-name': groupName,
    }),
  persistentSubscriptionFailed: (streamName: string, groupName: string, reason: string): RpcError =>
    new RpcError(
      grpc.status.INTERNAL,
      `Subscription group ${groupName} on stream ${streamName} failed: '${reason}'`,
      { exception: 'persistent-subscription-failed', 'stream-name': streamName, 'group-name': groupName, reason },
    ),
  maximumSubscribersReached: (streamName: string, groupName: string): RpcError =>
    new RpcError(
      grpc.status.FAILED_PRECONDITION,
      `Maximum subscriptions reached for subscription group ${groupName} on stream ${streamName}.`,
      { exception: 'maximum-subscribers-reached', 'stream-name': streamName, 'group-name': groupName },
    ),
};

/** Anything thrown that is not an RpcError becomes INTERNAL, never UNAVAILABLE/CANCELLED. */
export const toRpcError = (error: unknown): RpcError =>
  error instanceof RpcError
    ? error
    : new RpcError(grpc.status.INTERNAL, error instanceof Error ? error.message : String(error));

/** Runs a listener or a timer's work; what it throws goes to `onError` instead of up the event loop. */
export const guard =
  <A extends unknown[]>(onError: (error: unknown) => void, work: (...args: A) => void) =>
  (...args: A): void => {
    try {
      work(...args);
    } catch (error) {
      onError(error);
    }
  };

/** A service's handlers as the services write them: a handler may return the promise of its work. */
export type ServiceHandlers = Record<string, (...args: never[]) => void | Promise<void>>;

type AnyCall = {
  readonly cancelled?: boolean;
  emit(event: 'error', status: Partial<grpc.StatusObject>): boolean;
};

/**
 * Wraps every method of a service implementation so that nothing a handler throws (or rejects
 * with) escapes to the event loop, where it would end the process: the call is answered with
 * INTERNAL (or the RpcError's own status) and the error is logged. Handlers still answer their
 * expected errors themselves; this is the net under the unexpected ones.
 */
export const guardedImplementation = (service: string, implementation: ServiceHandlers, log: ServerLog): grpc.UntypedServiceImplementation => {
  const guarded: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(implementation)) {
    const fn = handler as (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => unknown;
    guarded[method] = ((call: AnyCall, callback?: grpc.sendUnaryData<unknown>): void => {
      const answer = (error: unknown): void => {
        const rpc = toRpcError(error);
        if (!(error instanceof RpcError)) log.error('unexpected error answered INTERNAL', { service, method, error: describeError(error) });
        try {
          if (callback !== undefined) callback(rpc.toStatus());
          else if (call.cancelled !== true) call.emit('error', rpc.toStatus());
        } catch (secondary) {
          log.error('could not answer a failed call', { service, method, error: describeError(secondary) });
        }
      };
      try {
        const result = fn(call, callback);
        if (result instanceof Promise) result.catch(answer);
      } catch (error) {
        answer(error);
      }
    }) as grpc.UntypedHandleCall;
  }
  return guarded;
};

export const describeError = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** What a request deserializer yields when the bytes are not a valid message. */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

export const isMalformed = (value: unknown): value is MalformedRequest => value instanceof MalformedRequest;

/**
 * A copy of a generated service definition whose request deserializers return a
 * {@link MalformedRequest} instead of throwing, so handlers can answer INVALID_ARGUMENT, and
 * whose response serializers let bytes a handler already encoded pass through unchanged.
 */
export const tolerantService = <S extends grpc.ServiceDefinition>(service: S): S => {
  const copy: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service) as [string, grpc.MethodDefinition<unknown, unknown>][]) {
    copy[name] = {
      ...method,
      // A response already encoded to wire bytes (read events: see wire/read-resp-encoder.ts) goes out as is.
      responseSerialize: (value: unknown): Buffer => (value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : method.responseSerialize(value)),
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          return new MalformedRequest(error instanceof Error ? error.message : String(error));
        }
      },
    };
  }
  return copy as unknown as S;
};

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Parses a client UUID (string or structured form) into lowercase canonical text. */
export const parseUuid = (uuid: InstanceType<typeof sharedPb.UUID> | undefined, field: string): string => {
  if (uuid === undefined) throw Exceptions.invalidArgument(`'${field}' is required`);
  if (uuid.hasStructured()) {
    const structured = uuid.getStructured()!;
    let msb: bigint;
    let lsb: bigint;
    try {
      msb = BigInt.asUintN(64, BigInt(structured.getMostSignificantBits()));
      lsb = BigInt.asUintN(64, BigInt(structured.getLeastSignificantBits()));
    } catch {
      throw Exceptions.invalidArgument(`'${field}' is not a valid UUID`);
    }
    const hex = msb.toString(16).padStart(16, '0') + lsb.toString(16).padStart(16, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  const text = uuid.getString().toLowerCase();
  if (!UUID_PATTERN.test(text)) throw Exceptions.invalidArgument(`'${field}' is not a valid UUID: '${uuid.getString()}'`);
  return text;
};

export const toUuid = (id: string, structured: boolean): InstanceType<typeof sharedPb.UUID> => {
  const uuid = new sharedPb.UUID();
  if (!structured) return uuid.setString(id);
  const hex = id.replace(/-/g, '');
  const s = new sharedPb.UUID.Structured();
  s.setMostSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(0, 16)}`)).toString());
  s.setLeastSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(16)}`)).toString());
  return uuid.setStructured(s);
};

/**
 * The longest stream name (UTF-8 bytes) a client may name. EventStoreDB bounds a name only by its
 * 16 MiB log record; here every name may be held in a cache, so names are bounded to a size no
 * real stream name reaches (a group's parked stream included: see management.ts).
 */
export const MAX_STREAM_NAME_BYTES = 2048;

export const parseStreamName = (
  identifier: InstanceType<typeof sharedPb.StreamIdentifier> | undefined,
  field = 'stream_identifier',
): string => {
  if (identifier === undefined) throw Exceptions.invalidArgument(`'${field}' is required`);
  const bytes = identifier.getStreamName_asU8();
  if (bytes.byteLength === 0) throw Exceptions.invalidArgument(`'${field}' must not be empty`);
  if (bytes.byteLength > MAX_STREAM_NAME_BYTES)
    throw Exceptions.invalidArgument(`'${field}' is ${bytes.byteLength} bytes long; a stream name may have at most ${MAX_STREAM_NAME_BYTES}`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
};

/** A stream a client writes to or deletes: never `$all` (EventStoreDB denies both, even to admins). */
export const writableStreamName = (identifier: InstanceType<typeof sharedPb.StreamIdentifier> | undefined): string => {
  const name = parseStreamName(identifier);
  if (name === '$all') throw Exceptions.accessDenied();
  return name;
};

export const toStreamIdentifier = (streamName: string): InstanceType<typeof sharedPb.StreamIdentifier> =>
  new sharedPb.StreamIdentifier().setStreamName(Buffer.from(streamName, 'utf8'));

/** Parses a decimal uint64 sent as a string (jstype = JS_STRING). */
export const parseUint64 = (text: string, field: string): bigint => {
  if (!/^\d{1,20}$/.test(text)) throw Exceptions.invalidArgument(`'${field}' is not a valid unsigned 64-bit number`);
  const value = BigInt(text);
  if (value > 18446744073709551615n) throw Exceptions.invalidArgument(`'${field}' is out of range`);
  return value;
};

/** Messages a call may hand to HTTP/2 before earlier ones reached the socket. */
const MAX_UNFLUSHED_MESSAGES = 64;

/**
 * A call that lets the messages written during one event-loop turn share socket writes.
 *
 * grpc-js's server streams are object-mode Writables: each message waits until the previous one
 * was flushed to the socket, so a read of n events took n + 1 socket writes and as many
 * event-loop turns on both sides, and a subscription sent one event per turn. Here a message is
 * acknowledged to the stream as soon as HTTP/2 has it, while at most
 * {@link MAX_UNFLUSHED_MESSAGES} are unflushed; HTTP/2 then writes the ones queued behind the
 * first in one go (a read of any length: headers and first event, the rest, trailers). Beyond
 * that limit the acknowledgement waits for the flush, so backpressure (`write()` returning
 * false, then 'drain') still holds.
 */
export class CoalescingCall extends grpc.ServerInterceptingCall {
  #unflushed = 0;

  override sendMessage(message: unknown, callback: () => void): void {
    this.#unflushed += 1;
    const early = this.#unflushed <= MAX_UNFLUSHED_MESSAGES;
    super.sendMessage(message, () => {
      this.#unflushed -= 1;
      if (!early) callback();
    });
    if (early) callback();
  }
}

export const coalescingInterceptor: grpc.ServerInterceptor = (_method, call) => new CoalescingCall(call);

/** Writes to a server stream, waiting for 'drain' when the transport pushes back. */
export class ResponseWriter<T> {
  #closed = false;
  readonly #closedSignal: Promise<void>;

  constructor(private readonly call: grpc.ServerWritableStream<unknown, T> | grpc.ServerDuplexStream<unknown, T>) {
    this.#closedSignal = new Promise((resolve) => {
      const close = (): void => {
        this.#closed = true;
        resolve();
      };
      call.once('cancelled', close);
      call.once('close', close);
      call.once('error', close);
      call.once('finish', close);
    });
  }

  get closed(): boolean {
    return this.#closed || this.call.cancelled;
  }

  /** Resolves when the client cancels or the call ends. */
  get whenClosed(): Promise<void> {
    return this.#closedSignal;
  }

  async write(message: T): Promise<boolean> {
    if (this.closed) return false;
    if (this.call.write(message)) return true;
    await Promise.race([new Promise<void>((resolve) => this.call.once('drain', resolve)), this.#closedSignal]);
    return !this.closed;
  }

  end(): void {
    if (!this.closed) this.call.end();
  }

  fail(error: unknown): void {
    if (this.closed) return;
    this.#closed = true;
    this.call.emit('error', toRpcError(error).toStatus());
  }
}
