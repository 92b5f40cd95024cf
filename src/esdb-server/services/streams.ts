import { randomUUID } from 'node:crypto';
import grpc from '@grpc/grpc-js';
import { createFilter, DEFAULT_MAX_SEARCH_WINDOW, type EventFilter } from '../filters.js';
import { anyPb, codePb, emptyPb, sharedPb, statusPb, streamsPb } from '../proto.js';
import {
  Exceptions,
  guard,
  isMalformed,
  parseStreamName,
  parseUint64,
  parseUuid,
  ResponseWriter,
  RpcError,
  type ServiceHandlers,
  toRpcError,
  toStreamIdentifier,
} from '../rpc.js';
import type { StoredEvent } from '../storage/engine.js';
import { encodeReadEventResp } from '../wire/read-resp-encoder.js';
import {
  AppendWaiter,
  CommitQueue,
  DELETED_STREAM,
  expectedVersionNumber,
  type EventStoreCore,
  type ExpectedRevision,
  type ProposedEvent,
  type WriteOutcome,
} from '../store.js';

type ReadReq = InstanceType<typeof streamsPb.ReadReq>;
type ReadResp = InstanceType<typeof streamsPb.ReadResp>;
type ReadOptions = InstanceType<typeof streamsPb.ReadReq.Options>;
type AppendReq = InstanceType<typeof streamsPb.AppendReq>;
type AppendResp = InstanceType<typeof streamsPb.AppendResp>;
type BatchAppendReq = InstanceType<typeof streamsPb.BatchAppendReq>;
type BatchAppendResp = InstanceType<typeof streamsPb.BatchAppendResp>;
type DeleteReq = InstanceType<typeof streamsPb.DeleteReq>;
type DeleteResp = InstanceType<typeof streamsPb.DeleteResp>;
type TombstoneReq = InstanceType<typeof streamsPb.TombstoneReq>;
type TombstoneResp = InstanceType<typeof streamsPb.TombstoneResp>;
type ProposedMessagePb =
  | InstanceType<typeof streamsPb.AppendReq.ProposedMessage>
  | InstanceType<typeof streamsPb.BatchAppendReq.ProposedMessage>;

const PAGE_SIZE = 256;
const JSON_CONTENT_TYPE = 'application/json';
const BINARY_CONTENT_TYPE = 'application/octet-stream';

export interface StreamsServiceOptions {
  /** Total bytes of one append (data + metadata + type), EventStoreDB's MaxAppendSize. */
  readonly maxAppendSize: number;
}

/** Turns a client's proposed message into an event to store, enforcing the required metadata. */
export const toProposedEvent = (message: ProposedMessagePb): { event: ProposedEvent; size: number } => {
  const metadata = message.getMetadataMap();
  const type = metadata.get('type');
  if (type === undefined) throw Exceptions.requiredMetadataPropertyMissing('type');
  const contentType = metadata.get('content-type');
  if (contentType === undefined) throw Exceptions.requiredMetadataPropertyMissing('content-type');
  const data = message.getData_asU8();
  const custom = message.getCustomMetadata_asU8();
  return {
    event: {
      eventId: parseUuid(message.getId(), 'proposed_message.id'),
      type,
      contentType: contentType === JSON_CONTENT_TYPE ? JSON_CONTENT_TYPE : BINARY_CONTENT_TYPE,
      data,
      metadata: custom,
    },
    size: data.byteLength + custom.byteLength + Buffer.byteLength(type, 'utf8'),
  };
};

interface ExpectedRevisionSource {
  hasRevision?(): boolean;
  getRevision?(): string;
  hasStreamPosition?(): boolean;
  getStreamPosition?(): string;
  hasNoStream(): boolean;
  hasAny(): boolean;
  hasStreamExists(): boolean;
}

