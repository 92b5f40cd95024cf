import type { EventStore } from '../eventstore/event-store.js';
import type { Clock } from '../shared/clock.js';
import { WrongExpectedVersion } from '../shared/errors.js';
import { sha256Hex } from '../shared/ids.js';
import type { SignalInput } from './alertmanager.js';
import { rejectedSignalStreamId, signalCodec, signalEvent, signalEventId, truncationStreamId, type AlertsTruncatedData, type SignalMetadata } from './signal-events.js';

export type RecordOutcome = 'accepted' | 'duplicate' | 'ignored' | 'rejected';

/** What became of one input: recorded new, already recorded, ignored (recorded as such), or rejected (recorded with why). */
export interface RecordedInput {
  readonly location: string;
  readonly outcome: RecordOutcome;
  readonly source: string;
  readonly streamId: string;
  readonly signalId?: string;
  readonly problems?: readonly string[];
}

export interface RecordReport {
  readonly inputs: readonly RecordedInput[];
  readonly counts: Readonly<Record<RecordOutcome, number>>;
}

/** Who handed the inputs over: the edge facts recorded beside each one. */
export interface RecordEdge {
  readonly channel: string;
  readonly principal?: string;
}

const MAX_REJECTED_INPUT = 4096;
const DEFAULT_IN_FLIGHT = 64;

/**
 * Records signal inputs, every one before anything acts on it: a fact at `no_stream` in its own
 * stream under an id derived from its identity, so recording it again writes nothing (an
 * Alertmanager retry, an HA pair, a file ingested twice); an ignored alert as SignalIgnored; a
 * rejected input as SignalRejected with its problems. Nothing is read first. The report says which
 * inputs were new, which the store already held (when the store can tell), and what was rejected.
 * `record` resolves only when every append is acknowledged by the store.
 */
export class SignalRecorder {
  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly inFlight = DEFAULT_IN_FLIGHT,
  ) {}

  async record(inputs: readonly SignalInput[], edge: RecordEdge): Promise<RecordReport> {
    const receivedAt = this.clock.now().toISOString();
    // A new write lands after everything there now; an idempotent re-append reports its original, older position.
    const head = (await this.store.headPosition?.()) ?? -1n;
    const meta = { receivedAt, channel: edge.channel, ...(edge.principal === undefined ? {} : { principal: edge.principal }) };
    const results = new Array<RecordedInput>(inputs.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < inputs.length) {
        const i = next++;
        results[i] = await this.recordOne(inputs[i] as SignalInput, meta, head);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.inFlight, inputs.length) }, worker));
    const counts = { accepted: 0, duplicate: 0, ignored: 0, rejected: 0 };
    for (const result of results) counts[result.outcome]++;
    return { inputs: results, counts };
  }

  /** Records that Alertmanager left `truncatedAlerts` alerts out of a body (the same notice again is a no-op). */
  async recordTruncation(info: AlertsTruncatedData, edge: RecordEdge): Promise<string> {
    const streamId = truncationStreamId(sha256Hex(JSON.stringify([info.source, info.receiver ?? '', info.groupKey ?? '', info.truncatedAlerts])));
    const id = signalEventId(streamId);
    const metadata = { $correlationId: id, $causationId: id, schemaVersion: 1, receivedAt: this.clock.now().toISOString(), channel: edge.channel, ...(edge.principal === undefined ? {} : { principal: edge.principal }) };
    await this.appendOnce(streamId, signalCodec.encode({ type: 'AlertsTruncated', data: info, metadata }, id), -1n);
    return streamId;
  }

  private async recordOne(input: SignalInput, meta: Omit<SignalMetadata, '$correlationId' | '$causationId' | 'schemaVersion'>, head: bigint): Promise<RecordedInput> {
    if (input.kind === 'rejected') {
      const text = inputText(input.input);
      const streamId = rejectedSignalStreamId(sha256Hex(`${input.source}\n${text}\n${input.problems.join('\n')}`));
      const id = signalEventId(streamId);
      const event = signalCodec.encode(
        { type: 'SignalRejected', data: { source: input.source, location: input.location.slice(0, 200), problems: input.problems.map((p) => p.slice(0, 500)), input: text }, metadata: { $correlationId: id, $causationId: id, schemaVersion: 1, ...meta } },
        id,
      );
      await this.appendOnce(streamId, event, head);
      return { location: input.location, outcome: 'rejected', source: input.source, streamId, problems: input.problems };
    }
    const { streamId, id, event } = signalEvent(input.fact, meta, input.ignoredBy);
    const written = await this.appendOnce(streamId, signalCodec.encode(event, id), head);
    const outcome: RecordOutcome = input.ignoredBy !== undefined ? 'ignored' : written ? 'accepted' : 'duplicate';
    return { location: input.location, outcome, source: input.fact.source, streamId, signalId: input.fact.signalId };
  }

  /**
   * Appends at `no_stream`; false when the store already held the fact: it says it wrote nothing,
   * or the position it reports is not after `head` (the end of `$all` before this batch).
   */
  private async appendOnce(streamId: string, event: Parameters<EventStore['append']>[1][number], head: bigint): Promise<boolean> {
    try {
      const result = await this.store.append(streamId, [event], 'no_stream');
      return result.written ?? result.position > head;
    } catch (error) {
      // The stream holds another event: the fact was recorded before, under another writer's id.
      if (error instanceof WrongExpectedVersion) return false;
      throw error;
    }
  }
}

function inputText(input: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(input) ?? 'undefined';
  } catch {
    text = String(input);
  }
  return text.length > MAX_REJECTED_INPUT ? `${text.slice(0, MAX_REJECTED_INPUT - 1)}…` : text;
}
