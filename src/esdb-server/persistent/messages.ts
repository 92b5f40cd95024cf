import type { StoredEvent } from '../storage/engine.js';
import type { ConsumerStrategy } from './settings.js';

/** What a group hands out and to whom: deliveries, consumers, messages, and the strategies' choice. */

export interface Delivery {
  readonly event: StoredEvent | undefined;
  readonly link: StoredEvent | undefined;
  /** The position reported as the delivery's commit position. */
  readonly position: bigint;
  readonly retryCount: number;
}

export interface Consumer {
  readonly id: string;
  readonly connectionName: string;
  readonly from: string;
  readonly bufferSize: number;
  inFlight: number;
  /** The consumer's connection pushes back (a write returned false): it takes nothing until 'drain'. */
  blocked: boolean;
  totalItems: number;
  send(delivery: Delivery): void;
  /** Ends the consumer's call with an error (group deleted). */
  drop(error: unknown): void;
}

export interface Message {
  /** Sequence in the source; undefined for replayed parked messages (not checkpointed). */
  readonly seq: number | undefined;
  readonly event: StoredEvent;
  readonly link: StoredEvent | undefined;
  readonly ackId: string;
  readonly retryCount: number;
  /** Source cursor just before this message (revision or position). */
  readonly prev: bigint;
  /** This message's own cursor value. */
  readonly cursor: bigint;
}

export interface InFlight {
  readonly message: Message;
  readonly consumer: Consumer;
  readonly expiresAt: number;
}

export type NackAction = 'unknown' | 'park' | 'retry' | 'skip' | 'stop';

const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
};

/**
 * The consumer a message goes to under the group's strategy, or undefined when the one it must go
 * to has no free slot (head of line). `roundRobin` is the index to try first, updated on a pick.
 */
export const pickConsumer = (
  strategy: ConsumerStrategy,
  consumers: readonly Consumer[],
  message: Message,
  roundRobin: { next: number },
): Consumer | undefined => {
  if (consumers.length === 0) return undefined;
  const hasSlot = (c: Consumer): boolean => c.inFlight < c.bufferSize && !c.blocked;
  switch (strategy) {
    case 'DispatchToSingle':
      return consumers.find(hasSlot);
    case 'RoundRobin': {
      for (let i = 0; i < consumers.length; i++) {
        const index = (roundRobin.next + i) % consumers.length;
        const candidate = consumers[index]!;
        if (hasSlot(candidate)) {
          roundRobin.next = (index + 1) % consumers.length;
          return candidate;
        }
      }
      return undefined;
    }
    case 'Pinned': {
      const pinned = consumers[fnv1a(message.event.streamId) % consumers.length]!;
      return hasSlot(pinned) ? pinned : undefined;
    }
    default: {
      const never: never = strategy;
      return never;
    }
  }
};