export const parseExpectedRevision = (options: ExpectedRevisionSource): ExpectedRevision => {
  if (options.hasAny()) return { kind: 'any' };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  if (options.hasRevision?.() === true) return { kind: 'revision', revision: parseUint64(options.getRevision!(), 'revision') };
  if (options.hasStreamPosition?.() === true)
    return { kind: 'revision', revision: parseUint64(options.getStreamPosition!(), 'stream_position') };
  throw Exceptions.invalidArgument('expected stream revision is required');
};

/** The Streams gRPC service: Read (reads and catch-up subscriptions), Append, BatchAppend, Delete, Tombstone. */
export class StreamsService {
  readonly #commits: CommitQueue;

  constructor(
    private readonly store: EventStoreCore,
    private readonly options: StreamsServiceOptions,
  ) {
    this.#commits = new CommitQueue(store.engine);
  }

  implementation(): ServiceHandlers {
    return {
      read: (call: grpc.ServerWritableStream<ReadReq, ReadResp | Uint8Array>) => this.#read(call),
      append: (call: grpc.ServerReadableStream<AppendReq, AppendResp>, callback: grpc.sendUnaryData<AppendResp>) =>
        this.#append(call, callback),
      batchAppend: (call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => this.#batchAppend(call),
      delete: (call: grpc.ServerUnaryCall<DeleteReq, DeleteResp>, callback: grpc.sendUnaryData<DeleteResp>) =>
        this.#delete(call.request, false, callback),
      tombstone: (
        call: grpc.ServerUnaryCall<TombstoneReq, TombstoneResp>,
        callback: grpc.sendUnaryData<TombstoneResp>,
      ) => this.#delete(call.request, true, callback),
    };
  }

  // ---------------------------------------------------------------- reads and subscriptions

  async #read(call: grpc.ServerWritableStream<ReadReq, ReadResp | Uint8Array>): Promise<void> {
    const writer = new ResponseWriter<ReadResp | Uint8Array>(call);
    try {
      const request: unknown = call.request;
      if (isMalformed(request)) throw Exceptions.invalidArgument(`Malformed ReadReq: ${request.reason}`);
      const options = (request as ReadReq).getOptions();
      if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
      const uuidOption = options.getUuidOption();
      if (uuidOption === undefined) throw Exceptions.invalidArgument(' `uuidOption` is a required argument');
      const structured = uuidOption.getContentCase() === streamsPb.ReadReq.Options.UUIDOption.ContentCase.STRUCTURED;
      const { ReadDirection } = streamsPb.ReadReq.Options;
      const direction = options.getReadDirection();
      if (direction !== ReadDirection.FORWARDS && direction !== ReadDirection.BACKWARDS) {
        throw Exceptions.invalidArgument(`'${String(direction)}' is not a valid ReadDirection`);
      }
      const backwards = direction === ReadDirection.BACKWARDS;
      const { StreamOptionCase, CountOptionCase, FilterOptionCase } = streamsPb.ReadReq.Options;
      const streamCase = options.getStreamOptionCase();
      const countCase = options.getCountOptionCase();
      const filterCase = options.getFilterOptionCase();
      const ctx: ReadContext = { writer, structured, resolveLinks: options.getResolveLinks() };
      const invalidCombination = (): RpcError =>
        Exceptions.invalidArgument(
          `The combination of (${streamCase}, ${countCase}, ${direction}, ${filterCase}) is invalid.`,
        );
      if (filterCase === FilterOptionCase.FILTER_OPTION_NOT_SET) throw invalidCombination();
      const filtered = filterCase === FilterOptionCase.FILTER;

      if (streamCase === StreamOptionCase.STREAM && !filtered) {
        const streamOptions = options.getStream()!;
        const streamName = parseStreamName(streamOptions.getStreamIdentifier());
        if (countCase === CountOptionCase.COUNT) {
          await this.#readStream(ctx, streamName, streamOptions, backwards, parseUint64(options.getCount(), 'count'));
        } else if (countCase === CountOptionCase.SUBSCRIPTION && !backwards) {
          await this.#subscribeToStream(ctx, streamName, streamOptions);
        } else throw invalidCombination();
      } else if (streamCase === StreamOptionCase.ALL) {
        const filter = filtered ? this.#filterOf(options) : undefined;
        const allOptions = options.getAll()!;
        if (countCase === CountOptionCase.COUNT) {
          await this.#readAll(ctx, allOptions, backwards, parseUint64(options.getCount(), 'count'), filter?.filter);
        } else if (countCase === CountOptionCase.SUBSCRIPTION && !backwards) {
          await this.#subscribeToAll(ctx, allOptions, filter);
        } else throw invalidCombination();
      } else throw invalidCombination();
      writer.end();
    } catch (error) {
      writer.fail(error);
    }
  }

