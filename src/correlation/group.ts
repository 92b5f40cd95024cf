import { factTime, type SignalFact } from '../signals/signal-events.js';
import { domainId } from '../shared/ids.js';
import { groupStreamId, type EpisodeClosedData, type GroupEvent, type Outcome, type SignalCorrelatedData } from './correlation-events.js';
import type { CorrelationRule } from './correlation-rule.js';
import { MAX_SIGNAL_IDS, type Candidate, type CandidateContext } from './correlator.js';
import { windowStartMs } from './rule-match.js';
import { severityRank, type Severity } from './signal.js';

/** A firing as a group counts it toward its window's threshold. */
export interface CountedSignal {
  readonly signalId: string;
  readonly time: number;
  readonly observedAt: string;
  readonly severity: Severity;
  readonly service: string;
}

/** The group's open candidate and the firings recorded on it (signal id -> resolved). */
export interface Episode {
  readonly candidateId: string;
  readonly signals: Map<string, boolean>;
}

/**
 * One group's state, the fold of its stream: counted firings per window while no candidate is
 * open, the open episode once one is, and how many episodes have closed (so the next candidate
 * of the same window gets an id of its own).
 */
export class GroupState {
  revision = -1n;
  episode: Episode | undefined;
  closedEpisodes = 0;
  readonly windows = new Map<number, CountedSignal[]>();
  /** The ISO form of the last window start written (signals of a group mostly share one). */
  private lastWindow = Number.NaN;
  private lastWindowIso = '';

  /** `correlation-<groupId>`, formed once. */
  readonly streamId: string;

  constructor(
    readonly groupId: string,
    readonly rule: CorrelationRule,
    readonly groupKey: string,
  ) {
    this.streamId = groupStreamId(groupId);
  }

  /** The epoch ms of a window start as recorded: the last one written is known without parsing it. */
  windowMs(iso: string): number {
    return iso === this.lastWindowIso ? this.lastWindow : Date.parse(iso);
  }

  windowIso(window: number): string {
    if (window !== this.lastWindow) {
      this.lastWindowIso = new Date(window).toISOString();
      this.lastWindow = window;
    }
    return this.lastWindowIso;
  }
}

/** A signal fact released to its group, in event-time order (or at arrival, when late). */
export interface ReleasedSignal {
  readonly fact: SignalFact;
  readonly signalStream: string;
  readonly late: boolean;
  /** `Date.parse(factTime(fact))`, when the caller has parsed it already. */
  readonly time?: number;
}

export interface SignalDecision {
  readonly event: SignalCorrelatedData;
  /** The candidate this signal opened (the group's threshold was reached). */
  readonly candidate?: Candidate;
}

const ms = (iso: string): number => Date.parse(iso);

/**
 * Decide: what a group records for one signal, given its state. Pure. Released in time order, a
 * signal on time forgets the counted windows that ended before it first (no later signal on time
 * can fall in them); a late one forgets nothing, whatever the arrival order was.
 * - a resolution never counts: it is recorded, on the open candidate when its firing is there;
 * - a firing while a candidate is open is attached to it (flapping, the next window);
 * - otherwise it is counted in its window, and the one that reaches the threshold opens the
 *   candidate, with the window's signals.
 */
export function decideSignal(state: GroupState, released: ReleasedSignal): SignalDecision {
  const { fact } = released;
  const rule = state.rule;
  const ended = fact.status === 'resolved' && fact.endsAt !== undefined;
  const time = released.time ?? ms(factTime(fact));
  const observed = ended ? ms(fact.observedAt) : time;
  if (!released.late) forgetWindowsEndedBy(state, time);
  const window = windowStartMs(observed, rule.windowSeconds);
  const episode = state.episode;

  if (fact.status === 'resolved') {
    const resolved = episode?.signals.get(fact.signalId);
    if (resolved === false) return decided(state, released, window, 'resolved', (episode as Episode).candidateId);
    return decided(state, released, window, resolved === true ? 'repeated' : 'resolved');
  }
  if (episode !== undefined) return decided(state, released, window, episode.signals.has(fact.signalId) ? 'repeated' : 'attached', episode.candidateId);
  const counted = state.windows.get(window) ?? [];
  if (counted.some((s) => s.signalId === fact.signalId)) return decided(state, released, window, 'repeated');
  if (counted.length + 1 < rule.threshold) return decided(state, released, window, 'counted');
  const current: CountedSignal = { signalId: fact.signalId, time, observedAt: fact.observedAt, severity: fact.severity, service: fact.service };
  const candidate = candidateOf(state, [...counted, current], window, fact);
  return decided(state, released, window, 'opened', candidate.candidateId, candidate);
}

