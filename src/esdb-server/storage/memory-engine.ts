import type {
  CheckpointRecord,
  GroupRecord,
  NewEvent,
  StorageEngine,
  StoredEvent,
} from './engine.js';

/** Index of the first element of `sorted` whose key is >= `key`. */
const lowerBound = (sorted: readonly number[], key: bigint, keyOf: (i: number) => bigint): number => {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyOf(sorted[mid]!) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

const groupKey = (source: string, group: string): string => `${source}\u0000${group}`;

/** Keeps the whole log in process memory; for tests and `--memory`. */
export class MemoryEngine implements StorageEngine {
  /** Nothing to flush: a write commits at once. */
  readonly groupCommit = false;
  readonly #log: StoredEvent[] = [];
  /** Stream id -> log indexes in revision order. */
  readonly #streams = new Map<string, number[]>();
  /** Event id -> log indexes carrying it (ids are unique in practice, but not enforced). */
  readonly #ids = new Map<string, number[]>();
  readonly #groups = new Map<string, GroupRecord>();
  readonly #checkpoints = new Map<string, CheckpointRecord>();

  lastPosition(): bigint {
    return BigInt(this.#log.length);
  }

  streamIdsWithPrefix(prefix: string): string[] {
    return [...this.#streams.keys()].filter((id) => id.startsWith(prefix));
  }

  streamLastRevision(streamId: string): bigint | undefined {
    const indexes = this.#streams.get(streamId);
    if (indexes === undefined || indexes.length === 0) return undefined;
    return this.#log[indexes[indexes.length - 1]!]!.revision;
  }

  append(events: readonly NewEvent[]): StoredEvent[] {
    const stored: StoredEvent[] = [];
    for (const event of events) {
      const index = this.#log.length;
      const row: StoredEvent = { ...event, position: BigInt(index + 1) };
      this.#log.push(row);
      let indexes = this.#streams.get(event.streamId);
      if (indexes === undefined) {
        indexes = [];
        this.#streams.set(event.streamId, indexes);
      }
      indexes.push(index);
      const byId = this.#ids.get(event.eventId);
      if (byId === undefined) this.#ids.set(event.eventId, [index]);
      else byId.push(index);
      stored.push(row);
    }
    return stored;
  }

  readStreamForward(streamId: string, fromRevision: bigint, limit: number): StoredEvent[] {
    const indexes = this.#streams.get(streamId);
    if (indexes === undefined) return [];
    const start = lowerBound(indexes, fromRevision, (i) => this.#log[i]!.revision);
    return indexes.slice(start, start + limit).map((i) => this.#log[i]!);
  }

  readStreamBackward(streamId: string, fromRevision: bigint, limit: number): StoredEvent[] {
    const indexes = this.#streams.get(streamId);
    if (indexes === undefined) return [];
    // first index with revision > fromRevision, then walk down
    const end = lowerBound(indexes, fromRevision + 1n, (i) => this.#log[i]!.revision);
    const out: StoredEvent[] = [];
    for (let k = end - 1; k >= 0 && out.length < limit; k--) out.push(this.#log[indexes[k]!]!);
    return out;
  }

  readAllForward(fromPosition: bigint, limit: number): StoredEvent[] {
    const start = fromPosition < 1n ? 0 : Number(fromPosition) - 1;
    return this.#log.slice(start, start + limit);
  }

  readAllBackward(fromPosition: bigint, limit: number): StoredEvent[] {
    const out: StoredEvent[] = [];
    const last = this.#log.length;
    let k = fromPosition > BigInt(last) ? last - 1 : Number(fromPosition) - 1;
    for (; k >= 0 && out.length < limit; k--) out.push(this.#log[k]!);
    return out;
  }

  findInStream(streamId: string, eventId: string): StoredEvent | undefined {
    const indexes = this.#ids.get(eventId);
    if (indexes === undefined) return undefined;
    for (const i of indexes) {
      const row = this.#log[i]!;
      if (row.streamId === streamId) return row;
    }
    return undefined;
  }

  transaction<T>(work: () => T): T {
    return work();
  }

  loadGroups(): GroupRecord[] {
    return [...this.#groups.values()];
  }

  saveGroup(record: GroupRecord): void {
    this.#groups.set(groupKey(record.source, record.group), record);
  }

  deleteGroup(source: string, group: string): void {
    this.#groups.delete(groupKey(source, group));
    this.#checkpoints.delete(groupKey(source, group));
  }

  loadCheckpoints(): CheckpointRecord[] {
    return [...this.#checkpoints.values()];
  }

  saveCheckpoint(record: CheckpointRecord): void {
    this.#checkpoints.set(groupKey(record.source, record.group), record);
  }

  close(): void {
    // nothing to release
  }
}
