import { createServer, type Server } from 'node:http';

import type { Registry } from 'prom-client';

import type { WorkerHealth } from './worker.js';

export interface OpsServer {
  readonly port: number;
  /** The interface it listens on: 127.0.0.1 unless told otherwise. */
  readonly host: string;
  close(): Promise<void>;
}

/** Loopback unless told otherwise: metrics and health say more about a deployment than anyone outside it needs. */
export const DEFAULT_OPS_HOST = '127.0.0.1';

/**
 * `/metrics` (Prometheus text format) and `/healthz` (200 while subscribed or first
 * connecting, 503 while reconnecting or stopping; JSON body with the worker's state) on node:http.
 */
export function startOpsServer(options: { readonly port: number; readonly host?: string; readonly registry: Registry; readonly health: () => WorkerHealth }): Promise<OpsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET') {
      response.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      options.registry
        .metrics()
        .then((text) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(text))
        .catch((error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)));
      return;
    }
    if (path === '/healthz') {
      const health = options.health();
      const ok = health.state === 'subscribed' || health.state === 'connecting';
      response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...health }));
      return;
    }
    response.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? DEFAULT_OPS_HOST, () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address !== null ? address.port : options.port,
        host: typeof address === 'object' && address !== null ? address.address : (options.host ?? DEFAULT_OPS_HOST),
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