function decided(state: GroupState, released: ReleasedSignal, window: number, outcome: Outcome, candidateId?: string, candidate?: Candidate): SignalDecision {
  const event = correlatedData(state, released, state.windowIso(window), outcome, candidateId);
  return candidate === undefined ? { event } : { event, candidate };
}

/**
 * The SignalCorrelated payload, its optional fields set in place in the one order every recorded
 * payload has (the order is part of the recorded bytes), without a spread per optional field.
 */
function correlatedData(
  state: GroupState,
  released: ReleasedSignal,
  windowStart: string,
  outcome: Outcome,
  candidateId: string | undefined,
): SignalCorrelatedData {
  const { fact } = released;
  const data: { -readonly [K in keyof SignalCorrelatedData]: SignalCorrelatedData[K] } = {
    groupId: state.groupId,
    ruleId: state.rule.id,
    ruleVersion: state.rule.version,
    groupKey: state.groupKey,
    signalStream: released.signalStream,
    signalId: fact.signalId,
    status: fact.status,
    fingerprint: fact.fingerprint,
    service: fact.service,
    severity: fact.severity,
    observedAt: fact.observedAt,
  } as SignalCorrelatedData;
  if (fact.endsAt !== undefined) data.endsAt = fact.endsAt;
  const alertname = fact.labels['alertname'];
  if (alertname !== undefined) data.alertname = alertname;
  data.windowStart = windowStart;
  data.outcome = outcome;
  if (candidateId !== undefined) data.candidateId = candidateId;
  data.late = released.late;
  return data;
}

/** Decide: the group records the close of its open episode when that candidate's incident is resolved or closed. */
export function decideClose(state: GroupState, close: EpisodeClosedData): EpisodeClosedData | undefined {
  return state.episode?.candidateId === close.candidateId ? close : undefined;
}

/** Evolve: the group after one of its events. Exhaustive over the group stream's event types. */
export function evolveGroup(state: GroupState, event: GroupEvent): GroupState {
  state.revision++;
  switch (event.type) {
    case 'SignalCorrelated': {
      const data = event.data;
      switch (data.outcome) {
        case 'counted': {
          const window = state.windowMs(data.windowStart);
          const counted = state.windows.get(window);
          const signal: CountedSignal = {
            signalId: data.signalId,
            time: ms(data.observedAt),
            observedAt: data.observedAt,
            severity: data.severity,
            service: data.service,
          };
          if (counted === undefined) state.windows.set(window, [signal]);
          else counted.push(signal);
          return state;
        }
        case 'opened': {
          const signals = new Map<string, boolean>();
          for (const counted of state.windows.get(ms(data.windowStart)) ?? []) signals.set(counted.signalId, false);
          signals.set(data.signalId, false);
          state.episode = { candidateId: data.candidateId ?? '', signals };
          state.windows.clear();
          return state;
        }
        case 'attached':
          state.episode?.signals.set(data.signalId, false);
          return state;
        case 'resolved':
          if (data.candidateId !== undefined && state.episode?.candidateId === data.candidateId) state.episode.signals.set(data.signalId, true);
          return state;
        case 'repeated':
          return state;
        default: {
          const unknown: never = data.outcome;
          throw new Error(`unhandled outcome ${String(unknown)}`);
        }
      }
    }
    case 'EpisodeClosed':
      if (state.episode?.candidateId === event.data.candidateId) {
        state.episode = undefined;
        state.closedEpisodes++;
        state.windows.clear();
      }
      return state;
    default: {
      const unhandled: never = event;
      throw new Error(`unhandled group event ${(unhandled as GroupEvent).type}`);
    }
  }
}

