import type { EventStore, RecordedEvent } from '../eventstore/event-store.js';
import { firstDifference } from '../replay/replay-audit.js';
import { OpxError, WrongExpectedVersion } from '../shared/errors.js';
import { contentHash, eventId } from '../shared/ids.js';
import { emptyReadModels, project, PROJECTED_STREAM_PREFIXES, serializeReadModels, type ReadModels } from './read-models.js';

/**
 * The live projection, persisted: the read models as of a checkpoint position, stored as
 * snapshot events on one stream. Whoever processes inputs (`opx process`, the worker's host)
 * calls {@link updateLiveProjection} afterwards; readers (`opx incidents list`, `opx candidates
 * deferred`) load the latest snapshot and fold the few events after it, without writing; a
 * rebuild folds the whole history from nothing and must agree with it byte for byte.
 */
export const LIVE_PROJECTION_STREAM = 'opx-projection-readmodels';
export const READ_MODELS_CHECKPOINTED = 'ReadModelsCheckpointed';

/** Snapshots kept on the stream ($maxCount): the newest is all a reader needs. */
export const LIVE_PROJECTION_KEEP = 5;

/** The read models' shape: a snapshot of another shape is passed over and the models are folded again. */
export const READ_MODELS_SCHEMA_VERSION = 2;

/** A snapshot bigger than this is not written (EventStoreDB refuses appends over 1 MiB). */
export const MAX_SNAPSHOT_BYTES = 900 * 1024;

export interface ProjectionState {
  readonly models: ReadModels;
  /** Global position of the last projected event; undefined before any. */
  readonly position: bigint | undefined;
  readonly eventsProjected: number;
}

export interface LiveCheckpoint extends ProjectionState {
  /** Revision of the snapshot event on {@link LIVE_PROJECTION_STREAM}. */
  readonly revision: bigint;
}

export class CorruptProjection extends OpxError {
  static readonly code = 'opx.projection.corrupt';

  constructor(detail: string) {
    super(CorruptProjection.code, `The live projection snapshot on '${LIVE_PROJECTION_STREAM}' is unreadable: ${detail}`);
  }
}

export const emptyProjection = (): ProjectionState => ({ models: emptyReadModels(), position: undefined, eventsProjected: 0 });

/** The newest snapshot, or undefined when no live projection was ever written. */
export async function loadLiveCheckpoint(store: EventStore): Promise<LiveCheckpoint | undefined> {
  let last: RecordedEvent | undefined;
  for await (const recorded of store.readStream(LIVE_PROJECTION_STREAM, { direction: 'backwards', maxCount: 1 })) last ??= recorded;
  if (last === undefined || (last.data as { schemaVersion?: unknown }).schemaVersion !== READ_MODELS_SCHEMA_VERSION) return undefined;
  return decodeSnapshot(last);
}

function decodeSnapshot(recorded: RecordedEvent): LiveCheckpoint {
  if (recorded.type !== READ_MODELS_CHECKPOINTED) throw new CorruptProjection(`unexpected event type '${recorded.type}' at revision ${recorded.revision}`);
  const { position, eventsProjected, readModels, readModelsHash } = recorded.data as Record<string, unknown>;
  if ((position !== null && typeof position !== 'string') || typeof eventsProjected !== 'number' || typeof readModels !== 'string') {
    throw new CorruptProjection(`revision ${recorded.revision} lacks position, eventsProjected or readModels`);
  }
  if (readModelsHash !== contentHash(readModels)) throw new CorruptProjection(`revision ${recorded.revision}: readModelsHash does not match its readModels`);
  return { models: JSON.parse(readModels) as ReadModels, position: position === null ? undefined : BigInt(position), eventsProjected, revision: recorded.revision };
}

/** An event the read models could not take (malformed, unknown or out of place): passed over, reported. */
export interface PoisonEvent {
  readonly streamId: string;
  readonly revision: string;
  readonly type: string;
  readonly problem: string;
}

/**
 * One event into the read models; an event they cannot take is passed over and reported, never
 * allowed to stop every reader (one malformed event appended by any client must not blind them).
 */
export function projectOrReport(models: ReadModels, recorded: RecordedEvent, poison: PoisonEvent[]): ReadModels {
  try {
    return project(models, recorded);
  } catch (error) {
    if (!OpxError.is(error)) throw error;
    poison.push({ streamId: recorded.streamId, revision: recorded.revision.toString(), type: recorded.type, problem: error.message });
    return models;
  }
}

