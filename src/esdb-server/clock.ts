/**
 * The server's only source of wall-clock time. Server-assigned `created` stamps and `$maxAge`
 * checks read it; tests inject a fixed or stepping clock instead of patching `Date`.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

const TICKS_PER_MILLISECOND = 10_000n;

/** .NET ticks (100 ns) since the Unix epoch, the unit EventStoreDB puts in the `created` metadata. */
export const ticksFromMillis = (millis: number): bigint => BigInt(Math.trunc(millis)) * TICKS_PER_MILLISECOND;

export const millisFromTicks = (ticks: bigint): number => Number(ticks / TICKS_PER_MILLISECOND);
