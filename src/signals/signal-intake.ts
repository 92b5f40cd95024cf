import type { SignalInput } from './alertmanager.js';
import { jsonDocuments } from './json-documents.js';
import { documentInputs } from './signal-input.js';
import type { RecordEdge, RecordOutcome, SignalRecorder } from './signal-recorder.js';
import type { SourcesConfig } from './source-mapping.js';

/** What an intake recorded, in counts, with the rejected inputs named (the first {@link MAX_REJECTIONS_LISTED}). */
export interface IntakeSummary {
  readonly documents: number;
  readonly inputs: number;
  readonly counts: Readonly<Record<RecordOutcome, number>>;
  readonly rejected: ReadonlyArray<{ readonly location: string; readonly problems: readonly string[] }>;
  readonly alertmanagerPayloads: number;
  /** Alerts Alertmanager left out of its bodies (max_alerts), summed; each notice is recorded. */
  readonly truncatedAlerts: number;
}

export const MAX_REJECTIONS_LISTED = 50;
const BATCH = 1_000;

/**
 * Streams JSON documents (JSON lines, concatenated or pretty-printed JSON, or one array) into the
 * recorder a batch at a time: memory stays bounded by one batch and the largest document, whatever
 * the input's size. Every input is accepted, ignored or rejected on its own.
 */
export async function recordStream(
  chunks: AsyncIterable<Buffer | string>,
  recorder: SignalRecorder,
  sources: SourcesConfig,
  edge: RecordEdge,
  onProgress: (inputs: number) => void = () => undefined,
): Promise<IntakeSummary> {
  const counts: Record<RecordOutcome, number> = { accepted: 0, duplicate: 0, ignored: 0, rejected: 0 };
  const rejected: Array<{ location: string; problems: readonly string[] }> = [];
  let documents = 0;
  let inputs = 0;
  let alertmanagerPayloads = 0;
  let truncatedAlerts = 0;
  let batch: SignalInput[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const report = await recorder.record(batch, edge);
    batch = [];
    for (const [outcome, n] of Object.entries(report.counts) as Array<[RecordOutcome, number]>) counts[outcome] += n;
    for (const input of report.inputs) if (input.outcome === 'rejected' && rejected.length < MAX_REJECTIONS_LISTED) rejected.push({ location: input.location, problems: input.problems ?? [] });
    onProgress(inputs);
  };
  for await (const document of jsonDocuments(chunks)) {
    documents++;
    const found = documentInputs(document, sources);
    if (found.alertmanager !== undefined) {
      alertmanagerPayloads++;
      if (found.alertmanager.truncatedAlerts > 0) {
        truncatedAlerts += found.alertmanager.truncatedAlerts;
        const { receiver, groupKey } = found.alertmanager;
        await recorder.recordTruncation({ source: sources.alertmanager.source, truncatedAlerts: found.alertmanager.truncatedAlerts, ...(receiver === undefined ? {} : { receiver }), ...(groupKey === undefined ? {} : { groupKey }) }, edge);
      }
    }
    for (const input of found.inputs) {
      batch.push(input);
      inputs++;
    }
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  return { documents, inputs, counts, rejected, alertmanagerPayloads, truncatedAlerts };
}
