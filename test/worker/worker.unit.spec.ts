import { expect } from 'chai';
import { Registry } from 'prom-client';

import type {
  NackAction,
  PersistentDelivery,
  PersistentSubscription,
  PersistentSubscriptions,
  RecordedEvent,
} from '../../src/eventstore/event-store.js';
import type { HandlerContext } from '../../src/orchestration/candidate-event-handler.js';
import type { OrchestrationResult } from '../../src/orchestration/incident-orchestrator.js';
import { candidateCodec } from '../../src/candidates/candidate-codec.js';
import { candidateCreated, CandidateStore } from '../../src/candidates/candidate-store.js';
import { silentLogger } from '../../src/shared/logger.js';
import { backoffDelay, KeyedSerialQueue, Semaphore } from '../../src/worker/concurrency.js';
import { CandidateWorker } from '../../src/worker/worker.js';
import { workerModule } from '../../src/worker/module.js';
import { WORKER_TOKENS } from '../../src/worker/tokens.js';
import { candidateStreamId } from '../../src/candidates/candidate-events.js';
import { createOpxContainer } from '../../src/container/modules.js';
import { TOKENS } from '../../src/container/tokens.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { CandidateFixtures, ConfigFixtures } from '../core/support/fixtures.js';
import { InterceptingEventStore } from '../core/support/ports.js';

/** A persistent-subscriptions port that delivers what the test pushes and records acks and nacks. */
class FakeSubscriptions implements PersistentSubscriptions {
  readonly acked: string[] = [];
  readonly nacked: Array<{ id: string; action: NackAction }> = [];
  readonly groups: string[] = [];
  #queue: PersistentDelivery[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  push(event: RecordedEvent, retryCount = 0): void {
    this.#queue.push({ event, retryCount });
    this.#wake?.();
  }

  async ensureGroup(_target: unknown, group: string): Promise<void> {
    this.groups.push(group);
  }

  subscribe(): PersistentSubscription {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the fake's generator reads the fake's queue
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        while (!self.#closed) {
          const next = self.#queue.shift();
          if (next !== undefined) yield next;
          else await new Promise<void>((resolve) => (self.#wake = resolve));
        }
      },
      ack: async (d) => void this.acked.push(d.event.id),
      nack: async (d, action) => void this.nacked.push({ id: d.event.id, action }),
      close: async () => {
        this.#closed = true;
        this.#wake?.();
      },
    };
  }

  async replayParked(): Promise<void> {}
  async *readParked(): AsyncIterable<RecordedEvent> {}
}

const candidateEvent = (n: number, streamSuffix = String(n)): RecordedEvent => {
  const candidateId = `cand-${streamSuffix}`;
  const created = candidateCreated({
    candidateId,
    correlationRuleId: 'rule',
    correlationRuleVersion: '1.0.0',
    signalCount: 1,
    severity: 'SEV2',
    service: 'svc',
    createdAt: '2026-03-01T00:00:00.000Z',
    policyId: 'p',
    policyVersion: '1.0.0',
    groupKey: 'g',
    windowStart: '2026-03-01T00:00:00.000Z',
    windowEnd: '2026-03-01T00:05:00.000Z',
    signalIds: ['s'],
  } as never);
  const encoded = candidateCodec.encode(created, created.metadata.$correlationId);
  return { ...encoded, id: `${encoded.id.slice(0, -4)}${String(n).padStart(4, '0')}`, streamId: `candidate-${candidateId}`, revision: 0n, position: BigInt(n), created: new Date() };
};

const until = async (condition: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).to.equal(true);
};

