/** An input held until correlation's watermark passes its time. */
export interface Held<T> {
  /** Its own time (epoch ms): a firing's start, a resolution's end, an incident's change. */
  readonly time: number;
  /** Breaks ties between equal times the same way whatever the arrival order: the input's event id. */
  readonly key: string;
  /** Where it is in `$all` (a restart re-reads from the earliest held). */
  readonly position: bigint;
  readonly value: T;
}

const before = (a: Held<unknown>, b: Held<unknown>): boolean => a.time < b.time || (a.time === b.time && a.key < b.key);

/**
 * Inputs held in event-time order (time, then key): a binary min-heap, so holding and releasing
 * cost O(log n) whatever the arrival order. Released in this order, any arrival order of the same
 * inputs within the lateness bound gives the same sequence.
 */
export class EventTimeBuffer<T> {
  private readonly heap: Array<Held<T>> = [];

  get size(): number {
    return this.heap.length;
  }

  push(entry: Held<T>): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent] as Held<T>)) break;
      heap[i] = heap[parent] as Held<T>;
      i = parent;
    }
    heap[i] = entry;
  }

  /** The earliest held input, if any. */
  peek(): Held<T> | undefined {
    return this.heap[0];
  }

  /** Removes and returns the earliest held input. */
  pop(): Held<T> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right] as Held<T>, heap[left] as Held<T>) ? right : left;
      if (!before(heap[child] as Held<T>, last)) break;
      heap[i] = heap[child] as Held<T>;
      i = child;
    }
    heap[i] = last;
    return top;
  }

  /** The lowest `$all` position held (where a restart must read from), or undefined when empty. */
  earliestPosition(): bigint | undefined {
    let min: bigint | undefined;
    for (const entry of this.heap) if (min === undefined || entry.position < min) min = entry.position;
    return min;
  }
}
