import type { CorrelationRule, CorrelationRuleSet } from './correlation-rule.js';
import { severityRank, type Severity } from './signal.js';

/** What a rule looks at in a signal. */
export interface Matchable {
  readonly service: string;
  readonly severity: Severity;
  readonly fingerprint: string;
  readonly labels: Readonly<Record<string, string>>;
}

export function matches(rule: CorrelationRule, signal: Matchable): boolean {
  const { services, minSeverity } = rule.match;
  if (services !== undefined && !services.includes(signal.service)) return false;
  if (minSeverity !== undefined && severityRank(signal.severity) > severityRank(minSeverity)) return false;
  return true;
}

/** The rule that takes a signal: the matching rule of lowest priority (rule sets are kept in that order). */
export function ruleFor(rules: CorrelationRuleSet, signal: Matchable): CorrelationRule | undefined {
  for (const rule of rules.rules) if (matches(rule, signal)) return rule;
  return undefined;
}

/** `field=value|field=value` over the rule's groupBy fields (signal fields or `labels.<name>`). */
export function groupKeyOf(rule: CorrelationRule, signal: Matchable): string {
  // Built in one pass (no array per signal): the same string the join of `${field}=${value ?? ''}` gives.
  let key = '';
  for (let i = 0; i < rule.groupBy.length; i++) {
    const field = rule.groupBy[i] as string;
    const value = field.startsWith('labels.') ? signal.labels[field.slice('labels.'.length)] : signal[field as 'service' | 'severity' | 'fingerprint'];
    key += i === 0 ? `${field}=${value ?? ''}` : `|${field}=${value ?? ''}`;
  }
  return key;
}

/** The start of the tumbling window (aligned to the Unix epoch) a time falls in, in epoch ms. */
export const windowStartMs = (ms: number, windowSeconds: number): number => Math.floor(ms / (windowSeconds * 1000)) * windowSeconds * 1000;
