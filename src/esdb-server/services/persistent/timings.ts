import type { Clock } from '../../clock.js';

/**
 * One consumer's message timings for a group with extraStatistics on, like EventStoreDB's
 * RequestStatistics: milliseconds from a message's delivery to its ack or nack, the last 1,000
 * kept, reported as Mean, Median, Fastest, Quintile 1-5, 90%-99.9% and Highest.
 */
const WINDOW = 1_000;

export class ConsumerTimings {
  readonly #started = new Map<string, number>();
  readonly #window: number[] = [];

  constructor(private readonly clock: Clock) {}

  start(id: string): void {
    this.#started.set(id, this.clock.now());
  }

  end(id: string): void {
    const started = this.#started.get(id);
    if (started === undefined) return;
    this.#started.delete(id);
    if (this.#window.length >= WINDOW) this.#window.shift();
    this.#window.push(Math.max(0, Math.trunc(this.clock.now() - started)));
  }

  /** Nothing until a message completed, as in EventStoreDB. */
  measurements(): { key: string; value: number }[] {
    if (this.#window.length === 0) return [];
    const items = [...this.#window].sort((a, b) => a - b);
    const at = (percent: number): number => {
      const index = Math.min(Math.trunc((percent / 100) * items.length), items.length - 1);
      return items[index] ?? 0;
    };
    const out = [
      { key: 'Mean', value: Math.trunc(items.reduce((sum, v) => sum + v, 0) / items.length) },
      { key: 'Median', value: items[Math.trunc(items.length / 2)] ?? 0 },
      { key: 'Fastest', value: items[0] ?? 0 },
    ];
    for (let i = 0; i < 5; i++) out.push({ key: `Quintile ${i + 1}`, value: at(i * 20) });
    for (const p of [90, 95, 99, 99.5, 99.9]) out.push({ key: `${p}%`, value: at(p) });
    out.push({ key: 'Highest', value: items[items.length - 1] ?? 0 });
    return out;
  }
}
