/**
 * Ids in the order they first arrived, with subsets of them (the incidents in one state, the
 * candidates still deferred) that rows join and leave, each paged newest first in O(log n + limit)
 * and counted in O(1): the first page of 100,000 incidents costs what the first page of 100 does.
 *
 * An id keeps its arrival number for good, so `before` (the id a previous page ended with) still
 * places a page after that id has left the subset or moved to another.
 */
export class ArrivalIndex<K extends string> {
  private readonly arrival = new Map<string, number>();
  private readonly ids: string[] = [];
  private readonly subsets = new Map<K, number[]>();
  private readonly memberOf = new Map<string, K>();

  /** The id's arrival number, given on first sight. */
  private numberOf(id: string): number {
    let n = this.arrival.get(id);
    if (n === undefined) {
      n = this.ids.length;
      this.arrival.set(id, n);
      this.ids.push(id);
    }
    return n;
  }

  /** The subset the id is in now (undefined: none). */
  subsetOf(id: string): K | undefined {
    return this.memberOf.get(id);
  }

  /** Puts the id in `subset` (taking it out of the one it was in), or in none when undefined. */
  place(id: string, subset: K | undefined): void {
    const current = this.memberOf.get(id);
    if (current === subset) return;
    const n = this.numberOf(id);
    if (current !== undefined) {
      const list = this.subsets.get(current) as number[];
      list.splice(lowerBound(list, n), 1);
      this.memberOf.delete(id);
    }
    if (subset !== undefined) {
      let list = this.subsets.get(subset);
      if (list === undefined) this.subsets.set(subset, (list = []));
      // Nearly always the newest (a new row), so appended; a row moving between subsets goes back in order.
      if (list.length === 0 || (list[list.length - 1] as number) < n) list.push(n);
      else list.splice(lowerBound(list, n), 0, n);
      this.memberOf.set(id, subset);
    }
  }

  size(subsets: readonly K[]): number {
    let total = 0;
    for (const subset of subsets) total += this.subsets.get(subset)?.length ?? 0;
    return total;
  }

  /**
   * Up to `limit` ids of the given subsets, newest first, older than `before` when given (an id
   * never seen gives an empty page), and whether older ones remain.
   */
  page(subsets: readonly K[], limit: number, before?: string): { readonly ids: readonly string[]; readonly more: boolean } {
    let bound = Number.POSITIVE_INFINITY;
    if (before !== undefined) {
      const n = this.arrival.get(before);
      if (n === undefined) return { ids: [], more: false };
      bound = n;
    }
    // One cursor per subset, from its newest member older than the bound; merged newest first.
    const lists = subsets.map((s) => this.subsets.get(s) ?? []);
    const cursors = lists.map((list) => (bound === Number.POSITIVE_INFINITY ? list.length : lowerBound(list, bound)) - 1);
    const ids: string[] = [];
    for (;;) {
      let best = -1;
      for (let i = 0; i < lists.length; i++) {
        const c = cursors[i] as number;
        if (c >= 0 && (best < 0 || (lists[i] as number[])[c]! > (lists[best] as number[])[cursors[best] as number]!)) best = i;
      }
      if (best < 0) return { ids, more: false };
      if (ids.length === limit) return { ids, more: true };
      const list = lists[best] as number[];
      ids.push(this.ids[list[cursors[best] as number] as number] as string);
      cursors[best] = (cursors[best] as number) - 1;
    }
  }
}

/** The first index whose value is not below `n` (a sorted ascending list). */
function lowerBound(list: readonly number[], n: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as number) < n) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