function forgetWindowsEndedBy(state: GroupState, time: number): void {
  if (state.windows.size === 0) return; // a group with an open episode counts no windows
  const size = state.rule.windowSeconds * 1000;
  for (const start of state.windows.keys()) if (start + size <= time) state.windows.delete(start);
}

const bySignalOrder = (a: CountedSignal, b: CountedSignal): number => a.time - b.time || (a.signalId < b.signalId ? -1 : a.signalId > b.signalId ? 1 : 0);

/**
 * The candidate a window's signals make, as Phase 2.2 defines it: id from rule, version, group key
 * and window (and the episode ordinal after the first, so a group that opens again in the same
 * window gets a new candidate), time of the signal that reached the threshold, the most severe
 * signal's severity and service, the policy the rule names (Decision 1), and a title and alert
 * context from the firing that opened it.
 */
function candidateOf(state: GroupState, signals: readonly CountedSignal[], window: number, opener: SignalFact): Candidate {
  const rule = state.rule;
  const ordered = [...signals].sort(bySignalOrder);
  const crossing = ordered[rule.threshold - 1] ?? ordered[ordered.length - 1];
  if (crossing === undefined) throw new Error('a candidate needs at least one signal');
  const mostSevere = [...ordered].sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || bySignalOrder(a, b))[0] as CountedSignal;
  const windowStart = new Date(window).toISOString();
  const idParts = [rule.id, rule.version, state.groupKey, windowStart];
  if (state.closedEpisodes > 0) idParts.push(`episode:${state.closedEpisodes + 1}`);
  return {
    candidateId: domainId('cand', idParts),
    correlationRuleId: rule.id,
    correlationRuleVersion: rule.version,
    policyId: rule.policy.id,
    policyVersion: rule.policy.version,
    severity: mostSevere.severity,
    service: mostSevere.service,
    signalCount: ordered.length,
    createdAt: crossing.observedAt,
    groupKey: state.groupKey,
    windowStart,
    windowEnd: new Date(window + rule.windowSeconds * 1000).toISOString(),
    signalIds: ordered
      .map((s) => s.signalId)
      .sort()
      .slice(0, MAX_SIGNAL_IDS),
    title: titleOf(opener),
    context: contextOf(opener),
  };
}

const cut = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** `<alertname>: <summary>`, or `<alertname> on <service>`, or `<severity> <service>: <fingerprint>`. */
export function titleOf(fact: SignalFact): string {
  const alertname = fact.labels['alertname'];
  const summary = fact.annotations['summary'];
  if (alertname !== undefined && summary !== undefined) return cut(`${alertname}: ${summary}`, 300);
  if (alertname !== undefined) return cut(`${alertname} on ${fact.service}`, 300);
  if (summary !== undefined) return cut(summary, 300);
  return cut(`${fact.severity} ${fact.service}: ${fact.fingerprint}`, 300);
}

function contextOf(fact: SignalFact): CandidateContext {
  const { labels, annotations } = fact;
  const runbook = annotations['runbook_url'] ?? annotations['runbook'];
  return {
    ...(labels['alertname'] === undefined ? {} : { alertname: labels['alertname'] }),
    ...(annotations['summary'] === undefined ? {} : { summary: annotations['summary'] }),
    ...(annotations['description'] === undefined ? {} : { description: annotations['description'] }),
    ...(runbook === undefined ? {} : { runbookUrl: cut(runbook, 2000) }),
    ...(fact.generatorUrl === undefined ? {} : { generatorUrl: fact.generatorUrl }),
    labels,
  };
}
