import type { Container } from 'inversify';

import { TOKENS } from '../container/tokens.js';
import type { Signal } from '../correlation/signal.js';
import type { EventStore } from '../eventstore/event-store.js';
import { PROJECTED_STREAM_PREFIXES, emptyReadModels, project, type ReadModels } from '../projections/read-models.js';
import { requestManualPromotion } from '../promotion/manual-promotion.js';
import { ingestSignals, processCandidateInputs } from './in-process.js';

export interface ScenarioResult {
  readonly candidates: number;
  readonly manualPromotions: number;
  readonly readModels: ReadModels;
}

/**
 * The whole flow in one process: signals -> correlation -> candidates -> orchestration ->
 * incidents, then a human promotes the first `manualPromotions` deferred candidates (by id, a
 * quarter hour after each was deferred) and those flow through again. Deterministic: the same
 * signals give the same history, event for event.
 */
export async function runScenario(container: Container, signals: readonly Signal[], options: { readonly manualPromotions: number; readonly operator?: string }): Promise<ScenarioResult> {
  const store = container.get(TOKENS.EventStore);
  const candidates = container.get(TOKENS.CandidateStore);
  const config = container.get(TOKENS.Config);
  const context = container.get(TOKENS.HandlerContext);

  const { candidates: correlated } = await ingestSignals(signals, config.correlationRules, candidates);
  const first = await processCandidateInputs(store, context);

  let models = await projectAll(store);
  const deferred = Object.values(models.deferred).sort((a, b) => (a.candidateId < b.candidateId ? -1 : 1)).slice(0, options.manualPromotions);
  for (const row of deferred) {
    await requestManualPromotion(store, candidates, config.authorityMatrix, {
      candidateId: row.candidateId,
      operator: options.operator ?? 'alice@opx',
      justification: 'customer impact confirmed on the status page',
      requestedAt: new Date(Date.parse(row.deferredAt) + 15 * 60 * 1000).toISOString(),
    });
  }
  await processCandidateInputs(store, context, first.position);
  models = await projectAll(store);
  return { candidates: correlated.length, manualPromotions: deferred.length, readModels: models };
}

/** Projects the read models from the whole history. */
export async function projectAll(store: EventStore): Promise<ReadModels> {
  let models = emptyReadModels();
  for await (const recorded of store.readAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES })) models = project(models, recorded);
  return models;
}
