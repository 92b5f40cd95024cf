/**
 * A set of stream ids that holds an OPX id (`prefix` and 24 lowercase hex digits, as candidate
 * ids are) as two numbers in typed arrays, no string or object per id: what keeps the audit's
 * deferred streams small in a long history recorded ingest-first (docs/performance.md). Any
 * other id goes to a plain Set. Exact: an id is never taken for another.
 */
export class StreamIdSet {
  /** The id's first 13 hex digits (52 bits) -> its last 11 (44 bits). */
  private readonly compact = new NumberTable();
  private readonly others = new Set<string>();

  constructor(private readonly prefix: string) {}

  get size(): number {
    return this.compact.size + this.others.size;
  }

  has(streamId: string): boolean {
    const bits = this.bits(streamId);
    if (bits !== undefined && this.compact.get(bits.key) === bits.check) return true;
    return this.others.size > 0 && this.others.has(streamId);
  }

  add(streamId: string): void {
    if (this.others.size > 0 && this.others.has(streamId)) return;
    const bits = this.bits(streamId);
    if (bits !== undefined) {
      const held = this.compact.get(bits.key);
      if (held === bits.check) return;
      if (held === undefined) {
        this.compact.set(bits.key, bits.check);
        return;
      }
    }
    this.others.add(streamId); // not an OPX id, or another id under the same first 13 digits
  }

  delete(streamId: string): boolean {
    const bits = this.bits(streamId);
    if (bits !== undefined && this.compact.get(bits.key) === bits.check) return this.compact.delete(bits.key);
    return this.others.delete(streamId);
  }

  private bits(streamId: string): { key: number; check: number } | undefined {
    const at = this.prefix.length;
    if (streamId.length !== at + 24 || !streamId.startsWith(this.prefix)) return undefined;
    const key = hexValue(streamId, at, at + 13);
    const check = hexValue(streamId, at + 13, at + 24);
    return key === undefined || check === undefined ? undefined : { key, check };
  }
}

/** The number lowercase hex digits `from`..`to` of `text` make (at most 13), or undefined if one is not one. */
function hexValue(text: string, from: number, to: number): number | undefined {
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (digit < 0) return undefined;
    value = value * 16 + digit;
  }
  return value;
}

const EMPTY = 0;
const FULL = 1;
const DELETED = 2;

/**
 * A map from numbers (below 2^53) to numbers in typed arrays, open addressing with linear
 * probing: no object and no heap number per entry, nothing for the garbage collector to trace.
 */
export class NumberTable {
  private keys = new Float64Array(1024);
  private values = new Float64Array(1024);
  private states = new Uint8Array(1024);
  /** Slots not EMPTY (FULL or DELETED): what probing walks over. */
  private used = 0;
  size = 0;

  get(key: number): number | undefined {
    const slot = this.find(key);
    return slot < 0 ? undefined : this.values[slot];
  }

  set(key: number, value: number): void {
    const slot = this.find(key);
    if (slot >= 0) {
      this.values[slot] = value;
      return;
    }
    if ((this.used + 1) * 4 > this.states.length * 3) this.rebuild();
    const mask = this.states.length - 1;
    let i = key % this.states.length;
    while (this.states[i] === FULL) i = (i + 1) & mask;
    if (this.states[i] === EMPTY) this.used++;
    this.keys[i] = key;
    this.values[i] = value;
    this.states[i] = FULL;
    this.size++;
  }

  delete(key: number): boolean {
    const slot = this.find(key);
    if (slot < 0) return false;
    this.states[slot] = DELETED;
    this.size--;
    return true;
  }

  private find(key: number): number {
    const mask = this.states.length - 1;
    for (let i = key % this.states.length; ; i = (i + 1) & mask) {
      const state = this.states[i];
      if (state === EMPTY) return -1;
      if (state === FULL && this.keys[i] === key) return i;
    }
  }

  /** Twice the size when mostly full; the same size, without the DELETED slots, when mostly deleted. */
  private rebuild(): void {
    const { keys, values, states } = this;
    const capacity = this.size * 2 > states.length ? states.length * 2 : states.length;
    this.keys = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
    this.states = new Uint8Array(capacity);
    this.used = 0;
    this.size = 0;
    for (let i = 0; i < states.length; i++) if (states[i] === FULL) this.set(keys[i] as number, values[i] as number);
  }
}
