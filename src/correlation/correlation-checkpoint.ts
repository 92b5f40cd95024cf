import type { EventReader, EventStore, JsonObject, RecordedEvent } from '../eventstore/event-store.js';
import { CHECKPOINT_STREAM } from './correlation-events.js';

/**
 * Where a correlator got to, recorded in CHECKPOINT_STREAM ($maxCount 10): a restart takes up
 * from the last one, and the replay audit reads which inputs a live correlator had handled.
 */
export interface Checkpoint {
  /** The last `$all` position read. */
  readonly position: bigint;
  /** The earliest position still held (a restart reads again from there), if any. */
  readonly resumeFrom: bigint | undefined;
  readonly maxTime: number;
  readonly flushedThrough: number;
}

const CHECKPOINTED = 'CorrelationCheckpointed';

export async function readCheckpoint(reader: EventReader): Promise<Checkpoint | undefined> {
  let last: RecordedEvent | undefined;
  for await (const recorded of reader.readStream(CHECKPOINT_STREAM, { direction: 'backwards', maxCount: 1 })) last ??= recorded;
  return last === undefined ? undefined : checkpointOf(last);
}

/** A recorded checkpoint event read as a checkpoint (undefined when it is not one). */
export function checkpointOf(recorded: RecordedEvent): Checkpoint | undefined {
  if (recorded.type !== CHECKPOINTED) return undefined;
  const data = recorded.data as { position?: unknown; resumeFrom?: unknown; maxTime?: unknown; flushedThrough?: unknown };
  const integer = (value: unknown): bigint | undefined => (typeof value === 'string' && /^\d+$/.test(value) ? BigInt(value) : undefined);
  const time = (value: unknown): number => (typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? Date.parse(value) : Number.NEGATIVE_INFINITY);
  const position = integer(data.position);
  if (position === undefined) return undefined;
  return { position, resumeFrom: integer(data.resumeFrom), maxTime: time(data.maxTime), flushedThrough: time(data.flushedThrough) };
}

/** Records where a correlator got to. Several correlators may write here: any of their checkpoints is valid for all. */
export async function writeCheckpoint(store: EventStore, checkpoint: Checkpoint, ruleSetVersion: string): Promise<void> {
  const iso = (ms: number): string | null => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);
  const data: JsonObject = {
    position: checkpoint.position.toString(),
    resumeFrom: checkpoint.resumeFrom?.toString() ?? null,
    maxTime: iso(checkpoint.maxTime),
    flushedThrough: iso(checkpoint.flushedThrough),
    ruleSetVersion,
  };
  const result = await store.append(CHECKPOINT_STREAM, [{ id: crypto.randomUUID(), type: CHECKPOINTED, data, metadata: { schemaVersion: 1 } }], 'any');
  if (result.nextExpectedRevision === 0n) await store.setStreamMetadata(CHECKPOINT_STREAM, { maxCount: 10 });
}
