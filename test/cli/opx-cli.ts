import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startEmbeddedServer } from '../../src/esdb-server/server.js';
import type { EventStore } from '../../src/eventstore/event-store.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';

export const OPX_BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface OpxRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T;
}

/** Runs `opx` as a user would: a separate node process, in `cwd`, with its own environment. */
export function opx(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; stdin?: string; killAfterMs?: number }): Promise<OpxRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [OPX_BIN, ...args], {
      cwd: options.cwd,
      env: cleanEnv(options.env),
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (options.stdin !== undefined) child.stdin?.end(options.stdin);
    // For a command that should exit by itself but might run until stopped (a worker that should refuse to start).
    const killer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), options.killAfterMs);
    child.on('close', () => clearTimeout(killer));
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        stdout,
        stderr,
        json: <T>() => {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`stdout of opx ${args.join(' ')} is not JSON:\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      }),
    );
  });
}

/** The test's environment without OPX_* settings of the machine running it, plus the given ones. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('OPX_')) env[key] = value;
  return { ...env, ...extra };
}

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `opx-cli-${prefix}-`));

/**
 * Seeds a data dir the way the CLI would read it: the embedded server over the dir, the official
 * client, then closed again (a data dir has one owner at a time).
 */
export async function withDataDir<T>(dataDir: string, work: (store: EventStore) => Promise<T>): Promise<T> {
  const server = await startEmbeddedServer({ dataDir });
  const store = EsdbEventStore.fromEndpoint(server.endpoint);
  try {
    return await work(store);
  } finally {
    await store.close();
    await server.close();
  }
}