  #filterOf(options: ReadOptions): { filter: EventFilter; checkpointInterval: number } {
    const filterOptions = options.getFilter()!;
    const { FilterCase, WindowCase } = streamsPb.ReadReq.Options.FilterOptions;
    let filter: EventFilter;
    switch (filterOptions.getFilterCase()) {
      case FilterCase.STREAM_IDENTIFIER: {
        const e = filterOptions.getStreamIdentifier()!;
        filter = createFilter('stream', { regex: e.getRegex(), prefixes: e.getPrefixList() });
        break;
      }
      case FilterCase.EVENT_TYPE: {
        const e = filterOptions.getEventType()!;
        filter = createFilter('event_type', { regex: e.getRegex(), prefixes: e.getPrefixList() });
        break;
      }
      default:
        throw Exceptions.invalidArgument('filter must be on stream_identifier or event_type');
    }
    let window: number;
    switch (filterOptions.getWindowCase()) {
      case WindowCase.MAX:
        window = filterOptions.getMax();
        if (window <= 0) throw Exceptions.invalidArgument('max search window must be positive');
        break;
      case WindowCase.COUNT:
        window = DEFAULT_MAX_SEARCH_WINDOW;
        break;
      default:
        throw Exceptions.invalidArgument('filter window (max or count) is required');
    }
    const multiplier = filterOptions.getCheckpointintervalmultiplier();
    if (multiplier <= 0) throw Exceptions.invalidArgument('checkpoint interval multiplier must be positive');
    return { filter, checkpointInterval: window * multiplier };
  }

  /** An event as the wire bytes of its ReadResp (see read-resp-encoder.ts); a resolved link carries both. */
  #toReadResp(ctx: ReadContext, event: StoredEvent): Uint8Array {
    if (ctx.resolveLinks && event.type === '$>') return encodeReadEventResp(this.store.resolveLink(event), event, ctx.structured, event.position);
    return encodeReadEventResp(event, undefined, ctx.structured, event.position);
  }

  async #readStream(
    ctx: ReadContext,
    streamName: string,
    streamOptions: InstanceType<typeof streamsPb.ReadReq.Options.StreamOptions>,
    backwards: boolean,
    count: bigint,
  ): Promise<void> {
    const { RevisionOptionCase } = streamsPb.ReadReq.Options.StreamOptions;
    let next: bigint;
    switch (streamOptions.getRevisionOptionCase()) {
      case RevisionOptionCase.START:
        next = 0n;
        break;
      case RevisionOptionCase.END:
        next = backwards ? DELETED_STREAM - 1n : (this.store.streamLastRevision(streamName) ?? -1n) + 1n;
        break;
      case RevisionOptionCase.REVISION:
        next = parseUint64(streamOptions.getRevision(), 'revision');
        break;
      default:
        throw Exceptions.invalidArgument('stream revision option is required');
    }
    let remaining = count;
    while (remaining > 0n) {
      const limit = remaining < BigInt(PAGE_SIZE) ? Number(remaining) : PAGE_SIZE;
      const page = this.store.readStreamPage(streamName, backwards ? 'backwards' : 'forwards', next, limit);
      if (page.status === 'deleted') throw Exceptions.streamDeleted(streamName);
      if (page.status === 'no_stream') {
        const notFound = new streamsPb.ReadResp.StreamNotFound().setStreamIdentifier(toStreamIdentifier(streamName));
        await ctx.writer.write(new streamsPb.ReadResp().setStreamNotFound(notFound));
        return;
      }
      for (const event of page.events) {
        if (remaining === 0n) return;
        if (!(await ctx.writer.write(this.#toReadResp(ctx, event)))) return;
        remaining -= 1n;
      }
      if (page.next === undefined) return;
      next = page.next;
    }
  }

  #parseAllPosition(
    allOptions: InstanceType<typeof streamsPb.ReadReq.Options.AllOptions>,
  ): { kind: 'start' } | { kind: 'end' } | { kind: 'position'; commit: bigint } {
    const { AllOptionCase } = streamsPb.ReadReq.Options.AllOptions;
    switch (allOptions.getAllOptionCase()) {
      case AllOptionCase.START:
        return { kind: 'start' };
      case AllOptionCase.END:
        return { kind: 'end' };
      case AllOptionCase.POSITION: {
        const position = allOptions.getPosition()!;
        const commit = parseUint64(position.getCommitPosition(), 'commit_position');
        const prepare = parseUint64(position.getPreparePosition(), 'prepare_position');
        if (prepare > commit) throw Exceptions.invalidArgument('Trying to read from an invalid position.');
        return { kind: 'position', commit };
      }
      default:
        throw Exceptions.invalidArgument('$all position option is required');
    }
  }

  async #readAll(
    ctx: ReadContext,
    allOptions: InstanceType<typeof streamsPb.ReadReq.Options.AllOptions>,
    backwards: boolean,
    count: bigint,
    filter: EventFilter | undefined,
  ): Promise<void> {
    const from = this.#parseAllPosition(allOptions);
    let next: bigint;
    if (backwards) {
      next = from.kind === 'start' ? 0n : from.kind === 'end' ? this.store.lastPosition() : from.commit - 1n;
    } else {
      next = from.kind === 'start' ? 1n : from.kind === 'end' ? this.store.lastPosition() + 1n : from.commit;
    }
    let remaining = count;
    while (remaining > 0n) {
      const page = backwards ? this.store.readAllBackward(next, PAGE_SIZE) : this.store.readAllForward(next, PAGE_SIZE);
      for (const event of page) {
        next = backwards ? event.position - 1n : event.position + 1n;
        if (filter !== undefined && !filter.matches(event)) continue;
        if (!(await ctx.writer.write(this.#toReadResp(ctx, event)))) return;
        remaining -= 1n;
        if (remaining === 0n) return;
      }
      if (page.length < PAGE_SIZE) return;
    }
  }

  async #subscribeToStream(
    ctx: ReadContext,
    streamName: string,
    streamOptions: InstanceType<typeof streamsPb.ReadReq.Options.StreamOptions>,
  ): Promise<void> {
    const { RevisionOptionCase } = streamsPb.ReadReq.Options.StreamOptions;
    let next: bigint;
    switch (streamOptions.getRevisionOptionCase()) {
      case RevisionOptionCase.START:
        next = 0n;
        break;
      case RevisionOptionCase.END: {
        const last = this.store.streamLastRevision(streamName);
        next = last === undefined || last === DELETED_STREAM ? 0n : last + 1n;
        break;
      }
      case RevisionOptionCase.REVISION:
        next = parseUint64(streamOptions.getRevision(), 'revision') + 1n;
        break;
      default:
        throw Exceptions.invalidArgument('stream revision option is required');
    }
    const waiter = new AppendWaiter(this.store);
    void ctx.writer.whenClosed.then(() => waiter.wake());
    try {
      await ctx.writer.write(this.#confirmation());
      let caughtUp = false;
      while (!ctx.writer.closed) {
        waiter.arm();
        const page = this.store.readStreamPage(streamName, 'forwards', next, PAGE_SIZE);
        if (page.status === 'deleted') throw Exceptions.streamDeleted(streamName);
        if (page.status === 'ok' && (page.events.length > 0 || page.next !== undefined)) {
          for (const event of page.events) {
            if (!(await ctx.writer.write(this.#toReadResp(ctx, event)))) return;
            next = event.revision + 1n;
          }
          if (page.next !== undefined && page.next > next) next = page.next;
          continue;
        }
        if (!caughtUp) {
          caughtUp = true;
          if (!(await ctx.writer.write(new streamsPb.ReadResp().setCaughtUp(new streamsPb.ReadResp.CaughtUp()))))
            return;
        }
        await waiter.wait();
      }
    } finally {
      waiter.dispose();
    }
  }

  async #subscribeToAll(
    ctx: ReadContext,
    allOptions: InstanceType<typeof streamsPb.ReadReq.Options.AllOptions>,
    filtered: { filter: EventFilter; checkpointInterval: number } | undefined,
  ): Promise<void> {
    const from = this.#parseAllPosition(allOptions);
    // `after` is exclusive: a subscription from a position delivers what follows it
    let after = from.kind === 'start' ? 0n : from.kind === 'end' ? this.store.lastPosition() : from.commit;
    const waiter = new AppendWaiter(this.store);
    void ctx.writer.whenClosed.then(() => waiter.wake());
    const checkpoint = (position: bigint): ReadResp =>
      new streamsPb.ReadResp().setCheckpoint(
        new streamsPb.ReadResp.Checkpoint().setCommitPosition(position.toString()).setPreparePosition(position.toString()),
      );
    try {
      await ctx.writer.write(this.#confirmation());
      let caughtUp = false;
      let considered = 0;
      while (!ctx.writer.closed) {
        waiter.arm();
        const page = this.store.readAllForward(after + 1n, PAGE_SIZE);
        if (page.length > 0) {
          for (const event of page) {
            after = event.position;
            if (filtered === undefined || filtered.filter.matches(event)) {
              if (!(await ctx.writer.write(this.#toReadResp(ctx, event)))) return;
            }
            if (filtered !== undefined && ++considered >= filtered.checkpointInterval) {
              considered = 0;
              if (!(await ctx.writer.write(checkpoint(after)))) return;
            }
          }
          continue;
        }
        if (!caughtUp) {
          caughtUp = true;
          // like EventStoreDB: a checkpoint when going live, so one arrives within every interval
          if (filtered !== undefined && after > 0n && !(await ctx.writer.write(checkpoint(after)))) return;
          if (!(await ctx.writer.write(new streamsPb.ReadResp().setCaughtUp(new streamsPb.ReadResp.CaughtUp()))))
            return;
        }
        await waiter.wait();
      }
    } finally {
      waiter.dispose();
    }
  }

  #confirmation(): ReadResp {
    return new streamsPb.ReadResp().setConfirmation(
      new streamsPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID()),
    );
  }

  // ---------------------------------------------------------------- writes

  #append(call: grpc.ServerReadableStream<AppendReq, AppendResp>, callback: grpc.sendUnaryData<AppendResp>): void {
    let done = false;
    let streamName: string | undefined;
    let expected: ExpectedRevision | undefined;
    const events: ProposedEvent[] = [];
    let size = 0;
    const finish = (error: unknown, response?: AppendResp): void => {
      if (done) return;
      done = true;
      if (error !== undefined) callback(toRpcError(error).toStatus());
      else callback(null, response);
    };
    call.on('data', (request: unknown) => {
      if (done) return;
      try {
        if (isMalformed(request)) throw Exceptions.invalidArgument(`Malformed AppendReq: ${request.reason}`);
        const req = request as AppendReq;
        const { ContentCase } = streamsPb.AppendReq;
        if (streamName === undefined) {
          if (req.getContentCase() !== ContentCase.OPTIONS)
            throw Exceptions.invalidArgument('the first AppendReq must carry options');
          const options = req.getOptions()!;
          streamName = parseStreamName(options.getStreamIdentifier());
          expected = parseExpectedRevision(options);
          return;
        }
        if (req.getContentCase() !== ContentCase.PROPOSED_MESSAGE)
          throw Exceptions.invalidArgument('AppendReq after the options must carry a proposed message');
        const proposed = toProposedEvent(req.getProposedMessage()!);
        size += proposed.size;
        if (size > this.options.maxAppendSize) throw Exceptions.maximumAppendSizeExceeded(this.options.maxAppendSize);
        events.push(proposed.event);
      } catch (error) {
        finish(error);
      }
    });
    call.on('end', () => {
      if (done) return;
      try {
        if (streamName === undefined || expected === undefined)
          throw Exceptions.invalidArgument('AppendReq options are required');
        const [name, expectedRevision] = [streamName, expected];
        this.#commits
          .run(() => this.store.append(name, expectedRevision, events))
          .then(
            (outcome) => finish(undefined, this.#appendResp(name, expectedRevision, outcome)),
            (error: unknown) => finish(error),
          )
          .catch((error: unknown) => finish(error));
      } catch (error) {
        finish(error);
      }
    });
    call.on('error', () => {
      done = true;
    });
    call.on('cancelled', () => {
      done = true;
    });
  }

  #appendResp(streamName: string, expected: ExpectedRevision, outcome: WriteOutcome): AppendResp {
    const response = new streamsPb.AppendResp();
    switch (outcome.kind) {
      case 'stream_deleted':
        throw Exceptions.streamDeleted(streamName);
      case 'success': {
        const success = new streamsPb.AppendResp.Success();
        if (outcome.currentRevision < 0n) success.setNoStream(new sharedPb.Empty());
        else success.setCurrentRevision(outcome.currentRevision.toString());
        if (outcome.position === undefined) success.setNoPosition(new sharedPb.Empty());
        else
          success.setPosition(
            new streamsPb.AppendResp.Position()
              .setCommitPosition(outcome.position.toString())
              .setPreparePosition(outcome.position.toString()),
          );
        return response.setSuccess(success);
      }
      case 'wrong_expected_version': {
        const wev = new streamsPb.AppendResp.WrongExpectedVersion();
        switch (expected.kind) {
          case 'any':
            wev.setExpectedAny(new sharedPb.Empty());
            break;
          case 'stream_exists':
            wev.setExpectedStreamExists(new sharedPb.Empty());
            break;
          case 'no_stream':
            wev.setExpectedNoStream(new sharedPb.Empty());
            break;
          case 'revision':
            wev.setExpectedRevision(expected.revision.toString());
            break;
          default: {
            const never: never = expected;
            return never;
          }
        }
        if (outcome.currentRevision < 0n) wev.setCurrentNoStream(new sharedPb.Empty());
        else wev.setCurrentRevision(outcome.currentRevision.toString());
        return response.setWrongExpectedVersion(wev);
      }
      default: {
        const never: never = outcome;
        return never;
      }
    }
  }

  #batchAppend(call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>): void {
    interface Pending {
      readonly streamName: string;
      readonly identifier: InstanceType<typeof sharedPb.StreamIdentifier>;
      readonly expected: ExpectedRevision;
      readonly events: ProposedEvent[];
      size: number;
    }
    const pending = new Map<string, Pending>();
    let closed = false;
    const send = (response: BatchAppendResp): void => {
      if (!closed && !call.cancelled) call.write(response);
    };
    const statusWithDetails = (code: number, message: string, typeName: string, details: Uint8Array): unknown => {
      const any = new anyPb.Any();
      any.pack(details, typeName);
      return new statusPb.Status().setCode(code).setMessage(message).setDetails(any);
    };
    const errorResp = (
      correlation: InstanceType<typeof sharedPb.UUID>,
      identifier: InstanceType<typeof sharedPb.StreamIdentifier> | undefined,
      status: unknown,
    ): BatchAppendResp => {
      const response = new streamsPb.BatchAppendResp().setCorrelationId(correlation);
      if (identifier !== undefined) response.setStreamIdentifier(identifier);
      return response.setError(status as InstanceType<typeof statusPb.Status>);
    };
    const badRequest = (message: string): unknown =>
      statusWithDetails(
        codePb.Code.INVALID_ARGUMENT,
        'BadRequest',
        'event_store.client.BadRequest',
        new sharedPb.BadRequest().setMessage(message).serializeBinary(),
      );

    const failCall = (error: unknown): void => {
      if (closed) return;
      closed = true;
      call.emit('error', toRpcError(error).toStatus());
    };
    call.on('data', guard(failCall, (request: unknown) => {
      if (closed) return;
      if (isMalformed(request)) {
        closed = true;
        call.emit('error', Exceptions.invalidArgument(`Malformed BatchAppendReq: ${request.reason}`).toStatus());
        return;
      }
      const req = request as BatchAppendReq;
      const correlation = req.getCorrelationId();
      let key: string;
      try {
        key = parseUuid(correlation, 'correlation_id');
      } catch (error) {
        closed = true;
        call.emit('error', toRpcError(error).toStatus());
        return;
      }
      const correlationId = correlation!;
      let entry = pending.get(key);
      try {
        if (req.hasOptions() && entry === undefined) {
          const options = req.getOptions()!;
          const identifier = options.getStreamIdentifier();
          const streamName = parseStreamName(identifier);
          entry = { streamName, identifier: identifier!, expected: parseExpectedRevision(options), events: [], size: 0 };
          pending.set(key, entry);
        }
        if (entry === undefined) return;
        for (const message of req.getProposedMessagesList()) {
          const proposed = toProposedEvent(message);
          entry.size += proposed.size;
          entry.events.push(proposed.event);
        }
        if (entry.size > this.options.maxAppendSize) {
          pending.delete(key);
          const details = new sharedPb.MaximumAppendSizeExceeded().setMaxappendsize(this.options.maxAppendSize);
          send(
            errorResp(
              correlationId,
              entry.identifier,
              statusWithDetails(
                codePb.Code.INVALID_ARGUMENT,
                'MaximumAppendSizeExceeded',
                'event_store.client.MaximumAppendSizeExceeded',
                details.serializeBinary(),
              ),
            ),
          );
          return;
        }
        if (!req.getIsFinal()) return;
        pending.delete(key);
        const write = entry;
        this.#commits
          .run(() => this.store.append(write.streamName, write.expected, write.events))
          .then(
            (outcome) =>
              send(this.#batchAppendResp(correlationId, write.identifier, write.expected, outcome, statusWithDetails)),
            (error: unknown) =>
              send(errorResp(correlationId, write.identifier, badRequest(toRpcError(error).details))),
          )
          .catch(failCall);
      } catch (error) {
        pending.delete(key);
        const rpc = toRpcError(error);
        send(errorResp(correlationId, entry?.identifier ?? req.getOptions()?.getStreamIdentifier(), badRequest(rpc.details)));
      }
    }));
    call.on('end', () => {
      if (closed) return;
      closed = true;
      call.end();
    });
    call.on('error', () => {
      closed = true;
    });
    call.on('cancelled', () => {
      closed = true;
      pending.clear();
    });
  }

  #batchAppendResp(
    correlation: InstanceType<typeof sharedPb.UUID>,
    identifier: InstanceType<typeof sharedPb.StreamIdentifier>,
    expected: ExpectedRevision,
    outcome: WriteOutcome,
    statusWithDetails: (code: number, message: string, typeName: string, details: Uint8Array) => unknown,
  ): BatchAppendResp {
    const response = new streamsPb.BatchAppendResp().setCorrelationId(correlation).setStreamIdentifier(identifier);
    switch (outcome.kind) {
      case 'success': {
        const success = new streamsPb.BatchAppendResp.Success();
        if (outcome.currentRevision < 0n) success.setNoStream(new emptyPb.Empty());
        else success.setCurrentRevision(outcome.currentRevision.toString());
        if (outcome.position === undefined) success.setNoPosition(new emptyPb.Empty());
        else
          success.setPosition(
            new sharedPb.AllStreamPosition()
              .setCommitPosition(outcome.position.toString())
              .setPreparePosition(outcome.position.toString()),
          );
        return response.setSuccess(success);
      }
      case 'wrong_expected_version': {
        const details = new sharedPb.WrongExpectedVersion();
        if (outcome.currentRevision < 0n) details.setCurrentNoStream(new emptyPb.Empty());
        else details.setCurrentStreamRevision(outcome.currentRevision.toString());
        switch (expected.kind) {
          case 'any':
            details.setExpectedAny(new emptyPb.Empty());
            break;
          case 'stream_exists':
            details.setExpectedStreamExists(new emptyPb.Empty());
            break;
          case 'no_stream':
            details.setExpectedNoStream(new emptyPb.Empty());
            break;
          case 'revision':
            details.setExpectedStreamPosition(expected.revision.toString());
            break;
          default: {
            const never: never = expected;
            return never;
          }
        }
        return response.setError(
          statusWithDetails(
            codePb.Code.ALREADY_EXISTS,
            'WrongExpectedVersion',
            'event_store.client.WrongExpectedVersion',
            details.serializeBinary(),
          ) as InstanceType<typeof statusPb.Status>,
        );
      }
      case 'stream_deleted':
        return response.setError(
          statusWithDetails(
            codePb.Code.NOT_FOUND,
            'StreamDeleted',
            'event_store.client.StreamDeleted',
            new sharedPb.StreamDeleted().setStreamIdentifier(identifier).serializeBinary(),
          ) as InstanceType<typeof statusPb.Status>,
        );
      default: {
        const never: never = outcome;
        return never;
      }
    }
  }

  #delete(
    request: DeleteReq | TombstoneReq,
    hard: boolean,
    callback: grpc.sendUnaryData<DeleteResp & TombstoneResp>,
  ): void {
    try {
      const raw: unknown = request;
      if (isMalformed(raw)) throw Exceptions.invalidArgument(`Malformed request: ${raw.reason}`);
      const options = request.getOptions();
      if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
      const streamName = parseStreamName(options.getStreamIdentifier());
      const expected = parseExpectedRevision(options);
      this.#commits.run(() => this.store.delete(streamName, expected, hard)).then(
        (outcome) => this.#deleteResp(streamName, expected, hard, outcome, callback),
        (error: unknown) => callback(toRpcError(error).toStatus()),
      );
    } catch (error) {
      callback(toRpcError(error).toStatus());
    }
  }

  #deleteResp(
    streamName: string,
    expected: ExpectedRevision,
    hard: boolean,
    outcome: WriteOutcome,
    callback: grpc.sendUnaryData<DeleteResp & TombstoneResp>,
  ): void {
    try {
      switch (outcome.kind) {
        case 'stream_deleted':
          throw Exceptions.streamDeleted(streamName);
        case 'wrong_expected_version':
          throw Exceptions.wrongExpectedVersion(
            'Delete',
            streamName,
            expectedVersionNumber(expected),
            outcome.currentRevision,
          );
        case 'success': {
          const Resp = hard ? streamsPb.TombstoneResp : streamsPb.DeleteResp;
          const response = new Resp();
          if (outcome.position === undefined) response.setNoPosition(new sharedPb.Empty());
          else {
            const position = new Resp.Position()
              .setCommitPosition(outcome.position.toString())
              .setPreparePosition(outcome.position.toString());
            (response as { setPosition(p: unknown): unknown }).setPosition(position);
          }
          callback(null, response);
          return;
        }
        default: {
          const never: never = outcome;
          return never;
        }
      }
    } catch (error) {
      callback(toRpcError(error).toStatus());
    }
  }
}

interface ReadContext {
  /** Events go out as pre-encoded ReadResp bytes, everything else as messages (see tolerantService). */
  readonly writer: ResponseWriter<ReadResp | Uint8Array>;
  readonly structured: boolean;
  readonly resolveLinks: boolean;
}

