import { Exceptions } from '../../rpc.js';
import type { SubscriptionGroup } from '../../persistent/group.js';

export const groupKey = (source: string, group: string): string => `${source}\u0000${group}`;

/** The subscription groups the server knows, by source (a stream or `$all`) and name. */
export class GroupRegistry {
  readonly #groups = new Map<string, SubscriptionGroup>();

  get(source: string, group: string): SubscriptionGroup | undefined {
    return this.#groups.get(groupKey(source, group));
  }

  /** The group, or NOT_FOUND (persistent-subscription-does-not-exist) as EventStoreDB answers. */
  existing(source: string, group: string): SubscriptionGroup {
    const found = this.get(source, group);
    if (found === undefined) throw Exceptions.persistentSubscriptionDoesNotExist(source, group);
    return found;
  }

  add(group: SubscriptionGroup): void {
    this.#groups.set(groupKey(group.source, group.group), group);
  }

  remove(group: SubscriptionGroup): void {
    this.#groups.delete(groupKey(group.source, group.group));
  }

  values(): IterableIterator<SubscriptionGroup> {
    return this.#groups.values();
  }
}
