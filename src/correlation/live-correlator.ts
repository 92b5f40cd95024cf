import { candidateCodec } from '../candidates/candidate-codec.js';
import { candidateStreamId } from '../candidates/candidate-events.js';
import type { EventReader, EventToAppend, RecordedEvent } from '../eventstore/event-store.js';
import { incidentCodec, incidentStreamId, INCIDENT_STREAM_PREFIX } from '../incidents/incident-events.js';
import { decodeCorrelatedSignal } from '../signals/signal-check.js';
import { CORRELATED_SIGNAL_TYPES, factTime, SIGNAL_STREAM_PREFIX, type SignalFact } from '../signals/signal-events.js';
import { OpxError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { readCheckpoint, type Checkpoint } from './correlation-checkpoint.js';
import {
  CLOCK_STREAM,
  clockCodec,
  groupCodec,
  groupEventId,
  groupIdOf,
  type EpisodeClosedData,
  type GroupEvent,
} from './correlation-events.js';
import type { CorrelationOutputs } from './correlation-outputs.js';
import type { CorrelationRule, CorrelationRuleSet } from './correlation-rule.js';
import type { Candidate } from './correlator.js';
import { EventTimeBuffer } from './event-time.js';
import { decideClose, decideSignal, evolveGroup, GroupState } from './group.js';
import { groupKeyOf, ruleFor } from './rule-match.js';

/** The streams correlation reads its inputs from (a catch-up read or subscription over `$all`). */
export const CORRELATION_INPUT_PREFIXES = [SIGNAL_STREAM_PREFIX, CLOCK_STREAM, INCIDENT_STREAM_PREFIX] as const;

const SIGNAL_TYPES = new Set<string>(CORRELATED_SIGNAL_TYPES);
const MAX_REMEMBERED_SERVICES = 10_000;
const CLOSING_STATES = new Set(['RESOLVED', 'CLOSED']);

type Input =
  | { readonly kind: 'signal'; readonly eventId: string; readonly streamId: string; readonly fact: SignalFact; readonly time: number }
  | { readonly kind: 'close'; readonly eventId: string; readonly incidentId: string; readonly state: string; readonly changedAt: string };

export interface CorrelatorStats {
  /** Signal facts and incident closes taken in. */
  inputs: number;
  /** Of those, taken after correlation had moved past their time (in arrival order). */
  late: number;
  /** Signal facts no rule takes: recorded, visible by fingerprint, never correlated. */
  uncorrelated: number;
  candidatesOpened: number;
  /** Events that were not valid inputs (malformed, or an out-of-place type): skipped, reported. */
  poison: number;
}

export interface CorrelatorOptions {
  /** Groups held in memory; one not held is rebuilt from its stream. Default 10,000. */
  readonly maxGroups?: number;
}

/**
 * Phase 2.2 correlation as an event-sourced, incremental process over recorded inputs: signal
 * facts, clock ticks and incident closes, read from `$all` in order. It runs in event time: an
 * input is held until the watermark (the latest input time seen less the lateness bound, or a
 * clock tick) passes its own time, then released to its group in time order; so any arrival
 * order, batching or duplication within the bound gives the same group events and candidates. An
 * input older than the watermark when it arrives is late: released at once, marked late.
 *
 * Each rule's groups are event-sourced (see correlation-events.ts): a group not in memory is
 * rebuilt from its stream; outputs are deterministic (ids from group and input), effects before
 * the record of them (the candidate is created before the group event that opened it). So a
 * crash, a restart from the last checkpoint or a second correlator redoing the same work finds
 * its own events recorded and moves past them: a group stream is always a prefix of the steps this
 * process would take, and the recorded part of it is skipped.
 *
 * Usage: {@link restore}, then {@link handle} every event read after the position it returns,
 * {@link commit} to make what was handled durable, {@link checkpoint} from time to time. After a
 * failed commit the instance must be dropped and a new one restored.
 */
export class LiveCorrelator {
  readonly stats: CorrelatorStats = { inputs: 0, late: 0, uncorrelated: 0, candidatesOpened: 0, poison: 0 };
  private readonly held = new EventTimeBuffer<Input>();
  private readonly lateness: number;
  private maxTime = Number.NEGATIVE_INFINITY;
  private flushedThrough = Number.NEGATIVE_INFINITY;
  private derived = 0;
  private position: bigint | undefined;
  /** After a restore: events at or before it were handled by the run that checkpointed. */
  private handledThrough: bigint | undefined;
  private readonly groups = new Map<string, GroupState>();
  /** The same groups by rule priority, then group key: a group met again needs no id hashed. */
  private readonly groupsByKey = new Map<number, Map<string, GroupState>>();
  /** The rule that takes a signal, by service then severity (all a rule's match reads). */
  private readonly ruleMemo = new Map<string, Map<string, CorrelationRule | null>>();
  /** Group event ids found recorded when a group was rebuilt, until its first step not among them. */
  private readonly recorded = new Map<string, Set<string>>();
  private readonly writes = new Map<string, { readonly streamId: string; readonly expected: bigint; readonly events: EventToAppend[] }>();
  private candidates: Candidate[] = [];
  private readonly maxGroups: number;

  constructor(
    private readonly rules: CorrelationRuleSet,
    private readonly reader: EventReader,
    private readonly outputs: CorrelationOutputs,
    private readonly logger: Logger,
    options: CorrelatorOptions = {},
  ) {
    this.lateness = rules.latenessSeconds * 1000;
    this.maxGroups = options.maxGroups ?? 10_000;
  }

  /** The watermark: every input at or before it has been released (epoch ms). */
  get watermark(): number {
    return Math.max(this.maxTime - this.lateness, this.flushedThrough);
  }

  /** Inputs held for stragglers, and the latest input time seen (ISO), to tick through. */
  get holding(): { readonly count: number; readonly latest: string | undefined } {
    return { count: this.held.size, latest: Number.isFinite(this.maxTime) ? new Date(this.maxTime).toISOString() : undefined };
  }

  /** Group events derived so far (recorded or not): a change across {@link handle} says that input derived something. */
  get eventsDerived(): number {
    return this.derived;
  }

  get lastPosition(): bigint | undefined {
    return this.position;
  }

  /**
   * Takes up where the last checkpoint left off; returns the `$all` position to read after
   * (undefined: from the start).
   */
  async restore(): Promise<bigint | undefined> {
    const checkpoint = await readCheckpoint(this.reader);
    if (checkpoint === undefined) return undefined;
    this.maxTime = checkpoint.maxTime;
    this.flushedThrough = checkpoint.flushedThrough;
    this.position = checkpoint.position;
    this.handledThrough = checkpoint.position;
    const from = checkpoint.resumeFrom ?? checkpoint.position + 1n;
    return from <= 0n ? undefined : from - 1n;
  }

  /**
   * One event read from `$all` (any event of the input streams; others are passed over). Returns a
   * promise only when it must wait (a read, a release that steps a group not in memory).
   */
  handle(recorded: RecordedEvent): Promise<void> | undefined {
    this.position = recorded.position;
    if (recorded.streamId === CLOCK_STREAM) {
      if (this.handledThrough !== undefined && recorded.position <= this.handledThrough) return undefined;
      const tick = this.decode(recorded, (r) => clockCodec.decode(r));
      if (tick !== undefined) this.flushedThrough = Math.max(this.flushedThrough, Date.parse(tick.data.through));
      return this.release();
    }
    const input = this.inputOf(recorded);
    if (input === undefined) return undefined;
    const time = input.kind === 'signal' ? input.time : Date.parse(input.changedAt);
    if (this.handledThrough !== undefined && recorded.position <= this.handledThrough) {
      // Read again after a restore: what was still held at the checkpoint is held again; the rest was handled.
      if (time > this.watermark) this.held.push({ time, key: input.eventId, position: recorded.position, value: input });
      return undefined;
    }
    this.stats.inputs++;
    if (time <= this.watermark) {
      this.stats.late++;
      return this.step(input, true);
    }
    this.held.push({ time, key: input.eventId, position: recorded.position, value: input });
    if (time > this.maxTime) this.maxTime = time;
    return this.release();
  }

  /** Makes every step taken so far durable: candidates first, then the group events that record them. */
  async commit(): Promise<void> {
    const candidates = this.candidates;
    this.candidates = [];
    await inBatches(candidates, (candidate) => this.outputs.createCandidate(candidate));
    const writes = [...this.writes.values()];
    this.writes.clear();
    await inBatches(writes, (write) => this.outputs.appendGroup(write.streamId, write.events, write.expected));
    this.forgetGroups();
  }

  /** Where this correlator is, for a restart to take up from: call after {@link commit}. */
  checkpointNow(): Checkpoint | undefined {
    if (this.position === undefined) return undefined;
    return { position: this.position, resumeFrom: this.held.earliestPosition(), maxTime: this.maxTime, flushedThrough: this.flushedThrough };
  }

  /** Releases, in time order, every held input the watermark has passed. */
  private release(): Promise<void> | undefined {
    const watermark = this.watermark;
    for (let next = this.held.peek(); next !== undefined && next.time <= watermark; next = this.held.peek()) {
      this.held.pop();
      const stepped = this.step(next.value, false);
      // A step on a group not in memory reads it first: the rest of the release waits for it.
      if (stepped !== undefined) return stepped.then(() => this.release());
    }
    return undefined;
  }

  /** One input released to its group; returns a promise only when it must read (a group not in memory, an incident close). */
  private step(input: Input, late: boolean): Promise<void> | undefined {
    if (input.kind === 'close') return this.close(input);
    const rule = this.ruleOf(input.fact);
    if (rule === undefined) {
      this.stats.uncorrelated++;
      return undefined;
    }
    const groupKey = groupKeyOf(rule, input.fact);
    const known = this.groupsByKey.get(rule.priority)?.get(groupKey);
    if (known !== undefined) {
      this.stepSignal(known, input, late);
      return undefined;
    }
    return this.group(groupIdOf(rule.id, rule.version, groupKey), rule, groupKey).then((group) => this.stepSignal(group, input, late));
  }

  /** {@link ruleFor}, remembered by service and severity: the rules never change under a correlator. */
  private ruleOf(fact: SignalFact): CorrelationRule | undefined {
    let bySeverity = this.ruleMemo.get(fact.service);
    if (bySeverity === undefined) {
      if (this.ruleMemo.size >= MAX_REMEMBERED_SERVICES) this.ruleMemo.clear(); // bounded whatever the services
      this.ruleMemo.set(fact.service, (bySeverity = new Map<string, CorrelationRule | null>()));
    }
    let rule = bySeverity.get(fact.severity);
    if (rule === undefined) bySeverity.set(fact.severity, (rule = ruleFor(this.rules, fact) ?? null));
    return rule ?? undefined;
  }

  private stepSignal(group: GroupState, input: Extract<Input, { kind: 'signal' }>, late: boolean): void {
    const id = groupEventId('SignalCorrelated', group.groupId, input.eventId);
    if (this.alreadyRecorded(group.groupId, id)) return;
    const decision = decideSignal(group, { fact: input.fact, signalStream: input.streamId, late, time: input.time });
    if (decision.candidate !== undefined) {
      this.candidates.push(decision.candidate);
      this.stats.candidatesOpened++;
    }
    this.write(group, { type: 'SignalCorrelated', data: decision.event, metadata: metadataOf(input.eventId) }, id);
  }

  private async close(input: Extract<Input, { kind: 'close' }>): Promise<void> {
    const target = await this.groupOfIncident(input.incidentId);
    if (target === undefined) return;
    const group = await this.group(target.groupId, target.rule, target.groupKey);
    const id = groupEventId('EpisodeClosed', group.groupId, input.eventId);
    if (this.alreadyRecorded(group.groupId, id)) return;
    const close: EpisodeClosedData = {
      groupId: group.groupId,
      candidateId: target.candidateId,
      incidentId: input.incidentId,
      state: input.state,
      closedAt: input.changedAt,
    };
    const decided = decideClose(group, close);
    if (decided !== undefined) this.write(group, { type: 'EpisodeClosed', data: decided, metadata: metadataOf(input.eventId) }, id);
  }

  /**
   * A group event's data and metadata are flat (strings, numbers, booleans): frozen here, at birth,
   * they are what the store would make them (it takes ownership and deep-freezes), and its walk
   * over them is skipped, an array and a call per value for every group event.
   */
  private write(group: GroupState, event: GroupEvent, id: string): void {
    this.derived++;
    Object.freeze(event.data);
    Object.freeze(event.metadata);
    const streamId = group.streamId;
    const pending = this.writes.get(streamId);
    const toAppend = groupCodec.encodeTrusted(event, id);
    if (pending === undefined) this.writes.set(streamId, { streamId, expected: group.revision, events: [toAppend] });
    else pending.events.push(toAppend);
    evolveGroup(group, event);
  }

  /** True when a rebuilt group's stream already holds this step (then its state includes it). */
  private alreadyRecorded(groupId: string, id: string): boolean {
    const recorded = this.recorded.get(groupId);
    if (recorded === undefined) return false;
    if (recorded.has(id)) return true;
    this.recorded.delete(groupId); // a stream is a prefix of the steps: nothing after this one is recorded either
    return false;
  }

  private async group(groupId: string, rule: CorrelationRule, groupKey: string): Promise<GroupState> {
    const known = this.groups.get(groupId);
    if (known !== undefined) return known;
    const state = new GroupState(groupId, rule, groupKey);
    const ids = new Set<string>();
    for await (const recorded of this.outputs.readGroup(state.streamId)) {
      evolveGroup(state, groupCodec.decode(recorded));
      ids.add(recorded.id);
    }
    if (ids.size > 0) this.recorded.set(groupId, ids);
    this.groups.set(groupId, state);
    let byKey = this.groupsByKey.get(rule.priority);
    if (byKey === undefined) this.groupsByKey.set(rule.priority, (byKey = new Map<string, GroupState>()));
    byKey.set(groupKey, state);
    return state;
  }

  /** Holds at most `maxGroups` groups, the oldest first out; never one with writes pending. */
  private forgetGroups(): void {
    for (const groupId of this.groups.keys()) {
      if (this.groups.size <= this.maxGroups) return;
      const state = this.groups.get(groupId);
      if (state !== undefined) this.groupsByKey.get(state.rule.priority)?.delete(state.groupKey);
      this.groups.delete(groupId);
      this.recorded.delete(groupId);
    }
  }

  /** The group whose candidate an incident was opened from (both streams' first events never change). */
  private async groupOfIncident(incidentId: string): Promise<{ groupId: string; rule: CorrelationRule; groupKey: string; candidateId: string } | undefined> {
    const opened = await firstEvent(this.reader, incidentStreamId(incidentId));
    if (opened === undefined) return undefined;
    const incident = this.decode(opened, (r) => incidentCodec.decode(r));
    if (incident?.type !== 'IncidentOpened') return undefined;
    const created = await firstEvent(this.reader, candidateStreamId(incident.data.candidateId));
    if (created === undefined) return undefined;
    const candidate = this.decode(created, (r) => candidateCodec.decode(r));
    if (candidate?.type !== 'CandidateCreated') return undefined;
    const rule = this.rules.rules.find((r) => r.id === candidate.data.correlationRuleId && r.version === candidate.data.correlationRuleVersion);
    if (rule === undefined) return undefined; // a rule no longer configured: its groups take no new signals
    const groupKey = candidate.metadata.candidate.groupKey;
    return { groupId: groupIdOf(rule.id, rule.version, groupKey), rule, groupKey, candidateId: candidate.data.candidateId };
  }

  private inputOf(recorded: RecordedEvent): Input | undefined {
    if (recorded.streamId.startsWith(SIGNAL_STREAM_PREFIX)) {
      if (!SIGNAL_TYPES.has(recorded.type)) return undefined;
      const event = this.decode(recorded, decodeCorrelatedSignal);
      if (event === undefined || (event.type !== 'SignalFired' && event.type !== 'SignalResolved')) return undefined;
      return { kind: 'signal', eventId: recorded.id, streamId: recorded.streamId, fact: event.data, time: Date.parse(factTime(event.data)) };
    }
    if (recorded.streamId.startsWith(INCIDENT_STREAM_PREFIX) && recorded.type === 'IncidentStateChanged') {
      const event = this.decode(recorded, (r) => incidentCodec.decode(r));
      if (event?.type !== 'IncidentStateChanged' || !CLOSING_STATES.has(event.data.to)) return undefined;
      return { kind: 'close', eventId: recorded.id, incidentId: event.data.incidentId, state: event.data.to, changedAt: event.data.changedAt };
    }
    return undefined;
  }

  /** A malformed input never stops correlation: it is reported with its stream and revision, and passed over. */
  private decode<T>(recorded: RecordedEvent, decode: (recorded: RecordedEvent) => T): T | undefined {
    try {
      return decode(recorded);
    } catch (error) {
      if (!OpxError.is(error)) throw error;
      this.stats.poison++;
      this.logger.warn(
        { streamId: recorded.streamId, revision: recorded.revision.toString(), type: recorded.type, err: error },
        'correlation passed over an event it cannot read',
      );
      return undefined;
    }
  }
}

const metadataOf = (inputEventId: string) => ({ $correlationId: inputEventId, $causationId: inputEventId, schemaVersion: 1 });

async function firstEvent(reader: EventReader, streamId: string): Promise<RecordedEvent | undefined> {
  let first: RecordedEvent | undefined;
  for await (const recorded of reader.readStream(streamId, { maxCount: 1 })) first ??= recorded;
  return first;
}

/** Runs `task` over every item, at most 32 at once. */
async function inBatches<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 32) await Promise.all(items.slice(i, i + 32).map(task));
}
