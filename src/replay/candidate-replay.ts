import { CANDIDATE_INPUT_TYPES } from '../candidates/candidate-events.js';
import type { RecordedEvent } from '../eventstore/event-store.js';
import type { InMemoryEventStore } from '../eventstore/in-memory-event-store.js';
import { incidentStreamId } from '../incidents/incident-events.js';
import { handleCandidateStreamEvent, type HandlerContext } from '../orchestration/candidate-event-handler.js';
import type { Findings } from './report.js';
import type { Scratch } from './scratch.js';

const INPUTS = new Set<string>(CANDIDATE_INPUT_TYPES);

/**
 * One candidate stream replayed event by event through the production handlers (CP-5/6/7 wired
 * to a scratch store): a recorded input is handled as the worker handles a delivery, a recorded
 * output is compared with what the handlers wrote at its revision, and the incident streams the
 * replay opens are compared with the recorded ones as they come. Outputs below `compareFrom`
 * were compared by an earlier replay of the same stream: they are replayed, not compared again.
 */
export class CandidateReplay {
  private readonly scratch: InMemoryEventStore;
  private readonly context: HandlerContext;
  /** Recorded events of the stream accepted so far: the revision the next one must have. */
  private seen = 0;
  private lastWasInput = false;
  /** After a divergence the handlers could not get past: nothing more of the stream is compared. */
  broken = false;
  /** Incident streams the replay opened, by the revision of the IncidentCreated that opened each. */
  private readonly incidents = new Map<string, { readonly revision: number; seen: boolean }>();
  private readonly compareFrom: number;

  constructor(
    readonly streamId: string,
    scratch: Scratch,
    compareFrom = 0n,
  ) {
    this.compareFrom = Number(compareFrom);
    ({ store: this.scratch, context: this.context } = scratch);
  }

  /** Still awaiting something history should show: its outputs, or an incident stream they opened. */
  get pending(): boolean {
    if (this.broken) return false;
    if (this.lastWasInput || this.replayed().length > this.seen) return true;
    for (const incident of this.incidents.values()) if (!incident.seen && incident.revision < this.seen) return true;
    return false;
  }

  /** Whether the replay opened an incident stream. */
  get opensIncidents(): boolean {
    return this.incidents.size > 0;
  }

  /** Every incident stream the replay opened. */
  incidentStreams(): IterableIterator<string> {
    return this.incidents.keys();
  }

  /** Incident streams the replay opened whose recorded IncidentOpened has not come yet. */
  *awaitedIncidents(): Generator<string> {
    for (const [stream, incident] of this.incidents) if (!incident.seen) yield stream;
  }

  /** Incident streams opened by outputs history has shown and this replay compares, not seen yet. */
  incidentsDue(): string[] {
    const due: string[] = [];
    for (const [stream, incident] of this.incidents) {
      if (!incident.seen && incident.revision < this.seen && incident.revision >= this.compareFrom) due.push(stream);
    }
    return due;
  }

  /** One recorded event of the stream, in order: a promise only when it is an input to handle. */
  accept(recorded: RecordedEvent, findings: Findings): Promise<void> | undefined {
    if (this.broken) return undefined;
    const index = Number(recorded.revision);
    if (index !== this.seen)
      return this.fail(findings, index, `cannot replay ${recorded.type}: history shows revision ${index} after ${this.seen} events of the stream`);
    this.seen++;
    if (INPUTS.has(recorded.type)) return this.handle(recorded, index, findings);
    this.lastWasInput = false;
    if (index < this.compareFrom) return undefined;
    if (recorded.type === 'PromotionDecided') findings.decided(recorded);
    findings.compare(recorded, this.replayed()[index]);
    return undefined;
  }

  private async handle(recorded: RecordedEvent, index: number, findings: Findings): Promise<void> {
    this.lastWasInput = true;
    const before = this.replayed().length;
    if (before !== index)
      return this.fail(findings, index, `cannot replay ${recorded.type}: the replayed stream has ${before} events before it, history ${index}`);
    if (index >= this.compareFrom) findings.inputsReplayed++;
    try {
      this.scratch.appendSync(this.streamId, [recorded], index === 0 ? 'no_stream' : BigInt(index - 1));
      // Delivered to the handler as the worker delivers it (the handler shows it to CP-5 first).
      await handleCandidateStreamEvent(this.replayed()[index] as RecordedEvent, this.context);
    } catch (error) {
      return this.fail(findings, index, `replaying ${recorded.type} failed: ${(error as Error).message}`);
    }
    const produced = this.replayed();
    for (let i = index + 1; i < produced.length; i++) {
      const output = produced[i] as RecordedEvent;
      if (output.type === 'IncidentCreated')
        this.incidents.set(incidentStreamId((output.data as { incidentId: string }).incidentId), { revision: i, seen: false });
    }
  }

  private fail(findings: Findings, index: number, message: string): undefined {
    findings.diverge({ streamId: this.streamId, revision: String(index), kind: 'handler-error', message });
    this.broken = true;
    return undefined;
  }

  /** The recorded IncidentOpened of an incident stream this replay opened. */
  acceptIncident(opened: RecordedEvent, findings: Findings): void {
    const incident = this.incidents.get(opened.streamId);
    if (incident !== undefined) incident.seen = true;
    findings.compare(opened, this.scratch.snapshot(opened.streamId)[0]);
  }

  /** History has no more of the stream: what the replay produced and history lacks diverges. */
  finish(findings: Findings): void {
    if (this.broken) return;
    for (const incidentStream of this.incidentsDue()) {
      findings.diverge({
        streamId: incidentStream,
        revision: '0',
        kind: 'not-recorded',
        message: `the replay opened ${incidentStream}, which history does not have`,
      });
    }
    if (this.lastWasInput) {
      // Handled fine, but history has no outputs after it yet: not handled when recorded (live).
      findings.inputsPending++;
      return;
    }
    for (const extra of this.replayed().slice(this.seen)) {
      findings.diverge({
        streamId: this.streamId,
        revision: extra.revision.toString(),
        kind: 'not-recorded',
        message: `the replay produced ${extra.type}, which history does not have`,
      });
    }
  }

  private replayed(): readonly RecordedEvent[] {
    return this.scratch.snapshot(this.streamId);
  }
}
