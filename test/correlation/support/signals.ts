import { parseCorrelationRules, type CorrelationRuleSet } from '../../../src/correlation/correlation-rule.js';
import type { SignalInput } from '../../../src/signals/alertmanager.js';
import type { SignalFact } from '../../../src/signals/signal-events.js';

export const T0 = Date.parse('2026-06-01T10:00:00.000Z');
/** ISO time `seconds` after T0. */
export const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

/** Signal facts as an alert source would report them. */
export class Facts {
  /** A firing of alert `name` (fingerprint `fp`) on `service`, started `seconds` after T0. */
  static firing(fp: string, seconds: number, overrides: Partial<SignalFact> = {}): SignalFact {
    return {
      signalId: `${fp}@${at(seconds)}`,
      source: 'alertmanager',
      status: 'firing',
      fingerprint: fp,
      service: 'checkout',
      severity: 'SEV1',
      observedAt: at(seconds),
      labels: { alertname: 'CheckoutDown' },
      annotations: { summary: 'checkout is down' },
      ...overrides,
    };
  }

  /** The resolution of the firing of `fp` that started at `started`, ended at `ended` (seconds after T0). */
  static resolved(fp: string, started: number, ended: number, overrides: Partial<SignalFact> = {}): SignalFact {
    return { ...Facts.firing(fp, started, overrides), status: 'resolved', endsAt: at(ended) };
  }

  static input(fact: SignalFact): SignalInput {
    return { kind: 'fact', fact, location: fact.signalId };
  }
}

/** Rule sets that make each behaviour plain. */
export class Rules {
  static set(rules: object[], latenessSeconds = 60): CorrelationRuleSet {
    return parseCorrelationRules({ version: 'test', latenessSeconds, rules });
  }

  /** SEV1 pages: one firing opens a candidate (standard-promotion: PROMOTE). */
  static get page(): object {
    return { id: 'page', version: '1', priority: 10, match: { minSeverity: 'SEV1' }, groupBy: ['service', 'labels.alertname'], windowSeconds: 300, threshold: 1, policy: { id: 'standard-promotion', version: '1.0.0' } };
  }

  /** SEV3 and worse, two firings of one alert in 5 minutes. */
  static get burst(): object {
    return { id: 'burst', version: '1', priority: 20, match: { minSeverity: 'SEV3' }, groupBy: ['service', 'fingerprint'], windowSeconds: 300, threshold: 2, policy: { id: 'standard-promotion', version: '1.0.0' } };
  }
}
