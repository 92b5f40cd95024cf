/**
 * A host application embedding the package, as the OPX monolith does: its own Inversify 8
 * container, its own logger, clock and bus, everything imported from the package root. The
 * package test (test/package/package.int.spec.ts) installs the packed tarball next to this file,
 * type-checks it under strict settings and runs it; it prints one JSON line of what it saw.
 */
import 'reflect-metadata';

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Container } from 'inversify';
import {
  TOKENS,
  auditReplay,
  esdbEventStoreModule,
  inMemoryEventStoreModule,
  loadConfig,
  orchestrationModule,
  startEmbeddedServer,
  workerModule,
  MissingOptionalDependency,
  NotTheRecordedInput,
  OpxError,
  type Candidate,
  type CandidateCreatedEvent,
  type Clock,
  type Logger,
  type MessageBus,
  type OrchestrationEvent,
  type Subscriber,
} from '@opx/incident-orchestration';

/** The host's logger (the monolith's own, here one that keeps what it is given). */
class HostLogger implements Logger {
  readonly entries: string[] = [];
  debug(_fields: object, message: string): void {
    this.entries.push(message);
  }
  info(_fields: object, message: string): void {
    this.entries.push(message);
  }
  warn(_fields: object, message: string): void {
    this.entries.push(message);
  }
  error(_fields: object, message: string): void {
    this.entries.push(message);
  }
  child(): Logger {
    return this;
  }
}

/** The host's bus (the monolith's broker adapter, here in memory): what it is given, it delivers. */
class HostBus implements MessageBus {
  readonly events: OrchestrationEvent[] = [];
  private readonly subscribers: Array<(event: OrchestrationEvent) => void | Promise<void>> = [];
  async emit(event: OrchestrationEvent): Promise<void> {
    this.events.push(event);
    for (const subscriber of this.subscribers) await subscriber(event);
  }
  subscribe<T extends OrchestrationEvent['eventType']>(eventType: T, subscriber: Subscriber<T>): () => void {
    const deliver = (event: OrchestrationEvent): void | Promise<void> => (event.eventType === eventType ? subscriber(event as Parameters<Subscriber<T>>[0]) : undefined);
    this.subscribers.push(deliver);
    return () => void this.subscribers.splice(this.subscribers.indexOf(deliver), 1);
  }
}

/** The host's clock: the package reads it at the edges only (the attempt log), never to decide. */
const HOST_NOW = '2031-05-04T03:02:01.000Z';
const hostClock: Clock = { now: () => new Date(HOST_NOW), monotonicMs: () => 0 };

const candidate = (candidateId: string, severity: 'SEV1' | 'SEV2', service: string): Candidate => ({
  candidateId,
  correlationRuleId: 'service-fingerprint-burst',
  correlationRuleVersion: '1.0.0',
  policyId: 'standard-promotion',
  policyVersion: '1.0.0',
  severity,
  service,
  signalCount: 2,
  createdAt: '2026-03-01T00:00:20.000Z',
  groupKey: `service=${service}|fingerprint=${service}:HighErrorRate`,
  windowStart: '2026-03-01T00:00:00.000Z',
  windowEnd: '2026-03-01T00:05:00.000Z',
  signalIds: ['sig-a', 'sig-b'],
});

const createdEventOf = (c: Candidate): CandidateCreatedEvent => ({
  eventType: 'CandidateCreated',
  candidateId: c.candidateId,
  correlationRuleId: c.correlationRuleId,
  correlationRuleVersion: c.correlationRuleVersion,
  signalCount: c.signalCount,
  severity: c.severity,
  service: c.service,
  createdAt: c.createdAt,
});

/** The monolith's container with the package's modules loaded and its own ports bound. */
function hostContainer(storeModule: ReturnType<typeof inMemoryEventStoreModule>, logger: Logger, bus: MessageBus, withWorker = false): Container {
  const container = new Container();
  container.bind('monolith/Greeting').toConstantValue('hello');
  container.load(orchestrationModule({ config: loadConfig() }), storeModule, ...(withWorker ? [workerModule()] : []));
  container.rebind(TOKENS.Logger).toConstantValue(logger);
  container.rebind(TOKENS.Clock).toConstantValue(hostClock);
  container.rebind(TOKENS.MessageBus).toConstantValue(bus);
  return container;
}

