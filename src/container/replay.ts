import type { EventReader, EventStore } from '../eventstore/event-store.js';
import { auditHistory, type HistoryAuditReport } from '../replay/history-audit.js';
import type { ReplayOptions } from '../replay/replay-audit.js';
import { whatIf, type WhatIfReport } from '../replay/what-if.js';
import type { OpxConfig } from './config.js';

/**
 * The replay audit, both stages: correlation (every recorded signal fact, clock tick and incident
 * close fed to a fresh correlator, its group events and candidates compared with history) and
 * orchestration (every recorded input through the same handlers, CP-6 and CP-7 into a scratch
 * store, every output compared as RFC 8785 canonical bytes). `IDENTICAL` when history re-derives
 * byte for byte; `DIVERGENT` with the first differences otherwise; policy drift (a policy document
 * changed under a recorded version) is reported beside. Writes nothing to `source`.
 */
export function auditReplay(source: EventReader, config: OpxConfig, options: ReplayOptions = {}): Promise<HistoryAuditReport> {
  return auditHistory(config, source, options);
}

/**
 * What-if: which recorded automatic decisions would change under another version of a policy
 * (`policyId@version`, which must be in `config`; UnknownPolicy otherwise). Writes nothing.
 */
export function whatIfPolicy(
  source: EventStore,
  config: OpxConfig,
  policy: { readonly policyId: string; readonly policyVersion: string },
  options: { readonly maxListed?: number; readonly onProgress?: (eventsRead: number) => void } = {},
): Promise<WhatIfReport> {
  return whatIf(source, config.policies.get(policy.policyId, policy.policyVersion), options);
}
