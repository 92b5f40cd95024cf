/**
 * Reads of an event store served across a MessagePort: one thread owns the store (and its client)
 * and streams what it reads, in batches, to a reader on the other side of the port.
 *
 * Why: the official client spends more CPU decoding an event than the replay audit spends
 * auditing it, and both ran in one thread, one after the other. With the client in a thread of its
 * own, reading and auditing overlap on the machine's two cores (`opx replay --connection`). The
 * events cross the port by structured clone (bigint positions and Date included), which costs a
 * few microseconds an event on each side, far less than either side's own work.
 *
 * Flow control: a read has BATCHES_AHEAD + 1 batches of credit; each batch the reader takes gives
 * one back. So beside the batch the reader is on, at most BATCHES_AHEAD + 1 are posted and one is
 * being filled: a fast client never piles a history up in memory.
 */
import type { MessagePort } from 'node:worker_threads';

import { rebuiltError, transferredError, type TransferredError } from '../../shared/transferred-error.js';
import type { EventReader, ReadAllOptions, ReadStreamOptions, RecordedEvent } from '../event-store.js';

/** Events per message. */
export const BATCH_SIZE = 256;
/** Batches a read may have in flight beyond those the reader has taken. */
export const BATCHES_AHEAD = 2;

type ReadRequest =
  | { readonly kind: 'readAll'; readonly id: number; readonly options: ReadAllOptions }
  | { readonly kind: 'readStream'; readonly id: number; readonly streamId: string; readonly options: ReadStreamOptions }
  /** The reader took a batch: one more may be sent. */
  | { readonly kind: 'more'; readonly id: number }
  /** The reader stopped early: stop reading. */
  | { readonly kind: 'cancel'; readonly id: number };

type ReadReply =
  | { readonly kind: 'batch'; readonly id: number; readonly events: readonly RecordedEvent[]; readonly done: boolean }
  | { readonly kind: 'error'; readonly id: number; readonly failure: TransferredError };

/**
 * The serving side, first: how opening the store went. A reader waits for this before its first
 * read ({@link PortEventReader.connect}), so a store that cannot be opened fails as it would have
 * in the reader's own thread, with the same error code.
 */
export function announceOpened(port: MessagePort, failure?: unknown): void {
  port.postMessage(failure === undefined ? { kind: 'opened' } : { kind: 'failed', failure: transferredError(failure) });
}

/**
 * The serving side: answers every read request arriving on `port` from `store`, until the port
 * closes. Returns a function that stops serving (pending reads are cancelled).
 */
export function serveReads(port: MessagePort, store: EventReader): () => void {
  const reads = new Map<number, ServedRead>();
  const onMessage = (request: ReadRequest): void => {
    switch (request.kind) {
      case 'readAll':
        start(request.id, store.readAll(request.options));
        break;
      case 'readStream':
        start(request.id, store.readStream(request.streamId, request.options));
        break;
      case 'more':
        reads.get(request.id)?.grant();
        break;
      case 'cancel':
        reads.get(request.id)?.cancel();
        break;
      default: {
        const unknown: never = request;
        throw new Error(`unknown read request ${JSON.stringify(unknown)}`);
      }
    }
  };
  const start = (id: number, source: AsyncIterable<RecordedEvent>): void => {
    const read = new ServedRead(id, source, port, () => reads.delete(id));
    reads.set(id, read);
    void read.run();
  };
  port.on('message', onMessage);
  return () => {
    port.off('message', onMessage);
    for (const read of reads.values()) read.cancel();
  };
}

