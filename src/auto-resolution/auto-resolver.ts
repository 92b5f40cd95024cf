import { alertAutomationAuthority } from '../authority/authority.js';
import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import { GROUP_STREAM_PREFIX } from '../correlation/correlation-events.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.js';
import { StaleIncident, type IncidentManager } from '../incidents/incident-manager.js';
import { eventId } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';
import { deriveAutoResolutions } from './derive.js';

/** Where the alert automation got to in `$all` (observability and restart; never a fact). */
export const AUTO_RESOLUTION_CHECKPOINT_STREAM = 'opx-auto-resolution-checkpoint';
const CHECKPOINTED = 'AutoResolutionCheckpointed';
/** Group events read between checkpoints when no resolution was acted on (a restart reads these again: harmless). */
const CHECKPOINT_EVERY = 4_096;

export interface AutoResolverStats {
  /** Group events read. */
  eventsRead: number;
  /** Resolutions this process appended (two runtimes appending the same one at once both count it; one event is recorded). */
  resolved: number;
  /** Resolutions found already made (a redelivery, another runtime) or overtaken by a person's act at that revision. */
  superseded: number;
}

/**
 * The alert automation's consumer: reads the correlation group streams in `$all` order from its
 * checkpoint and, for each recorded resolution that leaves a candidate with every alert resolved,
 * asks CP-7 to resolve the candidate's incidents under ALERT_AUTOMATION (see
 * {@link deriveAutoResolutions}), each at the revision the incident had when the resolution was
 * recorded. The event id is deterministic, so a redelivery or a second runtime re-appending it is a
 * no-op, and a transition recorded since (the same one, or a person's) makes CP-7 refuse it as
 * stale: at most one transition per trigger, never applied over a person's act. Runs only when the
 * authority matrix grants ALERT_AUTOMATION RESOLVE_INCIDENT; otherwise nothing moves.
 */
export class AutoResolver {
  readonly stats: AutoResolverStats = { eventsRead: 0, resolved: 0, superseded: 0 };
  private position: bigint | undefined;
  private sinceCheckpoint = 0;

  constructor(
    private readonly store: EventStore,
    private readonly incidents: IncidentManager,
    private readonly matrix: AuthorityMatrix,
    private readonly logger: Logger,
  ) {}

  /** Whether the matrix grants the automation anything to do. */
  get enabled(): boolean {
    return this.matrix.allows(alertAutomationAuthority('-', ''), 'RESOLVE_INCIDENT');
  }

  /** The position to read after (undefined: from the beginning). */
  async restore(): Promise<bigint | undefined> {
    for await (const recorded of this.store.readStream(AUTO_RESOLUTION_CHECKPOINT_STREAM, { direction: 'backwards', maxCount: 1 })) {
      const position = (recorded.data as { position?: unknown }).position;
      if (typeof position === 'string' && /^\d+$/.test(position)) this.position = BigInt(position);
    }
    return this.position;
  }

  /** One event of `$all` (group streams; others are passed over). */
  async handle(recorded: RecordedEvent): Promise<void> {
    this.position = recorded.position;
    this.stats.eventsRead++;
    this.sinceCheckpoint++;
    const { resolve } = await deriveAutoResolutions(this.store, this.matrix, recorded);
    for (const resolution of resolve) {
      try {
        await this.incidents.transition(resolution.incidentId, resolution.command);
        this.stats.resolved++;
        this.logger.info({ incidentId: resolution.incidentId, candidateId: resolution.candidateId, at: resolution.command.at, trigger: resolution.trigger.eventId }, 'every alert of the incident resolved: resolved under ALERT_AUTOMATION');
      } catch (error) {
        if (!(error instanceof StaleIncident)) throw error;
        this.stats.superseded++;
      }
    }
    if (resolve.length > 0 || this.sinceCheckpoint >= CHECKPOINT_EVERY) await this.checkpoint();
  }

  /** From the checkpoint to the end of `$all`, then a checkpoint (`opx process`, the in-process runtime). */
  async runOnce(): Promise<AutoResolverStats> {
    if (!this.enabled) return { ...this.stats };
    const after = await this.restore();
    for await (const recorded of this.store.readAll({ streamPrefixes: [GROUP_STREAM_PREFIX], ...(after === undefined ? {} : { after }) })) await this.handle(recorded);
    await this.checkpoint();
    return { ...this.stats };
  }

  /** Records how far it got (shared by every runtime: each one's progress is a prefix all of them handled). */
  async checkpoint(): Promise<void> {
    this.sinceCheckpoint = 0;
    if (this.position === undefined) return;
    const position = this.position.toString();
    const result = await this.store.append(AUTO_RESOLUTION_CHECKPOINT_STREAM, [{ id: eventId(`${CHECKPOINTED}:${position}`), type: CHECKPOINTED, data: { position }, metadata: { schemaVersion: 1 } }], 'any');
    if (result.nextExpectedRevision === 0n) await this.store.setStreamMetadata(AUTO_RESOLUTION_CHECKPOINT_STREAM, { maxCount: 10 });
  }
}
