import { randomUUID } from 'node:crypto';

import { expect } from 'chai';
import { Registry } from 'prom-client';

import { CANDIDATE_INPUT_TYPES } from '../../src/candidates/candidate-events.js';
import { esdbEventStoreModule } from '../../src/container/esdb-module.js';
import { createOpxContainer } from '../../src/container/modules.js';
import { loadConfig } from '../../src/container/config.js';
import { TOKENS } from '../../src/container/tokens.js';
import { correlate, type Candidate } from '../../src/correlation/correlator.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';
import type { RecordedEvent } from '../../src/eventstore/event-store.js';
import { handleCandidateStreamEvent } from '../../src/orchestration/candidate-event-handler.js';
import { verifyHistory } from '../../src/integrity/verify.js';
import { ReplayAudit } from '../../src/replay/replay-audit.js';
import { generateSampleSignals } from '../../src/samples/sample-signals.js';
import { silentLogger } from '../../src/shared/logger.js';
import { workerModule } from '../../src/worker/module.js';
import { countParkedEvents, listParkedEvents, PARKED_EVENTS_REPLAYED, PARKED_OPERATIONS_STREAM, replayParkedEvents } from '../../src/worker/parked.js';
import { WORKER_TOKENS } from '../../src/worker/tokens.js';
import { CandidateWorker } from '../../src/worker/worker.js';
import { freePort, seededRandom, startStoreProcess, startWorkerProcess, waitFor, type ManagedProcess, type StoreProcess } from './support/cluster.js';
import { appendCandidates, completed, exactlyOnceViolations, summarize } from './support/history.js';

const CANDIDATES = 300;
const MAX_RETRY_COUNT = 3;