describe(CandidateWorker.name, () => {
  let running = 0;
  let maxRunning = 0;
  const perStream = new Map<string, number>();
  let overlapped = false;
  let fail: (candidateId: string) => boolean = () => false;
  const context: HandlerContext = {
    logger: silentLogger,
    orchestrator: {
      async processCandidate(candidateId): Promise<OrchestrationResult> {
        running++;
        maxRunning = Math.max(maxRunning, running);
        perStream.set(candidateId, (perStream.get(candidateId) ?? 0) + 1);
        if ((perStream.get(candidateId) ?? 0) > 1) overlapped = true;
        await new Promise((resolve) => setTimeout(resolve, 10));
        perStream.set(candidateId, (perStream.get(candidateId) ?? 1) - 1);
        running--;
        if (fail(candidateId)) throw new Error('CP-6 unavailable');
        return { success: true, decision: 'SUPPRESS', decisionId: `dec-${candidateId}`, reason: 'r' };
      },
    },
  };

  beforeEach(() => {
    running = 0;
    maxRunning = 0;
    overlapped = false;
    perStream.clear();
    fail = () => false;
  });

  it('acks handled events and never runs more than `concurrency` at once', async () => {
    const port = new FakeSubscriptions();
    const worker = new CandidateWorker({ subscriptions: port, context, logger: silentLogger, metrics: new Registry() }, { concurrency: 4 });
    worker.start();
    for (let i = 0; i < 40; i++) port.push(candidateEvent(i));
    await until(() => port.acked.length === 40);
    await worker.stop();
    expect(maxRunning).to.equal(4);
    expect(port.nacked).to.deep.equal([]);
    expect(port.groups).to.deep.equal(['opx-orchestrator']);
  });

  it('built by workerModule (as `opx worker` is), orchestrates a delivered CandidateCreated with no read of its stream', async () => {
    const memory = new InMemoryEventStore();
    const candidate = CandidateFixtures.promotable;
    await new CandidateStore(memory).create(candidate); // recorded by another process
    const spy = new InterceptingEventStore(memory);
    const container = createOpxContainer({ config: ConfigFixtures.bundled });
    container.rebind(TOKENS.EventStore).toConstantValue(spy);
    container.rebind(TOKENS.Logger).toConstantValue(silentLogger);
    const port = new FakeSubscriptions();
    container.bind(WORKER_TOKENS.PersistentSubscriptions).toConstantValue(port);
    container.load(workerModule({ registry: new Registry() }));
    const worker = container.get(WORKER_TOKENS.CandidateWorker);
    worker.start();
    const streamId = candidateStreamId(candidate.candidateId);
    port.push(memory.snapshot(streamId)[0] as RecordedEvent);
    await until(() => port.acked.length === 1);
    await worker.stop();
    expect(memory.snapshot(streamId).map((e) => e.type)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
    expect(spy.reads.filter((s) => s === streamId)).to.deep.equal([]);
  });

  it("tells its context's CP-5 of each delivery before handling it, so the handler needs no read", async () => {
    const port = new FakeSubscriptions();
    const seen: string[] = [];
    const candidates = { observe: (event: RecordedEvent) => void seen.push(`observed ${event.streamId.slice('candidate-'.length)}`) };
    const observing: HandlerContext = {
      ...context,
      orchestrator: {
        processCandidate: async (candidateId, authority, at) => {
          seen.push(`handled ${candidateId}`);
          return context.orchestrator.processCandidate(candidateId, authority, at);
        },
      },
      candidates,
    };
    const worker = new CandidateWorker({ subscriptions: port, context: observing, logger: silentLogger }, { concurrency: 1 });
    worker.start();
    port.push(candidateEvent(1));
    port.push(candidateEvent(2));
    await until(() => port.acked.length === 2);
    await worker.stop();
    expect(seen).to.deep.equal(['observed cand-1', 'handled cand-1', 'observed cand-2', 'handled cand-2']);
  });

  it('never processes two events of one candidate stream at the same time', async () => {
    const port = new FakeSubscriptions();
    const worker = new CandidateWorker({ subscriptions: port, context, logger: silentLogger }, { concurrency: 8 });
    worker.start();
    for (let i = 0; i < 24; i++) port.push(candidateEvent(i, String(i % 3)));
    await until(() => port.acked.length === 24);
    await worker.stop();
    expect(overlapped).to.equal(false);
    expect(maxRunning).to.equal(3);
  });

  it("nacks 'retry' when the handler throws, so redelivery is the only retry, and counts a park at maxRetryCount", async () => {
    const port = new FakeSubscriptions();
    const registry = new Registry();
    const worker = new CandidateWorker({ subscriptions: port, context, logger: silentLogger, metrics: registry }, { concurrency: 2 });
    fail = (id) => id === 'cand-1';
    worker.start();
    port.push(candidateEvent(0));
    port.push(candidateEvent(1), 0);
    port.push(candidateEvent(1), 5);
    await until(() => port.acked.length + port.nacked.length === 3);
    await worker.stop();
    expect(port.nacked.map((n) => n.action)).to.deep.equal(['retry', 'retry']);
    expect(port.acked).to.have.length(1);
    expect(await registry.getSingleMetricAsString('opx_worker_nacked_at_retry_limit_total')).to.match(/opx_worker_nacked_at_retry_limit_total 1$/m);
  });

  it('finishes and acks what is in flight when stopped', async () => {
    const port = new FakeSubscriptions();
    const worker = new CandidateWorker({ subscriptions: port, context, logger: silentLogger }, { concurrency: 4 });
    worker.start();
    for (let i = 0; i < 4; i++) port.push(candidateEvent(i));
    await until(() => running === 4);
    await worker.stop();
    expect(port.acked).to.have.length(4);
    expect(worker.state).to.equal('stopped');
  });
});

describe('worker concurrency primitives', () => {
  it('a closed semaphore refuses waiters', async () => {
    const semaphore = new Semaphore(1);
    expect(await semaphore.acquire()).to.equal(true);
    const waiting = semaphore.acquire();
    semaphore.close();
    expect(await waiting).to.equal(false);
  });

  it('the keyed queue runs one key in order even when a task fails', async () => {
    const queue = new KeyedSerialQueue();
    const order: number[] = [];
    const a = queue.run('k', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(1);
      throw new Error('x');
    });
    const b = queue.run('k', async () => void order.push(2));
    await expect(a).to.be.rejectedWith('x');
    await b;
    expect(order).to.deep.equal([1, 2]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(queue.size).to.equal(0);
  });

  it('backs off exponentially up to the cap', () => {
    const policy = { initialMs: 100, maxMs: 1_000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, policy))).to.deep.equal([100, 200, 400, 800, 1_000, 1_000]);
  });
});
