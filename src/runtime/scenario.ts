import type { Container } from 'inversify';

import type { AuthenticatedBy } from '../candidates/candidate-events.js';
import { TOKENS } from '../container/tokens.js';
import { CORRELATION_TOKENS } from '../correlation/module.js';
import type { Signal } from '../correlation/signal.js';
import type { EventStore } from '../eventstore/event-store.js';
import { PROJECTED_STREAM_PREFIXES, emptyReadModels, project, type ReadModels } from '../projections/read-models.js';
import { requestManualPromotion } from '../promotion/manual-promotion.js';
import { guardPolicies } from '../promotion/policy-record.js';
import type { SignalInput } from '../signals/alertmanager.js';
import { signalInput } from '../signals/signal-input.js';
import { ingestSignals, processCandidateInputs } from './in-process.js';

export interface ScenarioResult {
  readonly candidates: number;
  readonly manualPromotions: number;
  readonly readModels: ReadModels;
}

export interface ScenarioOptions {
  readonly manualPromotions: number;
  readonly operator?: string;
}

/**
 * The whole flow in one process: signals recorded -> live correlation -> candidates ->
 * orchestration -> incidents, then a human promotes the first `manualPromotions` deferred
 * candidates (by id, a quarter hour after each was deferred) and those flow through again.
 * Deterministic: the same signals give the same history, event for event (the recorded
 * `receivedAt` of each signal aside, which no decision reads).
 */
export async function runScenario(container: Container, signals: ReadonlyArray<SignalInput | Signal>, options: ScenarioOptions): Promise<ScenarioResult> {
  const inputs = signals.map((s, i) => ('kind' in s ? s : signalInput(s, `signal ${i + 1}`)));
  await container.get(CORRELATION_TOKENS.SignalRecorder).record(inputs, { channel: 'api' });
  const correlation = await container.get(CORRELATION_TOKENS.Correlation).correlateOnce();
  // The demo's person is a principal made for this run, and proven by the token made with it.
  return orchestrate(container, correlation.stats.candidatesOpened, options, { principal: options.operator ?? 'alice@opx', method: 'cli-token' });
}

/**
 * The scenario as the batch correlation before live correlation ran it: one pure pass over all
 * signals, candidates recorded directly. Kept for the golden history recorded that way (the replay
 * gate re-runs it) and for migration tests of stores written by it.
 */
export async function runBatchScenario(container: Container, signals: readonly Signal[], options: ScenarioOptions): Promise<ScenarioResult> {
  const config = container.get(TOKENS.Config);
  const { candidates } = await ingestSignals(signals, config.correlationRules, container.get(TOKENS.CandidateStore));
  return orchestrate(container, candidates.length, options);
}

async function orchestrate(container: Container, candidates: number, options: ScenarioOptions, authenticatedBy?: AuthenticatedBy): Promise<ScenarioResult> {
  const store = container.get(TOKENS.EventStore);
  const config = container.get(TOKENS.Config);
  await guardPolicies(store, config); // no decision under a policy changed since its lock or its recorded decisions
  const context = container.get(TOKENS.HandlerContext);
  const first = await processCandidateInputs(store, context);

  let models = await projectAll(store);
  const deferred = Object.values(models.deferred).sort((a, b) => (a.candidateId < b.candidateId ? -1 : 1)).slice(0, options.manualPromotions);
  for (const row of deferred) {
    await requestManualPromotion(store, container.get(TOKENS.CandidateStore), config.authorityMatrix, {
      candidateId: row.candidateId,
      operator: options.operator ?? 'alice@opx',
      justification: 'customer impact confirmed on the status page',
      requestedAt: new Date(Date.parse(row.deferredAt) + 15 * 60 * 1000).toISOString(),
      ...(authenticatedBy === undefined ? {} : { authenticatedBy }),
    });
  }
  await processCandidateInputs(store, context, first.position);
  models = await projectAll(store);
  return { candidates, manualPromotions: deferred.length, readModels: models };
}

/** Projects the read models from the whole history. */
export async function projectAll(store: EventStore): Promise<ReadModels> {
  let models = emptyReadModels();
  for await (const recorded of store.readAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES })) models = project(models, recorded);
  return models;
}
