/**
 * Runs tasks `width` at a time and hands their results to `sink` in the order they were pushed,
 * whatever order they finish in: the audit's findings reach its tally in history order while
 * whole-stream reads overlap. Tasks must not reject.
 */
export class OrderedPipeline<T> {
  private readonly window: Array<Promise<T>> = [];

  constructor(
    private readonly width: number,
    private readonly sink: (result: T) => void,
  ) {}

  /** Starts a task; waits, when `width` are running, until the oldest has been handed on. */
  async push(task: () => Promise<T>): Promise<void> {
    this.window.push(task());
    while (this.window.length >= this.width) this.sink(await (this.window.shift() as Promise<T>));
  }

  /** Hands on every result still to come. */
  async drain(): Promise<void> {
    while (this.window.length > 0) this.sink(await (this.window.shift() as Promise<T>));
  }
}
