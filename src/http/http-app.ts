import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

import type { Logger } from '../shared/logger.js';

export interface HttpLimits {
  /** Largest request body accepted (413 beyond). Default 8 MiB. */
  readonly bodyLimit?: number;
  /** Requests handled at once; beyond it 503 with Retry-After. Default 64. */
  readonly maxInFlight?: number;
  /** The longest a request may take to arrive whole (slow clients get 408). Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Open connections at most; more are refused. Default 1,024. */
  readonly maxConnections?: number;
}

export interface HttpAppOptions extends HttpLimits {
  readonly logger: Logger;
  readonly registry: Registry;
  /** Whether the event store answers (for /readyz). */
  readonly ready: () => Promise<boolean>;
  /** Reported by /healthz beside the process state (the worker's, the correlation's). */
  readonly health?: () => Record<string, unknown>;
  /** TLS: the server speaks HTTPS with this certificate and key (PEM). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

const OPS_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The HTTP front of `opx serve` (receiver now; operator API and console mount on it too): limits
 * on body size, request time, connections and requests in flight, JSON errors that name the
 * problem, and `/healthz`, `/readyz` (the store answers) and `/metrics` (Prometheus).
 */
export async function buildHttpApp(options: HttpAppOptions, routes: ReadonlyArray<(app: FastifyInstance) => Promise<void>>): Promise<FastifyInstance> {
  const maxInFlight = options.maxInFlight ?? 64;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    requestTimeout,
    connectionTimeout: 60_000,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: true,
    // Node checks request deadlines every connectionsCheckingInterval (30 s by default): a slow
    // client would hold its connection that long past --request-timeout-ms.
    serverFactory: (handler) => {
      const timeouts = { requestTimeout, headersTimeout: Math.min(requestTimeout, 10_000), connectionsCheckingInterval: Math.min(1_000, requestTimeout) };
      return options.tls === undefined ? createHttpServer(timeouts, handler) : createHttpsServer({ ...timeouts, cert: options.tls.cert, key: options.tls.key }, handler);
    },
  }) as unknown as FastifyInstance;
  app.server.maxConnections = options.maxConnections ?? 1_024;

  let inFlight = 0;
  app.addHook('onRequest', async (request, reply) => {
    if (OPS_ROUTES.has(request.url)) return;
    if (inFlight >= maxInFlight) {
      await reply.code(503).header('retry-after', '1').send({ error: 'overloaded', message: `more than ${maxInFlight} requests in flight; retry` });
      return;
    }
    inFlight++;
    (request as { opxCounted?: boolean }).opxCounted = true;
  });
  app.addHook('onResponse', async (request) => {
    if ((request as { opxCounted?: boolean }).opxCounted === true) inFlight--;
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) options.logger.error({ err: error, url: request.url }, 'request failed');
    void reply.code(status).send({ error: error.code ?? 'internal', message: status >= 500 ? 'internal error' : error.message });
  });
  app.setNotFoundHandler((request, reply) => void reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url}` }));

  app.get('/healthz', async () => ({ status: 'ok', ...(options.health?.() ?? {}) }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await options.ready().catch(() => false);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'store unavailable' });
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', options.registry.contentType).send(await options.registry.metrics()));

  for (const register of routes) await register(app);
  await app.ready();
  return app;
}

/** The app as a request handler a host mounts in its own HTTP server. */
export const requestHandler =
  (app: FastifyInstance) =>
  (request: IncomingMessage, response: ServerResponse): void =>
    app.routing(request, response);