async function inProcess(): Promise<object> {
  const logger = new HostLogger();
  const bus = new HostBus();
  const container = hostContainer(inMemoryEventStoreModule(), logger, bus);
  const heard: string[] = [];
  container.get(TOKENS.MessageBus).subscribe('CandidateDeferred', (event) => void heard.push(event.candidateId));

  const promoted = candidate('cand-host-promoted', 'SEV1', 'auth');
  const deferred = candidate('cand-host-deferred', 'SEV2', 'inventory');
  for (const c of [promoted, deferred]) {
    await container.get(TOKENS.Candidates).create(c);
    await container.get(TOKENS.CandidateHandlers).handleCandidateCreated(createdEventOf(c));
  }

  // The wall clock as the decision time is refused: it would break the replay.
  let refused = '';
  const late = candidate('cand-host-late', 'SEV1', 'payments');
  await container.get(TOKENS.Candidates).create(late);
  try {
    await container.get(TOKENS.CandidateHandlers).handleCandidateCreated({ ...createdEventOf(late), createdAt: new Date().toISOString() });
  } catch (error) {
    if (error instanceof NotTheRecordedInput && OpxError.hasCode(error, NotTheRecordedInput.code)) refused = error.code;
  }
  // @ts-expect-error the frozen processCandidate(candidateId, authority, currentTime) is not on the public path
  void container.get(TOKENS.CandidateHandlers).processCandidate;
  // @ts-expect-error nor is the orchestrator's token public
  void TOKENS.IncidentOrchestrator;

  const store = container.get(TOKENS.EventStore);
  const attempts = (await container.get(TOKENS.AttemptLog).getAttempts(promoted.candidateId)).map((a) => a.startedAt);
  await container.get(TOKENS.AttemptLog).flush(); // before the store closes: the log is written behind orchestration
  const replay = await auditReplay(store, loadConfig());
  await store.close();
  return {
    busEvents: bus.events.map((e) => `${e.eventType}:${e.candidateId}`),
    heard,
    logged: logger.entries.includes('candidate orchestrated'),
    attemptStartedAt: attempts,
    refused,
    replay: replay.verdict,
    greeting: container.get<string>('monolith/Greeting'),
  };
}

async function worker(): Promise<object> {
  // secure by default: TLS and a user made for this process, handed over by the endpoint
  const server = await startEmbeddedServer();
  const logger = new HostLogger();
  const bus = new HostBus();
  const container = hostContainer(esdbEventStoreModule(server.endpoint), logger, bus, true);
  const incident = new Promise<string>((resolve) => container.get(TOKENS.MessageBus).subscribe('IncidentCreated', (event) => resolve(event.incidentId)));

  const running = container.get(TOKENS.Worker);
  running.start();
  await running.subscribed();
  const stateWhileRunning = running.state;
  await container.get(TOKENS.Candidates).create(candidate('cand-host-worker', 'SEV1', 'auth'));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no IncidentCreated within 20 s')), 20_000)));
  const incidentId = await Promise.race([incident, timeout]).finally(() => clearTimeout(timer));
  await running.stop();

  const store = container.get(TOKENS.EventStore);
  const replay = await auditReplay(store, loadConfig());
  await store.close();
  await server.close();
  return { stateWhileRunning, stateAfterStop: running.state, incidentId, replay: replay.verdict };
}

/** Installed without optional dependencies: an in-memory server runs, a data dir names what it needs. */
async function withoutSqlite(): Promise<object> {
  try {
    const server = await startEmbeddedServer({ insecure: true, dataDir: mkdtempSync(join(tmpdir(), 'opx-host-')) });
    await server.close();
    return { dataDir: 'opened' };
  } catch (error) {
    return { dataDir: error instanceof MissingOptionalDependency ? `${error.code}: ${error.packageName}` : String(error) };
  }
}

async function deepImport(): Promise<string> {
  try {
    // @ts-expect-error only the package root is exported
    await import('@opx/incident-orchestration/dist/lib/container/tokens.js');
    return 'imported';
  } catch (error) {
    return String((error as NodeJS.ErrnoException).code);
  }
}

const timed = async <T,>(work: () => Promise<T>): Promise<[T, number]> => {
  const started = performance.now();
  return [await work(), Math.round(performance.now() - started)];
};
const [inProcessResult, inProcessMs] = await timed(inProcess);
const [workerResult, workerMs] = await timed(worker);
console.log(JSON.stringify({ inProcess: inProcessResult, worker: workerResult, withoutSqlite: await withoutSqlite(), deepImport: await deepImport(), ms: { inProcess: inProcessMs, worker: workerMs } }));
