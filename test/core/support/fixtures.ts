import type { AuthorityContext } from '../../../src/authority/authority.js';
import { loadConfig, type OpxConfig } from '../../../src/container/config.js';
import type { Candidate } from '../../../src/correlation/correlator.js';
import type { Signal } from '../../../src/correlation/signal.js';

/** Instants used across the suite: event times come from fixtures, never from a clock. */
export class Times {
  static get t0(): string {
    return '2026-03-01T00:00:00.000Z';
  }
  static get later(): string {
    return '2026-03-01T00:15:00.000Z';
  }
  static at(offsetSeconds: number): string {
    return new Date(Date.parse(Times.t0) + offsetSeconds * 1000).toISOString();
  }
}

let config: OpxConfig | undefined;

/** The bundled config/ (policies, authority matrix, correlation rules), loaded once per run. */
export class ConfigFixtures {
  static get bundled(): OpxConfig {
    return (config ??= loadConfig());
  }
}

const base = (candidateId: string): Candidate => ({
  candidateId,
  correlationRuleId: 'service-fingerprint-burst',
  correlationRuleVersion: '1.0.0',
  policyId: 'standard-promotion',
  policyVersion: '1.0.0',
  severity: 'SEV1',
  service: 'auth',
  signalCount: 2,
  createdAt: Times.at(20),
  groupKey: 'service=auth|fingerprint=auth:HighErrorRate',
  windowStart: Times.t0,
  windowEnd: Times.at(300),
  signalIds: ['sig-a', 'sig-b'],
});

/**
 * Candidates as correlation hands them to CP-5. Each getter is fresh; the decision each one gets
 * under the bundled policies is part of its name (standard-promotion@1.0.0 unless stated).
 */
export class CandidateFixtures {
  /** SEV1: rule `sev1-promote`. */
  static get promotable(): Candidate {
    return base('cand-sev1-auth');
  }
  /** SEV2 with two signals: rule `sev2-small-defer`. */
  static get deferrable(): Candidate {
    return { ...base('cand-sev2-inventory'), severity: 'SEV2', service: 'inventory', groupKey: 'service=inventory|fingerprint=inventory:LatencyP99' };
  }
  /** SEV4: rule `sev4-suppress`. */
  static get suppressible(): Candidate {
    return { ...base('cand-sev4-search'), severity: 'SEV4', service: 'search-api', groupKey: 'service=search-api|fingerprint=search-api:CertExpiry' };
  }
  /** A SEV2 burst of three: PROMOTE under standard-promotion@1.0.0, DEFER under @1.1.0. */
  static sev2BurstUnder(policyVersion: string): Candidate {
    return {
      ...base(`cand-sev2-burst-${policyVersion}`),
      severity: 'SEV2',
      service: 'edge-proxy',
      signalCount: 3,
      signalIds: ['sig-a', 'sig-b', 'sig-c'],
      policyVersion,
    };
  }
  /** payments-promotion@2.0.0, SEV2. */
  static get payments(): Candidate {
    return {
      ...base('cand-payments'),
      correlationRuleId: 'payments-any-critical',
      correlationRuleVersion: '2.1.0',
      policyId: 'payments-promotion',
      policyVersion: '2.0.0',
      severity: 'SEV2',
      service: 'payments-api',
      signalCount: 1,
      signalIds: ['sig-p'],
    };
  }
  static naming(policyId: string, policyVersion: string): Candidate {
    return { ...base(`cand-${policyId}-${policyVersion}`), policyId, policyVersion };
  }
  static withId(candidateId: string, template: Candidate = CandidateFixtures.promotable): Candidate {
    return { ...template, candidateId };
  }
}

/** Who acts. `autoEngine` is written out literally: it is Decision 3 itself, not a call to src. */
export class AuthorityFixtures {
  static autoEngine(candidateId: string): AuthorityContext {
    return { authorityType: 'AUTO_ENGINE', authorityId: 'opx-candidate-processor', sessionId: candidateId, justification: 'Auto-promotion from correlation' };
  }
  static operator(name = 'alice@opx', sessionId = `session-${name}`): AuthorityContext {
    return { authorityType: 'HUMAN_OPERATOR', authorityId: name, sessionId, justification: 'on the bridge' };
  }
  static onCall(name = 'bob@opx', sessionId = `session-${name}`): AuthorityContext {
    return { authorityType: 'ON_CALL_RESPONDER', authorityId: name, sessionId, justification: '' };
  }
}

/** Raw signals as they arrive (untrusted), and parsed ones for correlation. */
export class SignalFixtures {
  static get raw(): Record<string, unknown> {
    return {
      signalId: 'sig-raw-1',
      service: 'auth',
      severity: 'SEV2',
      fingerprint: 'auth:HighErrorRate',
      observedAt: Times.t0,
      labels: { alertname: 'HighErrorRate' },
    };
  }
  static at(signalId: string, offsetSeconds: number, overrides: Partial<Signal> = {}): Signal {
    return {
      signalId,
      service: 'auth',
      severity: 'SEV2',
      fingerprint: 'auth:HighErrorRate',
      observedAt: Times.at(offsetSeconds),
      labels: { alertname: 'HighErrorRate' },
      ...overrides,
    };
  }
}

/** Documents in their raw (file) form, fresh each time so a test may mutate its copy. */
export class DocumentFixtures {
  static get policy(): Record<string, unknown> {
    return {
      id: 'test-policy',
      version: '1.0.0',
      description: 'a policy for tests',
      rules: [{ name: 'sev1', when: { severities: ['SEV1'] }, decision: 'PROMOTE', reason: 'SEV1' }],
      default: { decision: 'DEFER', reason: 'a human decides' },
    };
  }
  static get correlationRule(): Record<string, unknown> {
    return {
      id: 'burst',
      version: '1.0.0',
      match: { minSeverity: 'SEV3' },
      groupBy: ['service', 'fingerprint'],
      windowSeconds: 300,
      threshold: 2,
      policy: { id: 'standard-promotion', version: '1.0.0' },
    };
  }
  static ruleSet(...rules: unknown[]): Record<string, unknown> {
    const given = rules.length > 0 ? rules : [DocumentFixtures.correlationRule];
    // Precedence is explicit in every rule set; fixtures that do not care get it from their order.
    return { version: 'test', rules: given.map((rule, i) => ({ priority: (i + 1) * 10, ...(rule as object) })) };
  }
  static get authorityMatrix(): Record<string, unknown> {
    return {
      version: 'test',
      grants: {
        AUTO_ENGINE: { actions: ['EVALUATE_PROMOTION', 'CREATE_INCIDENT'], principals: ['opx-candidate-processor'] },
        HUMAN_OPERATOR: { actions: ['MANUAL_PROMOTE', 'CREATE_INCIDENT', 'CLOSE_INCIDENT'], principals: ['*'] },
        ON_CALL_RESPONDER: { actions: ['ACKNOWLEDGE_INCIDENT'], principals: ['*'] },
      },
      justificationRequired: ['MANUAL_PROMOTE'],
    };
  }
}
