import { canonicalJson } from '../shared/canonical-json.js';
import type { EventStore, JsonObject, RecordedEvent } from '../eventstore/event-store.js';

/** One recorded event as a line of a history file: what the replay compares, nothing server-assigned. */
export interface HistoryLine {
  readonly streamId: string;
  readonly type: string;
  readonly id: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
}

/** A history as JSON lines, each the RFC 8785 canonical form of a {@link HistoryLine}. */
export async function exportHistory(store: EventStore, streamPrefixes: readonly string[]): Promise<string[]> {
  const lines: string[] = [];
  for await (const e of store.readAll({ streamPrefixes })) lines.push(toHistoryLine(e));
  return lines;
}

export const toHistoryLine = (e: Pick<RecordedEvent, 'streamId' | 'type' | 'id' | 'data' | 'metadata'>): string =>
  canonicalJson({ streamId: e.streamId, type: e.type, id: e.id, data: e.data, metadata: e.metadata });

/** Appends a history file's events to a store in file order, each at its stream's next revision. */
export async function importHistory(store: EventStore, lines: Iterable<string>): Promise<number> {
  const revisions = new Map<string, bigint>();
  let count = 0;
  for (const text of lines) {
    if (text.trim() === '') continue;
    const line = JSON.parse(text) as HistoryLine;
    const previous = revisions.get(line.streamId);
    await store.append(line.streamId, [{ id: line.id, type: line.type, data: line.data, metadata: line.metadata }], previous ?? 'no_stream');
    revisions.set(line.streamId, (previous ?? -1n) + 1n);
    count++;
  }
  return count;
}
