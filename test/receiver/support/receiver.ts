import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';

import { loadConfig } from '../../../src/container/config.js';
import type { EventStore } from '../../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../../src/eventstore/in-memory-event-store.js';
import { buildHttpApp, type HttpLimits } from '../../../src/http/http-app.js';
import { PrincipalDirectory, newToken } from '../../../src/principals/principals.js';
import { ReceiverMetrics } from '../../../src/receiver/receiver-metrics.js';
import { receiverRoutes } from '../../../src/receiver/receiver.js';
import { SignalRecorder } from '../../../src/signals/signal-recorder.js';
import { FixedClock } from '../../../src/shared/clock.js';
import { RecordingLogger } from '../../../src/shared/logger.js';

export const INGEST = newToken();
export const OPERATOR = newToken();

export interface ReceiverRig {
  readonly app: FastifyInstance;
  readonly memory: InMemoryEventStore;
  readonly registry: Registry;
  readonly logger: RecordingLogger;
  /** Events of signal-* streams, by type. */
  facts(type?: string): Array<{ streamId: string; type: string; data: Record<string, unknown>; metadata: Record<string, unknown> }>;
}

/** The receiver's routes over an in-memory store (or the store given), reached with app.inject. */
export async function receiverRig(options: { readonly store?: (memory: InMemoryEventStore) => EventStore; readonly insecure?: boolean; readonly deadlineMs?: number; readonly limits?: HttpLimits } = {}): Promise<ReceiverRig> {
  const memory = new InMemoryEventStore();
  const store = options.store?.(memory) ?? memory;
  const registry = new Registry();
  const logger = new RecordingLogger();
  const principals = PrincipalDirectory.empty().with('alertmanager-prod', ['ingest'], INGEST).with('alice', ['HUMAN_OPERATOR'], OPERATOR);
  const app = await buildHttpApp({ ...(options.limits ?? {}), logger, registry, ready: async () => true }, [
    (instance) =>
      receiverRoutes(instance, {
        recorder: new SignalRecorder(store, new FixedClock('2026-06-01T12:00:00.000Z')),
        sources: loadConfig().sources,
        principals: options.insecure === true ? PrincipalDirectory.empty() : principals,
        insecure: options.insecure === true,
        metrics: new ReceiverMetrics(registry),
        logger,
        deadlineMs: options.deadlineMs ?? 5_000,
      }),
  ]);
  return {
    app,
    memory,
    registry,
    logger,
    facts: (type) =>
      [...memory.streamIds()]
        .filter((id) => id.startsWith('signal-'))
        .flatMap((id) => memory.snapshot(id))
        .filter((e) => type === undefined || e.type === type)
        .map((e) => ({ streamId: e.streamId, type: e.type, data: e.data, metadata: e.metadata })),
  };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
export const basic = (name: string, token: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${name}:${token}`).toString('base64')}` });

/** An Alertmanager 0.25 webhook body. */
export function webhook(alerts: object[], extra: object = {}): object {
  return { version: '4', groupKey: '{}:{alertname="CheckoutDown"}', truncatedAlerts: 0, status: 'firing', receiver: 'opx', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am:9093', alerts, ...extra };
}

export function alert(fingerprint: string, overrides: object = {}): object {
  return {
    status: 'firing',
    labels: { alertname: 'CheckoutDown', service: 'checkout', severity: 'critical' },
    annotations: { summary: 'checkout is down' },
    startsAt: '2026-06-01T11:59:00.000Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prom:9090/graph',
    fingerprint,
    ...overrides,
  };
}

/** The store with every append waiting for `before` first (a slow or failing store). */
export function gated(memory: InMemoryEventStore, before: () => Promise<void>): EventStore {
  return new Proxy(memory, {
    get(target, property, receiver) {
      if (property === 'append') {
        return async (...args: Parameters<EventStore['append']>) => {
          await before();
          return target.append(...args);
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
