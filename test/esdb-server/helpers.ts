import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EventStoreDBClient } from '@eventstore/db-client';

import { makeLocalCertificates, writeLocalCertificates, type CertificateFiles } from '../../src/esdb-server/auth/certificates.js';
import type { EmbeddedServer } from '../../src/esdb-server/server.js';

/** Shared helpers for the embedded-server protocol suites (not a spec file). */

export const freshStream = (prefix = 'esdb-test'): string => `${prefix}-${randomUUID()}`;

/**
 * The official client for a connection string, or for an embedded server of this process (over
 * TLS with the credentials it made, unless it was started insecure).
 */
export const connect = (target: string | Pick<EmbeddedServer, 'endpoint'>): EventStoreDBClient => {
  if (typeof target === 'string') return EventStoreDBClient.connectionString(target);
  const { host, port, tls, rootCertificate, credentials } = target.endpoint;
  return new EventStoreDBClient(
    { endpoint: { address: host, port } },
    tls ? (rootCertificate === undefined ? {} : { rootCertificate: Buffer.from(rootCertificate) }) : { insecure: true },
    credentials,
  );
};

/** Collects everything an async iterable yields. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Takes the first `n` items, then stops iterating. */
export async function take<T>(iterable: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  if (n <= 0) return out;
  for await (const item of iterable) {
    out.push(item);
    if (out.length >= n) break;
  }
  return out;
}

/** Resolves on the first `event` the emitter fires. */
export const once = (emitter: NodeJS.EventEmitter, event: string): Promise<void> =>
  new Promise((resolve) => emitter.once(event, () => resolve()));

/** Polls `probe` until it returns a value (no timing is asserted; mocha's timeout bounds it). */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, intervalMs = 20): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * The embedded server in a process of its own, `--insecure` (`--memory` unless `args` say otherwise), so a test
 * can outlive a server whose thread is stuck; `stop()` kills it.
 */
export async function spawnServer(args: readonly string[] = ['--memory']): Promise<{ connectionString: string; stop(): Promise<void> }> {
  const main = fileURLToPath(new URL('../../src/esdb-server/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, '--port', '0', '--insecure', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
  const listening = JSON.parse(String(first.value)) as { connectionString: string };
  return {
    connectionString: listening.connectionString,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A throwaway CA and a loopback server certificate signed by it, written to `dir`: { caFile, certFile, keyFile }. */
export const makeTestCerts = (dir: string): CertificateFiles => writeLocalCertificates(dir, makeLocalCertificates({ now: new Date(), validDays: 2 }));
