import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Real processes for the worker's integration tests and benchmark: the store and workers. */

const DIST = fileURLToPath(new URL('../../../', import.meta.url));
export const SERVER_MAIN = `${DIST}src/esdb-server/main.js`;
export const WORKER_MAIN = `${DIST}src/worker/main.js`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A bounded poll loop: resolves when `condition` holds, rejects after `timeoutMs`. */
export async function waitFor<T>(
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  options: { readonly timeoutMs: number; readonly intervalMs?: number; readonly description: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.description}${lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}

/** A child process whose stdout lines are kept (JSON lines parsed when they parse). */
export class ManagedProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  #listeners: Array<(line: string) => void> = [];

  constructor(readonly name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.#child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let pending = '';
    this.#child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let at: number;
      while ((at = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, at);
        pending = pending.slice(at + 1);
        this.lines.push(line);
        if (this.lines.length > 5_000) this.lines.splice(0, 1_000);
        for (const listener of this.#listeners) listener(line);
      }
    });
    let stderr = '';
    this.#child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
    });
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    this.stderr = () => stderr;
  }

  readonly stderr: () => string;

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The first stdout line (past or future) that `predicate` accepts. */
  waitForLine(predicate: (line: string) => boolean, timeoutMs = 15_000): Promise<string> {
    const seen = this.lines.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners = this.#listeners.filter((l) => l !== listener);
        reject(new Error(`${this.name}: no matching output within ${timeoutMs} ms; stderr: ${this.stderr().slice(-2_000)}`));
      }, timeoutMs);
      const listener = (line: string): void => {
        if (!predicate(line)) return;
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== listener);
        resolve(line);
      };
      this.#listeners.push(listener);
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited before the expected output; stderr: ${this.stderr().slice(-2_000)}`));
      });
    });
  }

  /** Sends `signal` and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.running) this.#child.kill(signal);
    return this.exited;
  }
}

export interface StoreProcess {
  readonly process: ManagedProcess;
  readonly port: number;
  readonly connectionString: string;
}

/** The embedded EventStoreDB-protocol server as its own process (`--data DIR` = SQLite). */
export async function startStoreProcess(options: { readonly port: number; readonly dataDir?: string }): Promise<StoreProcess> {
  const args = [SERVER_MAIN, '--port', String(options.port), '--insecure', ...(options.dataDir === undefined ? ['--memory'] : ['--data', options.dataDir])];
  // The port may still be held briefly by the previous process: retry a few times.
  for (let attempt = 0; ; attempt++) {
    const child = new ManagedProcess(`store:${options.port}`, args);
    try {
      await child.waitForLine((line) => line.includes('listening'), 15_000);
      return { process: child, port: options.port, connectionString: `esdb://127.0.0.1:${options.port}?tls=false` };
    } catch (error) {
      await child.kill();
      if (attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export interface WorkerProcessOptions {
  readonly connection: string;
  readonly group?: string;
  readonly concurrency?: number;
  readonly httpPort?: number;
  readonly maxRetryCount?: number;
  readonly messageTimeoutMs?: number;
  readonly logLevel?: string;
  /** false: `--no-seal` */
  readonly seal?: boolean;
  /** false: `--no-correlation` */
  readonly correlation?: boolean;
  /** Node's own options before the script (`--cpu-prof`, ...). */
  readonly nodeOptions?: readonly string[];
}

/** `node dist/src/worker/main.js ...`; resolves once it logged "worker started". */
export async function startWorkerProcess(name: string, options: WorkerProcessOptions): Promise<ManagedProcess> {
  const args = [
    ...(options.nodeOptions ?? []),
    WORKER_MAIN,
    '--connection',
    options.connection,
    '--http-port',
    String(options.httpPort ?? 0),
    ...(options.group === undefined ? [] : ['--group', options.group]),
    ...(options.concurrency === undefined ? [] : ['--concurrency', String(options.concurrency)]),
    ...(options.maxRetryCount === undefined ? [] : ['--max-retry-count', String(options.maxRetryCount)]),
    ...(options.messageTimeoutMs === undefined ? [] : ['--message-timeout-ms', String(options.messageTimeoutMs)]),
    ...(options.seal === false ? ['--no-seal'] : []),
    ...(options.correlation === false ? ['--no-correlation'] : []),
  ];
  const child = new ManagedProcess(name, args, { OPX_LOG_LEVEL: options.logLevel ?? 'info' });
  // several workers starting at once on a loaded 2-core machine take seconds apiece
  await child.waitForLine((line) => line.includes('worker started'), 60_000);
  return child;
}

export { seededRandom } from '../../../src/samples/sample-signals.js';
