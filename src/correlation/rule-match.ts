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

/** A groupBy field as a group key reads it: `<sep><field>=`, then the signal field or label it names. */
interface KeyPart {
  readonly prefix: string;
  readonly field: 'service' | 'severity' | 'fingerprint';
  readonly label: string | undefined;
}

/** Each rule's groupBy read once (rules never change): no slice and fewer concatenations per signal. */
const KEY_PARTS = new WeakMap<readonly string[], readonly KeyPart[]>();

function keyParts(groupBy: readonly string[]): readonly KeyPart[] {
  let parts = KEY_PARTS.get(groupBy);
  if (parts === undefined) {
    parts = groupBy.map((field, i) => ({
      prefix: `${i === 0 ? '' : '|'}${field}=`,
      field: field as KeyPart['field'],
      label: field.startsWith('labels.') ? field.slice('labels.'.length) : undefined,
    }));
    KEY_PARTS.set(groupBy, parts);
  }
  return parts;
}

/** `field=value|field=value` over the rule's groupBy fields (signal fields or `labels.<name>`). */
export function groupKeyOf(rule: CorrelationRule, signal: Matchable): string {
  // The same string the join of `${field}=${value ?? ''}` gives, built in one pass.
  const parts = keyParts(rule.groupBy);
  let key = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as KeyPart;
    const value = part.label === undefined ? signal[part.field] : signal.labels[part.label];
    key += value === undefined ? part.prefix : part.prefix + value;
  }
  return key;
}

/** The start of the tumbling window (aligned to the Unix epoch) a time falls in, in epoch ms. */
export const windowStartMs = (ms: number, windowSeconds: number): number => Math.floor(ms / (windowSeconds * 1000)) * windowSeconds * 1000;