/** Folds every projected event after the state's position into it (the state's models are reused). */
export async function catchUp(store: EventStore, from: ProjectionState, onProgress?: (eventsProjected: number) => void): Promise<ProjectionState & { readonly applied: number; readonly poison: readonly PoisonEvent[] }> {
  let { models, position, eventsProjected } = from;
  let applied = 0;
  const poison: PoisonEvent[] = [];
  for await (const recorded of store.readAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES, ...(position === undefined ? {} : { after: position }) })) {
    models = projectOrReport(models, recorded, poison);
    position = recorded.position;
    eventsProjected++;
    applied++;
    if (onProgress !== undefined && applied % 5_000 === 0) onProgress(applied);
  }
  return { models, position, eventsProjected, applied, poison };
}

/** The read models folded from the whole history, from nothing. */
export const rebuildReadModels = (store: EventStore, onProgress?: (eventsProjected: number) => void): Promise<ProjectionState & { readonly applied: number }> =>
  catchUp(store, emptyProjection(), onProgress);

/** What readers see: the live snapshot plus the events after it, without writing anything. */
export async function currentReadModels(store: EventStore): Promise<ProjectionState & { readonly fromCheckpoint: boolean; readonly poison: readonly PoisonEvent[] }> {
  const checkpoint = await loadLiveCheckpoint(store);
  const state = await catchUp(store, checkpoint ?? emptyProjection());
  return { ...state, fromCheckpoint: checkpoint !== undefined };
}

export interface LiveUpdate {
  readonly state: ProjectionState;
  readonly applied: number;
  /** 'written' | 'unchanged' (nothing new) | 'concurrent' (another writer checkpointed first) | 'too-large'. */
  readonly outcome: 'written' | 'unchanged' | 'concurrent' | 'too-large';
}

/** Brings the persisted live projection up to date: load, fold what is new, append a snapshot. */
export async function updateLiveProjection(store: EventStore): Promise<LiveUpdate> {
  const checkpoint = await loadLiveCheckpoint(store);
  const state = await catchUp(store, checkpoint ?? emptyProjection());
  if (checkpoint !== undefined && state.applied === 0) return { state, applied: 0, outcome: 'unchanged' };
  const outcome = await writeSnapshot(store, state, checkpoint?.revision ?? (await lastRevision(store)));
  return { state, applied: state.applied, outcome };
}

/** The snapshot stream's last revision whatever its shape (a snapshot of an older shape is written over). */
async function lastRevision(store: EventStore): Promise<bigint | undefined> {
  let revision: bigint | undefined;
  for await (const recorded of store.readStream(LIVE_PROJECTION_STREAM, { direction: 'backwards', maxCount: 1 })) revision ??= recorded.revision;
  return revision;
}

/** Appends a snapshot at the expected revision (the one read); a concurrent writer wins. */
export async function writeSnapshot(store: EventStore, state: ProjectionState, expectedRevision: bigint | undefined): Promise<'written' | 'concurrent' | 'too-large'> {
  const readModels = serializeReadModels(state.models);
  if (Buffer.byteLength(readModels) > MAX_SNAPSHOT_BYTES) return 'too-large';
  const position = state.position === undefined ? null : state.position.toString();
  const readModelsHash = contentHash(readModels);
  const event = {
    id: eventId(`${READ_MODELS_CHECKPOINTED}:${position}:${readModelsHash}`),
    type: READ_MODELS_CHECKPOINTED,
    data: { schemaVersion: READ_MODELS_SCHEMA_VERSION, position, eventsProjected: state.eventsProjected, readModels, readModelsHash },
    metadata: { schemaVersion: 1 },
  };
  try {
    await store.append(LIVE_PROJECTION_STREAM, [event], expectedRevision ?? 'no_stream');
  } catch (error) {
    if (error instanceof WrongExpectedVersion) return 'concurrent';
    throw error;
  }
  if (expectedRevision === undefined) await store.setStreamMetadata(LIVE_PROJECTION_STREAM, { maxCount: LIVE_PROJECTION_KEEP });
  return 'written';
}

export interface ProjectionComparison {
  readonly identical: boolean;
  readonly bytes: number;
  readonly firstDifference?: { readonly path: string; readonly live: unknown; readonly rebuilt: unknown };
}

/** Byte comparison of two read-model sets in their serialized (RFC 8785) form. */
export function compareReadModels(live: ReadModels, rebuilt: ReadModels): ProjectionComparison {
  const a = serializeReadModels(live);
  const b = serializeReadModels(rebuilt);
  if (a === b) return { identical: true, bytes: Buffer.byteLength(b) };
  const diff = firstDifference(JSON.parse(a), JSON.parse(b));
  return { identical: false, bytes: Buffer.byteLength(b), firstDifference: { path: diff.path, live: diff.recorded, rebuilt: diff.replayed } };
}
