import { domainId } from '../shared/ids.js';
import type { CorrelationRule, CorrelationRuleSet } from './correlation-rule.js';
import { groupKeyOf, matches, windowStartMs } from './rule-match.js';
import { severityRank, type Severity, type Signal } from './signal.js';

/** What correlation hands to CP-5: a candidate incident, naming its policy (Decision 1). */
export interface Candidate {
  readonly candidateId: string;
  readonly correlationRuleId: string;
  readonly correlationRuleVersion: string;
  readonly policyId: string;
  readonly policyVersion: string;
  readonly severity: Severity;
  readonly service: string;
  readonly signalCount: number;
  /** Event time: when the signal that crossed the threshold was observed. */
  readonly createdAt: string;
  readonly groupKey: string;
  readonly windowStart: string;
  readonly windowEnd: string;
  /** Ids of the correlated signals, sorted; at most {@link MAX_SIGNAL_IDS}. */
  readonly signalIds: readonly string[];
  /** A human title, from the alert that opened it (live correlation; absent on batch-correlated candidates). */
  readonly title?: string;
  /** What fired, as the alert said it (live correlation). */
  readonly context?: CandidateContext;
}

/** The alert context a candidate carries: enough for a person to know what fired and where to look. */
export interface CandidateContext {
  readonly alertname?: string;
  readonly summary?: string;
  readonly description?: string;
  readonly runbookUrl?: string;
  readonly generatorUrl?: string;
  readonly labels: Readonly<Record<string, string>>;
}

export const MAX_SIGNAL_IDS = 100;

/**
 * Phase 2.2 correlation, as a pure function: signals are grouped per rule by the rule's group
 * key into tumbling windows aligned to the Unix epoch; a group that reaches the rule's threshold
 * becomes one candidate. The candidate id is derived from rule id, rule version, group key and
 * window start, so correlating the same signals again yields the same candidates, and a signal
 * seen twice (same signalId) counts once. Output order is deterministic (createdAt, then id).
 */
export function correlate(signals: readonly Signal[], ruleSet: CorrelationRuleSet): Candidate[] {
  const unique = dedupe(signals);
  const candidates: Candidate[] = [];
  for (const rule of ruleSet.rules) {
    const groups = new Map<string, Signal[]>();
    for (const signal of unique) {
      if (!matches(rule, signal)) continue;
      const windowStart = windowStartOf(signal.observedAt, rule.windowSeconds);
      const key = `${groupKeyOf(rule, signal)}\u0000${windowStart}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [signal]);
      else group.push(signal);
    }
    for (const group of groups.values()) {
      if (group.length >= rule.threshold) candidates.push(toCandidate(rule, group));
    }
  }
  return candidates.sort((a, b) => compare(a.createdAt, b.createdAt) || compare(a.candidateId, b.candidateId));
}

function toCandidate(rule: CorrelationRule, group: readonly Signal[]): Candidate {
  const ordered = [...group].sort(bySignalOrder);
  const first = ordered[0] as Signal;
  const crossing = ordered[rule.threshold - 1] as Signal;
  const mostSevere = [...ordered].sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || bySignalOrder(a, b))[0] as Signal;
  const groupKey = groupKeyOf(rule, first);
  const windowStart = windowStartOf(first.observedAt, rule.windowSeconds);
  return {
    candidateId: domainId('cand', [rule.id, rule.version, groupKey, windowStart]),
    correlationRuleId: rule.id,
    correlationRuleVersion: rule.version,
    policyId: rule.policy.id,
    policyVersion: rule.policy.version,
    severity: mostSevere.severity,
    service: mostSevere.service,
    signalCount: ordered.length,
    createdAt: crossing.observedAt,
    groupKey,
    windowStart,
    windowEnd: new Date(Date.parse(windowStart) + rule.windowSeconds * 1000).toISOString(),
    signalIds: ordered.map((s) => s.signalId).sort(compare).slice(0, MAX_SIGNAL_IDS),
  };
}

function windowStartOf(observedAt: string, windowSeconds: number): string {
  return new Date(windowStartMs(Date.parse(observedAt), windowSeconds)).toISOString();
}

function dedupe(signals: readonly Signal[]): Signal[] {
  const byId = new Map<string, Signal>();
  for (const signal of signals) if (!byId.has(signal.signalId)) byId.set(signal.signalId, signal);
  return [...byId.values()];
}

const bySignalOrder = (a: Signal, b: Signal): number => compare(a.observedAt, b.observedAt) || compare(a.signalId, b.signalId);

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
