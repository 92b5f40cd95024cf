import { CANDIDATE_INPUT_TYPES, CANDIDATE_STREAM_PREFIX } from '../candidates/candidate-events.js';
import { CandidateStore } from '../candidates/candidate-store.js';
import type { OpxConfig } from '../container/config.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.js';
import { InMemoryEventStore } from '../eventstore/in-memory-event-store.js';
import { incidentCodec, INCIDENT_STREAM_PREFIX } from '../incidents/incident-events.js';
import { IncidentManager } from '../incidents/incident-manager.js';
import { handleCandidateStreamEvent, type HandlerContext } from '../orchestration/candidate-event-handler.js';
import { IncidentOrchestrator } from '../orchestration/incident-orchestrator.js';
import type { OrchestrationStore } from '../orchestration/orchestration-store.js';
import { PromotionEngine } from '../promotion/promotion-engine.js';
import { canonicalJson, sameCanonicalJson } from '../shared/canonical-json.js';
import { FixedClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';

/** One place where the replay did not reproduce history. */
export interface Divergence {
  readonly streamId: string;
  readonly revision: string;
  readonly kind: 'different' | 'not-reproduced' | 'not-recorded' | 'handler-error' | 'undecodable';
  /** JSON path of the first differing field (`data.decision`), for kind `different`. */
  readonly path?: string;
  readonly recorded?: unknown;
  readonly replayed?: unknown;
  readonly message: string;
}

export interface PolicyDrift {
  readonly policy: string;
  readonly recordedHash: string;
  /** The hash of the policy now in config, or null when the version no longer exists. */
  readonly currentHash: string | null;
  readonly firstCandidateId: string;
  readonly decisions: number;
}

export interface ReplayReport {
  readonly verdict: 'IDENTICAL' | 'DIVERGENT';
  readonly eventsRead: number;
  /** Handler outputs re-derived and compared byte for byte. */
  readonly eventsCompared: number;
  readonly inputsReplayed: number;
  readonly streamsChecked: number;
  readonly identicalStreams: number;
  readonly divergentStreams: number;
  readonly divergenceCount: number;
  /** The first {@link MAX_REPORTED_DIVERGENCES}, in history order. */
  readonly divergences: readonly Divergence[];
  readonly policyDrift: readonly PolicyDrift[];
}

export interface ReplayOptions {
  /** Streams kept re-derived in memory at once; older ones are dropped and rebuilt on demand. */
  readonly maxOpenStreams?: number;
  readonly onProgress?: (eventsRead: number) => void;
}

export const MAX_REPORTED_DIVERGENCES = 100;

const INPUTS = new Set<string>(CANDIDATE_INPUT_TYPES);

/** The write-only attempt log is observability: a replay writes none. */
const discardingOrchestrationLog = { logAttempt: async () => undefined, getAttempts: async () => [] } as unknown as OrchestrationStore;

/**
 * The replay audit: reads recorded candidate and incident streams in global order, feeds every
 * recorded input (CandidateCreated, ManualPromotionRequested) through the same handlers, CP-6 and
 * CP-7 into a scratch store, and compares every output the handlers write with the recorded one:
 * type, id, data and metadata must have identical RFC 8785 canonical bytes (decided structurally,
 * see sameCanonicalJson; serialized only to report a divergence). Revision, position and
 * `created` are server-assigned and not compared.
 *
 * Memory stays flat however long the history: the scratch store keeps at most `maxOpenStreams`
 * re-derived streams. A stream dropped from it and needed again (a manual promotion weeks later)
 * is rebuilt from its recorded prefix, which is safe because every event of that prefix was
 * either an input or an output already proven identical.
 */
export class ReplayAudit {
  constructor(private readonly config: OpxConfig) {}

  async run(source: EventStore, options: ReplayOptions = {}): Promise<ReplayReport> {
    const maxOpen = options.maxOpenStreams ?? 2_000;
    const scratch = new InMemoryEventStore(() => new Date(0), { globalLog: false });
    const context = this.handlerContext(scratch);
    const open = new Map<string, number>(); // streamId -> recorded revisions seen (LRU order)
    const pending = new Map<string, RecordedEvent>(); // `${streamId}@${revision}` -> replayed, not yet seen in history
    const divergentStreams = new Set<string>();
    const divergences: Divergence[] = [];
    const drift = new Map<string, PolicyDrift & { decisions: number }>();
    let eventsRead = 0;
    let eventsCompared = 0;
    let inputsReplayed = 0;
    let streamsChecked = 0;
    let divergenceCount = 0;

    const diverge = (d: Divergence): void => {
      divergenceCount++;
      divergentStreams.add(d.streamId);
      if (divergences.length < MAX_REPORTED_DIVERGENCES) divergences.push(d);
    };

    const release = (streamId: string): void => {
      const seen = open.get(streamId) ?? 0;
      for (const extra of scratchEventsFrom(scratch, streamId, seen)) {
        pending.set(`${streamId}@${extra.revision}`, extra);
      }
      open.delete(streamId);
      scratch.forget(streamId);
    };

    const touch = (streamId: string, seen: number): void => {
      open.delete(streamId);
      open.set(streamId, seen);
      while (open.size > maxOpen) {
        const oldest = open.keys().next().value as string;
        release(oldest);
      }
    };

    for await (const recorded of source.readAll({ streamPrefixes: [CANDIDATE_STREAM_PREFIX, INCIDENT_STREAM_PREFIX] })) {
      eventsRead++;
      if (options.onProgress !== undefined && eventsRead % 10_000 === 0) options.onProgress(eventsRead);
      const { streamId } = recorded;
      if (recorded.revision === 0n) streamsChecked++;
      const seen = Number(recorded.revision) + 1;

      if (streamId.startsWith(CANDIDATE_STREAM_PREFIX) && INPUTS.has(recorded.type)) {
        inputsReplayed++;
        await this.ensurePrefix(source, scratch, open, streamId, recorded.revision);
        try {
          await scratch.append(streamId, [recorded], recorded.revision === 0n ? 'no_stream' : recorded.revision - 1n);
          const [input] = await collect(scratch.readStream(streamId, { fromRevision: recorded.revision, maxCount: 1 }));
          await handleCandidateStreamEvent(input as RecordedEvent, context);
        } catch (error) {
          diverge({ streamId, revision: recorded.revision.toString(), kind: 'handler-error', message: `replaying ${recorded.type} failed: ${(error as Error).message}` });
        }
        touch(streamId, seen);
        continue;
      }

      if (recorded.type === 'PromotionDecided') this.checkDrift(recorded, drift);
      if (streamId.startsWith(INCIDENT_STREAM_PREFIX) && recorded.type !== 'IncidentOpened') {
        // Human lifecycle transitions are inputs with no handler to replay: they must still decode.
        this.decodes(recorded, diverge);
        continue;
      }

      eventsCompared++;
      const key = `${streamId}@${recorded.revision}`;
      const replayed = pending.get(key) ?? scratch.snapshot(streamId)[Number(recorded.revision)];
      pending.delete(key);
      if (replayed === undefined) {
        diverge({ streamId, revision: recorded.revision.toString(), kind: 'not-reproduced', message: `recorded ${recorded.type} was not produced by the replay` });
      } else if (!sameCanonicalJson(compared(recorded), compared(replayed))) {
        const diff = firstDifference(compared(recorded), compared(replayed));
        diverge({ streamId, revision: recorded.revision.toString(), kind: 'different', ...diff, message: `${recorded.type} differs at ${diff.path}` });
      }
      if (streamId.startsWith(INCIDENT_STREAM_PREFIX)) {
        open.delete(streamId);
        scratch.forget(streamId);
      } else touch(streamId, seen);
    }

    for (const streamId of [...open.keys()]) release(streamId);
    for (const streamId of [...scratch.streamIds()]) {
      for (const extra of scratch.snapshot(streamId)) pending.set(`${streamId}@${extra.revision}`, extra);
    }
    for (const [key] of pending) {
      const at = key.lastIndexOf('@');
      diverge({ streamId: key.slice(0, at), revision: key.slice(at + 1), kind: 'not-recorded', message: 'the replay produced an event that history does not have' });
    }

    return {
      verdict: divergenceCount === 0 ? 'IDENTICAL' : 'DIVERGENT',
      eventsRead,
      eventsCompared,
      inputsReplayed,
      streamsChecked,
      identicalStreams: streamsChecked - divergentStreams.size,
      divergentStreams: divergentStreams.size,
      divergenceCount,
      divergences,
      policyDrift: [...drift.values()],
    };
  }

  /** The same handlers, CP-6 and CP-7 as production, wired to the scratch store. */
  private handlerContext(scratch: EventStore): HandlerContext {
    const candidateStore = new CandidateStore(scratch);
    const orchestrator = new IncidentOrchestrator(
      {
        candidateStore,
        promotionEngine: new PromotionEngine(scratch, candidateStore, this.config.policies, this.config.authorityMatrix),
        incidentManager: new IncidentManager(scratch, candidateStore, this.config.authorityMatrix),
        eventEmitter: { emit: async () => undefined },
        orchestrationStore: discardingOrchestrationLog,
      },
      { clock: new FixedClock('1970-01-01T00:00:00.000Z'), logger: silentLogger },
    );
    return { orchestrator, logger: silentLogger };
  }

  /** Makes the scratch stream hold the recorded prefix before `revision` (rebuilding a dropped stream). */
  private async ensurePrefix(source: EventStore, scratch: InMemoryEventStore, open: Map<string, number>, streamId: string, revision: bigint): Promise<void> {
    if (revision === 0n || open.has(streamId)) return;
    const prefix = await collect(source.readStream(streamId, { fromRevision: 0n, maxCount: Number(revision) }));
    if (prefix.length > 0) await scratch.append(streamId, prefix, 'no_stream');
  }

  private checkDrift(recorded: RecordedEvent, drift: Map<string, PolicyDrift & { decisions: number }>): void {
    const data = recorded.data as { policyId?: unknown; policyVersion?: unknown; policyHash?: unknown; candidateId?: unknown };
    if (typeof data.policyId !== 'string' || typeof data.policyVersion !== 'string' || typeof data.policyHash !== 'string') return;
    const current = this.config.policies.find(data.policyId, data.policyVersion);
    if (current !== undefined && current.hash === data.policyHash) return;
    const key = `${data.policyId}@${data.policyVersion}#${data.policyHash}`;
    const existing = drift.get(key);
    if (existing !== undefined) existing.decisions++;
    else
      drift.set(key, {
        policy: `${data.policyId}@${data.policyVersion}`,
        recordedHash: data.policyHash,
        currentHash: current?.hash ?? null,
        firstCandidateId: String(data.candidateId),
        decisions: 1,
      });
  }

  private decodes(recorded: RecordedEvent, diverge: (d: Divergence) => void): void {
    try {
      incidentCodec.decode(recorded);
    } catch (error) {
      diverge({ streamId: recorded.streamId, revision: recorded.revision.toString(), kind: 'undecodable', message: (error as Error).message });
    }
  }
}

/** What is compared of an event: type, id, data and metadata (nothing server-assigned). */
const compared = (event: Pick<RecordedEvent, 'type' | 'id' | 'data' | 'metadata'>): object => ({ type: event.type, id: event.id, data: event.data, metadata: event.metadata });


const scratchEventsFrom = (scratch: InMemoryEventStore, streamId: string, fromRevision: number): readonly RecordedEvent[] =>
  scratch.snapshot(streamId).slice(fromRevision);


async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** The first field where two JSON values differ, as a path, with both values. */
export function firstDifference(recorded: unknown, replayed: unknown, path = ''): { path: string; recorded: unknown; replayed: unknown } {
  if (typeof recorded === 'object' && recorded !== null && typeof replayed === 'object' && replayed !== null) {
    const keys = [...new Set([...Object.keys(recorded), ...Object.keys(replayed)])].sort();
    for (const key of keys) {
      const a = (recorded as Record<string, unknown>)[key];
      const b = (replayed as Record<string, unknown>)[key];
      if (canonicalJson(a ?? null) !== canonicalJson(b ?? null) || (a === undefined) !== (b === undefined)) {
        return firstDifference(a, b, path === '' ? key : `${path}.${key}`);
      }
    }
  }
  return { path: path === '' ? '(root)' : path, recorded: recorded ?? null, replayed: replayed ?? null };
}
