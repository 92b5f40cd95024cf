import { readFileSync } from 'node:fs';

import type { EsdbEventStore } from '../src/eventstore/esdb/esdb-event-store.js';

/** The worker bench's instruments: CPU read from /proc, and completion seen through a subscription. */

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); NaN elsewhere. */
export function cpuMsOf(pid: number | undefined, thread?: number): number {
  try {
    const fields = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return Number.NaN;
  }
}

/** Watches candidate streams and resolves each candidate's completion time. */
export class CompletionWatcher {
  readonly done = new Map<string, number>();
  readonly #promoted = new Set<string>();
  readonly #subscription: ReturnType<EsdbEventStore['subscribeToAll']> = undefined as never;
  readonly #loop: Promise<void>;
  #waiter: { count: number; resolve: () => void } | undefined;

  constructor(store: EsdbEventStore) {
    this.#subscription = store.subscribeToAll({ streamPrefixes: ['candidate-'] });
    this.#loop = (async () => {
      for await (const event of this.#subscription) {
        const candidateId = event.streamId.slice('candidate-'.length);
        if (event.type === 'PromotionDecided') {
          if ((event.data as { decision?: string }).decision === 'PROMOTE') this.#promoted.add(candidateId);
          else this.#complete(candidateId);
        } else if (event.type === 'IncidentCreated' && this.#promoted.has(candidateId)) this.#complete(candidateId);
      }
    })().catch(() => undefined);
  }

  #complete(candidateId: string): void {
    if (this.done.has(candidateId)) return;
    this.done.set(candidateId, performance.now());
    if (this.#waiter !== undefined && this.done.size >= this.#waiter.count) this.#waiter.resolve();
  }

  until(count: number, timeoutMs: number): Promise<boolean> {
    if (this.done.size >= count) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
    });
  }

  async close(): Promise<void> {
    await this.#subscription.close();
    await this.#loop;
  }
}

/** What consumes the candidates: worker processes, or the hand-written client loop with its plan. */
