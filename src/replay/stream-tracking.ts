/**
 * What the audit remembers about streams between the events of the scan: which candidate streams
 * a whole read already covered, and which incident streams whole replays opened.
 */

/**
 * The candidate streams whole replays read, and through which revision: the scan skips those
 * events. A stream is forgotten once the scan passes the last event its read covered.
 */
export class CoveredStreams {
  /** Stream id -> the revision a whole read covered it through, or {@link READING} / {@link FOREVER}. */
  private readonly revisions = new Map<string, number>();

  /** A whole read of the stream is under way: skip its events until it says how far it read. */
  reading(streamId: string): void {
    this.revisions.set(streamId, READING);
  }

  /** A stream whose replay broke: the scan skips the rest of it (the divergence is reported once). */
  forever(streamId: string): void {
    this.revisions.set(streamId, FOREVER);
  }

  through(streamId: string, revision: bigint): void {
    this.revisions.set(streamId, Number(revision));
  }

  /** Whether a whole read already covered this event; forgets the stream once the scan passes its last one. */
  covers(streamId: string, revision: bigint): boolean {
    const through = this.revisions.get(streamId);
    if (through === undefined) return false;
    if (through === READING || through === FOREVER) return true;
    const at = Number(revision);
    if (at < through) return true;
    this.revisions.delete(streamId);
    return at === through;
  }
}

const READING = -1;
const FOREVER = -2;

/** A multiset of incident stream ids: the ones whole replays opened, taken out as history shows them. */
export class IncidentStreamTally {
  private readonly counts = new Map<string, number>();

  add(streamId: string): void {
    this.counts.set(streamId, (this.counts.get(streamId) ?? 0) + 1);
  }

  /** Takes one out; false when there was none. */
  delete(streamId: string): boolean {
    const count = this.counts.get(streamId);
    if (count === undefined) return false;
    if (count === 1) this.counts.delete(streamId);
    else this.counts.set(streamId, count - 1);
    return true;
  }
}
