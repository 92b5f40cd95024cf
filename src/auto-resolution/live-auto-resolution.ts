import { GROUP_STREAM_PREFIX } from '../correlation/correlation-events.js';
import type { EventStore } from '../eventstore/event-store.js';
import type { Logger } from '../shared/logger.js';
import type { AutoResolver, AutoResolverStats } from './auto-resolver.js';

export type LiveAutoResolutionState = 'idle' | 'disabled' | 'running' | 'reconnecting' | 'stopped';

/**
 * The alert automation that runs on, beside live correlation (the worker, `opx serve`): a catch-up
 * subscription to the group streams from its checkpoint. A failure drops the resolver and starts
 * again from the checkpoint, with backoff: the steps it redoes are found recorded (CP-7 refuses
 * them as stale). Not granted by the matrix, it does not subscribe at all.
 */
export class LiveAutoResolution {
  private state: LiveAutoResolutionState = 'idle';
  private loop: Promise<void> | undefined;
  private readonly stop$ = new AbortController();
  private close: (() => Promise<void>) | undefined;
  private current: AutoResolver | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly newResolver: () => AutoResolver,
    private readonly logger: Logger,
  ) {}

  get status(): { readonly state: LiveAutoResolutionState; readonly stats?: AutoResolverStats; readonly lastError?: string } {
    return {
      state: this.state,
      ...(this.current === undefined ? {} : { stats: { ...this.current.stats } }),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  start(): void {
    if (this.loop !== undefined) throw new Error('LiveAutoResolution already started');
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stop$.abort();
    await this.close?.();
    await this.loop;
    this.state = 'stopped';
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stop$.signal.aborted) {
      const resolver = this.newResolver();
      if (!resolver.enabled) {
        this.state = 'disabled';
        return;
      }
      this.current = resolver;
      this.state = attempt === 0 ? 'running' : 'reconnecting';
      try {
        const after = await resolver.restore();
        const subscription = this.store.subscribeToAll({ streamPrefixes: [GROUP_STREAM_PREFIX], ...(after === undefined ? {} : { after }) });
        this.close = () => subscription.close();
        if (this.stop$.signal.aborted) await subscription.close();
        for await (const recorded of subscription) {
          await resolver.handle(recorded);
          attempt = 0;
        }
        if (this.stop$.signal.aborted) {
          await resolver.checkpoint();
          break;
        }
        throw new Error('the subscription ended');
      } catch (error) {
        if (this.stop$.signal.aborted) break;
        this.lastError = error instanceof Error ? error.message : String(error);
        const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
        this.logger.warn({ err: error, attempt, retryInMs: delay }, 'alert automation stopped; starting again from its checkpoint');
        attempt++;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.stop$.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    }
  }
}
