import { randomUUID } from 'node:crypto';
import type grpc from '@grpc/grpc-js';
import { createFilter, DEFAULT_MAX_SEARCH_WINDOW, type EventFilter } from '../../filters.js';
import { streamsPb } from '../../proto.js';
import { Exceptions, isMalformed, parseStreamName, parseUint64, ResponseWriter, RpcError, toStreamIdentifier } from '../../rpc.js';
import type { StoredEvent } from '../../storage/engine.js';
import { AppendWaiter } from '../../commit-queue.js';
import { DELETED_STREAM, type EventStoreCore } from '../../store.js';
import { encodeReadEventResp } from '../../wire/read-resp-encoder.js';
import type { Gate } from '../../auth/access.js';

type ReadReq = InstanceType<typeof streamsPb.ReadReq>;
type ReadResp = InstanceType<typeof streamsPb.ReadResp>;
type ReadOptions = InstanceType<typeof streamsPb.ReadReq.Options>;

const PAGE_SIZE = 256;

interface ReadContext {
  /** Events go out as pre-encoded ReadResp bytes, everything else as messages (see tolerantService). */
  readonly writer: ResponseWriter<ReadResp | Uint8Array>;
  readonly structured: boolean;
  readonly resolveLinks: boolean;
}

/** Streams.Read: stream and `$all` reads, and catch-up subscriptions to both. */
export class StreamReads {
  constructor(
    private readonly store: EventStoreCore,
    private readonly gate: Gate,
  ) {}

  async read(call: grpc.ServerWritableStream<ReadReq, ReadResp | Uint8Array>): Promise<void> {
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
        this.gate.stream(call.metadata, 'read', streamName);
        if (countCase === CountOptionCase.COUNT) {
          await this.#readStream(ctx, streamName, streamOptions, backwards, parseUint64(options.getCount(), 'count'));
        } else if (countCase === CountOptionCase.SUBSCRIPTION && !backwards) {
          await this.#subscribeToStream(ctx, streamName, streamOptions);
        } else throw invalidCombination();
      } else if (streamCase === StreamOptionCase.ALL) {
        this.gate.stream(call.metadata, 'read', '$all');
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
      // Unfiltered, a page need hold no more than is still wanted (a read of the head reads one record, not 256).
      const size = filter === undefined && remaining < BigInt(PAGE_SIZE) ? Number(remaining) : PAGE_SIZE;
      const page = backwards ? this.store.readAllBackward(next, size) : this.store.readAllForward(next, size);
      for (const event of page) {
        next = backwards ? event.position - 1n : event.position + 1n;
        if (filter !== undefined && !filter.matches(event)) continue;
        if (!(await ctx.writer.write(this.#toReadResp(ctx, event)))) return;
        remaining -= 1n;
        if (remaining === 0n) return;
      }
      if (page.length < size) return;
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
}
