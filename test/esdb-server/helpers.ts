import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EventStoreDBClient } from '@eventstore/db-client';

/** Shared helpers for the embedded-server protocol suites (not a spec file). */

export const freshStream = (prefix = 'esdb-test'): string => `${prefix}-${randomUUID()}`;

export const connect = (connectionString: string): EventStoreDBClient => EventStoreDBClient.connectionString(connectionString);

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
 * The embedded server in a process of its own (`--memory` unless `args` say otherwise), so a test
 * can outlive a server whose thread is stuck; `stop()` kills it.
 */
export async function spawnServer(args: readonly string[] = ['--memory']): Promise<{ connectionString: string; stop(): Promise<void> }> {
  const main = fileURLToPath(new URL('../../src/esdb-server/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
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

/**
 * A throwaway CA and a certificate for 127.0.0.1/localhost signed by it, made with the openssl
 * command line in `dir`: { caFile, certFile, keyFile }.
 */
export function makeTestCerts(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const run = (args: string[]): void => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=opx-test-ca', '-days', '2']);
  run(['req', ...ec, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', 'node.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.crt', '-days', '2', '-extfile', 'san.ext']);
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'node.crt'), keyFile: join(dir, 'node.key') };
}
