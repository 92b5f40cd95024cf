/**
 * The limit the worker's throughput is measured against: a minimal loop written by hand over the
 * official client, making the calls the worker makes for each candidate against the same server,
 * with none of the domain. It joins a persistent-subscription group with the worker's settings
 * and filter, and for each CandidateCreated delivered appends the outputs the orchestration
 * recorded for that candidate (PromotionDecided; IncidentCreated and IncidentOpened on PROMOTE) at
 * the same expected revisions, queues the attempt record for one batched append to the attempt
 * log (its $maxAge set once), and acks: at most `concurrency` candidates at once, as the worker.
 * The outputs come from a plan file written by worker.bench.ts (the same candidates run through
 * the in-memory orchestration first). Prints `{"ready":true}` once subscribed.
 *   node dist/bench/worker-baseline.js <connection> <plan.json> <concurrency>
 */
import { readFileSync } from 'node:fs';

import {
  eventTypeFilter,
  EventStoreDBClient,
  jsonEvent,
  NO_STREAM,
  persistentSubscriptionToAllSettingsFromDefaults,
  PersistentSubscriptionExistsError,
  START,
  type AppendExpectedRevision,
} from '@eventstore/db-client';

import { CANDIDATE_INPUT_TYPES } from '../src/candidates/candidate-events.js';
import { ORCHESTRATION_LOG_MAX_AGE_SECONDS, ORCHESTRATION_LOG_STREAM } from '../src/orchestration/orchestration-store.js';
import { DEFAULT_GROUP_SETTINGS } from '../src/worker/worker.js';

/** One append the orchestration made for a candidate, in the order it made them. */
export interface PlannedAppend {
  readonly streamId: string;
  /** 'no_stream', or the revision as a decimal string. */
  readonly expected: string;
  readonly id: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly metadata: Record<string, unknown>;
}

export interface CandidatePlan {
  readonly appends: readonly PlannedAppend[];
  readonly attempt: Record<string, unknown>;
}

export const BASELINE_GROUP = 'bench-baseline';

// Exits on SIGTERM as the worker does (a --cpu-prof profile is written on exit, not on a kill).
process.on('SIGTERM', () => process.exit(0));

async function main(): Promise<void> {
  const [connection, planFile, concurrencyArg] = process.argv.slice(2) as [string, string, string];
  const plan = new Map(Object.entries(JSON.parse(readFileSync(planFile, 'utf8')) as Record<string, CandidatePlan>));
  const concurrency = Number(concurrencyArg);
  const client = EventStoreDBClient.connectionString(connection);
  const settings = DEFAULT_GROUP_SETTINGS;
  try {
    await client.createPersistentSubscriptionToAll(
      BASELINE_GROUP,
      persistentSubscriptionToAllSettingsFromDefaults({
        startFrom: START,
        maxRetryCount: settings.maxRetryCount,
        messageTimeout: settings.messageTimeoutMs,
        consumerStrategyName: settings.consumerStrategy,
        ...(settings.checkpointAfterMs === undefined ? {} : { checkPointAfter: settings.checkpointAfterMs }),
      }),
      { filter: eventTypeFilter({ prefixes: [...CANDIDATE_INPUT_TYPES] }) },
    );
  } catch (error) {
    if (!(error instanceof PersistentSubscriptionExistsError)) throw error;
  }

  // The attempt log: records queued, one append at a time takes all that is queued.
  let queued: Array<Record<string, unknown>> = [];
  let writing = false;
  let retentionSet = false;
  const writeAttempts = async (): Promise<void> => {
    writing = true;
    while (queued.length > 0) {
      const batch = queued;
      queued = [];
      if (!retentionSet) {
        await client.setStreamMetadata(ORCHESTRATION_LOG_STREAM, { maxAge: ORCHESTRATION_LOG_MAX_AGE_SECONDS });
        retentionSet = true;
      }
      await client.appendToStream(
        ORCHESTRATION_LOG_STREAM,
        batch.map((attempt) => jsonEvent({ id: crypto.randomUUID(), type: 'OrchestrationAttempted', data: attempt, metadata: { schemaVersion: 1 } })),
      );
    }
    writing = false;
  };

  const subscription = client.subscribeToPersistentSubscriptionToAll(BASELINE_GROUP, { bufferSize: concurrency * 2 });
  let running = 0;
  let wake: (() => void) | undefined;
  console.log(JSON.stringify({ ready: true }));
  for await (const delivered of subscription) {
    while (running >= concurrency) await new Promise<void>((resolve) => (wake = resolve));
    running++;
    void (async (): Promise<void> => {
      const candidate = plan.get(delivered.event?.streamId.slice('candidate-'.length) ?? '');
      for (const append of candidate?.appends ?? []) {
        const expectedRevision: AppendExpectedRevision = append.expected === 'no_stream' ? NO_STREAM : BigInt(append.expected);
        await client.appendToStream(append.streamId, jsonEvent({ id: append.id, type: append.type, data: append.data, metadata: append.metadata }), {
          expectedRevision,
        });
      }
      if (candidate !== undefined) {
        queued.push(candidate.attempt);
        if (!writing) void writeAttempts();
      }
      await subscription.ack(delivered);
      running--;
      wake?.();
    })().catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  }
}

await main();