/** One read being served: reads ahead while it has credit, posts batches, stops on cancel. */
class ServedRead {
  private credit = BATCHES_AHEAD + 1;
  private cancelled = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly id: number,
    private readonly source: AsyncIterable<RecordedEvent>,
    private readonly port: MessagePort,
    private readonly finished: () => void,
  ) {}

  grant(): void {
    this.credit++;
    this.resume();
  }

  cancel(): void {
    this.cancelled = true;
    this.resume();
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async run(): Promise<void> {
    let batch: RecordedEvent[] = [];
    try {
      for await (const event of this.source) {
        if (this.cancelled) return; // leaving the loop closes the source
        batch.push(event);
        if (batch.length < BATCH_SIZE) continue;
        if (!(await this.send(batch, false))) return; // leaving the loop closes the source
        batch = [];
      }
      await this.send(batch, true);
    } catch (error) {
      if (!this.cancelled) this.port.postMessage({ kind: 'error', id: this.id, failure: transferredError(error) } satisfies ReadReply);
    } finally {
      this.finished();
    }
  }

  /** Posts a batch once there is credit for it; false when the reader cancelled meanwhile. */
  private async send(events: RecordedEvent[], done: boolean): Promise<boolean> {
    while (this.credit === 0 && !this.cancelled) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.cancelled) return false;
    this.credit--;
    this.port.postMessage({ kind: 'batch', id: this.id, events, done } satisfies ReadReply);
    return true;
  }
}

/**
 * The reading side: the port's other end as an {@link EventReader}. Any number of reads may be
 * open at once (the replay audit keeps two cursors over `$all` and reads whole streams beside).
 */
export class PortEventReader implements EventReader {
  private nextId = 1;
  private readonly open = new Map<number, ReceivedRead>();

  private constructor(private readonly port: MessagePort) {
    port.on('message', (reply: ReadReply) => this.open.get(reply.id)?.receive(reply));
  }

  /** The reader of a port whose serving side announced how opening its store went; throws its failure. */
  static async connect(port: MessagePort): Promise<PortEventReader> {
    const first = await new Promise<{ readonly kind: 'opened' } | { readonly kind: 'failed'; readonly failure: TransferredError }>((resolve) => port.once('message', resolve));
    if (first.kind === 'failed') {
      port.close();
      throw rebuiltError(first.failure);
    }
    return new PortEventReader(port);
  }

  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    return this.read((id) => ({ kind: 'readAll', id, options }));
  }

  readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    return this.read((id) => ({ kind: 'readStream', id, streamId, options }));
  }

  /** Stops listening; reads still open end with an error. */
  close(): void {
    for (const read of this.open.values()) read.receive({ kind: 'error', id: 0, failure: transferredError(new Error('the read port was closed')) });
    this.open.clear();
    this.port.close();
  }

  private read(request: (id: number) => ReadRequest): AsyncIterable<RecordedEvent> {
    return {
      [Symbol.asyncIterator]: () => {
        const id = this.nextId++;
        const read: ReceivedRead = new ReceivedRead(id, this.port, {
          start: () => {
            this.open.set(id, read);
            this.port.postMessage(request(id));
          },
          finished: () => this.open.delete(id),
        });
        return read.events();
      },
    };
  }
}

/** One read as received: batches queue up until the iterator takes them. */
class ReceivedRead {
  private readonly replies: ReadReply[] = [];
  private wake: (() => void) | undefined;

  constructor(
    private readonly id: number,
    private readonly port: MessagePort,
    private readonly hooks: { readonly start: () => void; readonly finished: () => void },
  ) {}

  receive(reply: ReadReply): void {
    this.replies.push(reply);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *events(): AsyncGenerator<RecordedEvent> {
    // Runs on the first next(): an iterator returned before that requests nothing and leaves
    // nothing to cancel or forget.
    this.hooks.start();
    let done = false;
    try {
      while (!done) {
        const reply = this.replies.shift() ?? (await this.next());
        if (reply.kind === 'error') {
          done = true;
          throw rebuiltError(reply.failure);
        }
        done = reply.done;
        if (!done) this.port.postMessage({ kind: 'more', id: this.id } satisfies ReadRequest);
        yield* reply.events;
      }
    } finally {
      // Left early (a break, or an error in the loop body): the serving side stops reading.
      if (!done) this.port.postMessage({ kind: 'cancel', id: this.id } satisfies ReadRequest);
      this.hooks.finished();
    }
  }

  private next(): Promise<ReadReply> {
    return new Promise((resolve) => {
      this.wake = () => resolve(this.replies.shift() as ReadReply);
    });
  }
}