async function metricSum(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe(`${CandidateWorker.name} with competing consumers (real processes)`, function () {
  this.timeout(90_000);

  let server: StoreProcess;
  let store: EsdbEventStore;
  let candidates: Candidate[];
  const workers: ManagedProcess[] = [];
  const httpPorts: number[] = [];
  const poisonStream = `candidate-poison-${randomUUID()}`;
  const config = loadConfig();

  before(async () => {
    server = await startStoreProcess({ port: await freePort() });
    store = EsdbEventStore.fromConnectionString(server.connectionString);
    candidates = correlate(generateSampleSignals({ groups: CANDIDATES + 60, seed: 99 }), config.correlationRules).slice(0, CANDIDATES);
    for (let i = 0; i < 3; i++) {
      httpPorts.push(await freePort());
      workers.push(await startWorkerProcess(`competing-${i}`, { connection: server.connectionString, httpPort: httpPorts[i] as number, concurrency: 8, maxRetryCount: MAX_RETRY_COUNT }));
    }
    const appended = appendCandidates(store, candidates.slice(0, CANDIDATES / 2), 4);
    // A poison event: a CandidateCreated whose payload fails validation, appended raw.
    await store.append(poisonStream, [{ id: randomUUID(), type: 'CandidateCreated', data: { eventType: 'CandidateCreated', candidateId: 42 }, metadata: {} }], 'no_stream');
    await appended;
    await appendCandidates(store, candidates.slice(CANDIDATES / 2), 4);
    await waitFor(async () => completed(await summarize(store)) >= candidates.length || undefined, { timeoutMs: 45_000, description: 'all candidates decided' });
    await waitFor(async () => (await countParkedEvents(store)) >= 1 || undefined, { timeoutMs: 30_000, description: 'the poison event parked' });
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    await store?.close();
    await server?.process.kill('SIGKILL');
  });

  it('handles every candidate exactly once across the group, the poison event not holding them up', async () => {
    expect(exactlyOnceViolations(await summarize(store), candidates)).to.deep.equal([]);
  });

  it('seals history as it is recorded, three workers sealing at once: verify finds every event sealed and INTACT', async () => {
    let report = await verifyHistory(store);
    await waitFor(async () => ((report = await verifyHistory(store)).unsealed === 0 ? true : undefined), { timeoutMs: 30_000, description: 'every event sealed' });
    expect(report.verdict).to.equal('INTACT');
    expect(report.findings).to.deep.equal([]);
    expect(report.eventsVerified).to.equal(report.eventsRead).and.be.greaterThan(CANDIDATES * 2);
  });

  it('parks the poison event after maxRetryCount redeliveries, and lists it', async () => {
    const parked = await listParkedEvents(store);
    expect(parked.map((p) => p.streamId)).to.deep.equal([poisonStream]);
    expect(parked[0]?.type).to.equal('CandidateCreated');
    const retries = (await Promise.all(httpPorts.map((p) => metricSum(p, 'opx_worker_retries_total')))).reduce((a, b) => a + b, 0);
    const parkedByWorkers = (await Promise.all(httpPorts.map((p) => metricSum(p, 'opx_worker_nacked_at_retry_limit_total')))).reduce((a, b) => a + b, 0);
    expect(retries).to.equal(MAX_RETRY_COUNT + 1);
    expect(parkedByWorkers).to.equal(1);
    expect(await metricSum(httpPorts[0] as number, 'opx_worker_parked_events')).to.equal(1);
  });

  it('serves /healthz and /metrics on every worker', async () => {
    for (const port of httpPorts) {
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).to.equal(200);
      expect(((await health.json()) as { state: string }).state).to.equal('subscribed');
    }
    const handled = (await Promise.all(httpPorts.map((p) => metricSum(p, 'opx_worker_decisions_total')))).reduce((a, b) => a + b, 0);
    expect(handled).to.equal(candidates.length);
  });

  describe('when every event is delivered again (a second group from the start, in-process, with a host registry)', () => {
    it('appends nothing new', async () => {
      const before = await summarize(store);
      const registry = new Registry();
      const container = createOpxContainer({ config, storeModule: esdbEventStoreModule(server.connectionString) });
      container.rebind(TOKENS.Logger).toConstantValue(silentLogger);
      container.load(workerModule({ registry, worker: { group: 'opx-duplicates', concurrency: 32 } }));
      const worker = container.get(WORKER_TOKENS.CandidateWorker);
      worker.start();
      try {
        const total = candidates.length + 1; // the inputs (the group carries no outputs), the poison event included, which only fails
        await waitFor(
          async () => {
            const handled = (await registry.getSingleMetricAsString('opx_worker_events_total'))
              .split('\n')
              .filter((line) => !line.startsWith('#') && !line.includes('outcome="failed"'))
              .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1) || 0), 0);
            return handled >= total - 1 || undefined;
          },
          { timeoutMs: 45_000, description: 'the second group to go through every event' },
        );
      } finally {
        await worker.stop();
        await container.get(TOKENS.EventStore).close();
      }
      const after = await summarize(store);
      expect(after.eventCount).to.equal(before.eventCount);
      expect(after.lastPosition).to.equal(before.lastPosition);
    });
  });

  describe('when the inputs are handled again out of order and concurrently', () => {
    it('appends nothing new', async () => {
      const before = await summarize(store);
      const inputs: RecordedEvent[] = [];
      for await (const event of store.readAll({ streamPrefixes: ['candidate-'] })) {
        if ((CANDIDATE_INPUT_TYPES as readonly string[]).includes(event.type) && event.streamId !== poisonStream) inputs.push(event);
      }
      const random = seededRandom(7);
      for (let i = inputs.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [inputs[i], inputs[j]] = [inputs[j] as RecordedEvent, inputs[i] as RecordedEvent];
      }
      const container = createOpxContainer({ config, storeModule: esdbEventStoreModule(server.connectionString) });
      container.rebind(TOKENS.Logger).toConstantValue(silentLogger);
      const context = container.get(TOKENS.HandlerContext);
      try {
        let next = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < inputs.length) await handleCandidateStreamEvent(inputs[next++] as RecordedEvent, context);
          }),
        );
      } finally {
        await container.get(TOKENS.EventStore).close();
      }
      const after = await summarize(store);
      expect(after.eventCount).to.equal(before.eventCount);
    });
  });

  describe('when parked events are replayed', () => {
    it('counts them in a dry run without replaying or recording anything', async () => {
      const result = await replayParkedEvents({ subscriptions: store, store }, { dryRun: true, requestedBy: 'ops:test', requestedAt: '2026-03-01T00:00:00.000Z' });
      expect(result).to.include({ dryRun: true, parked: 1, replayed: 1 });
      expect(result.recordedEventId).to.equal(undefined);
      expect(await countParkedEvents(store)).to.equal(1);
      const recorded: RecordedEvent[] = [];
      for await (const event of store.readStream(PARKED_OPERATIONS_STREAM)) recorded.push(event);
      expect(recorded).to.deep.equal([]);
    });

    it('records the replay, redelivers the event, and the still-poisonous event is parked again', async () => {
      const result = await replayParkedEvents(
        { subscriptions: store, store },
        { stopAt: 1, requestedBy: 'ops:test', requestedAt: '2026-03-01T00:05:00.000Z', reason: 'after the fix' },
      );
      expect(result).to.include({ dryRun: false, parked: 1, replayed: 1 });
      const recorded: RecordedEvent[] = [];
      for await (const event of store.readStream(PARKED_OPERATIONS_STREAM)) recorded.push(event);
      expect(recorded.map((e) => [e.type, e.id])).to.deep.equal([[PARKED_EVENTS_REPLAYED, result.recordedEventId]]);
      expect(recorded[0]?.data).to.deep.include({ group: 'opx-orchestrator', requestedBy: 'ops:test', replayed: 1, stopAt: 1, reason: 'after the fix' });
      // Redelivered MAX_RETRY_COUNT + 1 more times, then parked again.
      await waitFor(
        async () => ((await Promise.all(httpPorts.map((p) => metricSum(p, 'opx_worker_nacked_at_retry_limit_total')))).reduce((a, b) => a + b, 0) >= 2) || undefined,
        { timeoutMs: 30_000, description: 'the poison event parked a second time' },
      );
      await waitFor(async () => (await listParkedEvents(store)).map((p) => p.streamId).join() === poisonStream || undefined, {
        timeoutMs: 10_000,
        description: 'the parked listing to show the poison event once',
      });
    });
  });

  it('leaves a history whose only divergence, for the replay audit, is the poison stream', async () => {
    const report = await new ReplayAudit(config).run(store);
    expect(report.inputsReplayed).to.equal(candidates.length + 1);
    expect([...new Set(report.divergences.map((d) => d.streamId))]).to.deep.equal([poisonStream]);
  });
});
