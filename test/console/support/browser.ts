import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium, type BrowserContext, type Page } from 'playwright-core';

import { newToken, tokenHash } from '../../../src/principals/principals.js';
import { OPX_BIN } from '../../cli/opx-cli.js';

/** Debian's chromium, installed by .ci/run (never a browser downloaded by a test tool). */
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Where screenshots go: a test artifact, never committed (.gitignore). */
export const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/console/', import.meta.url));

/** A browser with a fresh profile; each `context` is a separate cookie jar (another person). */
export class TestBrowser {
  private constructor(
    private readonly profile: string,
    readonly first: BrowserContext,
  ) {}

  static async launch(): Promise<TestBrowser> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the console's browser tests run Debian's chromium (apt-get install chromium; .ci/run installs it)`);
    const profile = mkdtempSync(join(tmpdir(), 'opx-chromium-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 } });
    return new TestBrowser(profile, context);
  }

  /** Another person at the same browser: a context of its own (its own cookies). */
  async context(options: { readonly viewport?: { width: number; height: number }; readonly deviceScaleFactor?: number } = {}): Promise<BrowserContext> {
    const browser = this.first.browser();
    if (browser === null) throw new Error('no browser behind the persistent context');
    return browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, ...(options.deviceScaleFactor === undefined ? {} : { deviceScaleFactor: options.deviceScaleFactor }) });
  }

  async close(): Promise<void> {
    await this.first.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export const PEOPLE = { alice: newToken(), bob: newToken(), ingest: newToken() };

/** `opx serve` as an operator runs it, over the store at `connection`, with alice (operator), bob (on call) and an ingest sender. */
export class ServedConsole {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    private readonly dir: string,
    readonly exited: Promise<number | null>,
    private readonly stderr: () => string,
  ) {}

  /** What the process has written to stderr so far. */
  get log(): string {
    return this.stderr();
  }

  static start(connection: string): Promise<ServedConsole> {
    const dir = mkdtempSync(join(tmpdir(), 'opx-console-'));
    const principals = join(dir, 'principals.json');
    const principal = (name: string, roles: string[], token: string) => ({ name, roles, credentials: [{ kind: 'token', sha256: tokenHash(token) }] });
    writeFileSync(principals, JSON.stringify({ version: '1', principals: [principal('alice', ['HUMAN_OPERATOR'], PEOPLE.alice), principal('bob', ['ON_CALL_RESPONDER'], PEOPLE.bob), principal('alertmanager', ['ingest'], PEOPLE.ingest)] }), { mode: 0o600 });
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [OPX_BIN, '--json', '--connection', connection, 'serve', '--port', '0', '--principals', principals], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OPX_LOG_LEVEL: 'warn' } });
      const exited = new Promise<number | null>((done) => child.on('exit', done));
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.includes('"event":"listening"'));
        if (line !== undefined) resolve(new ServedConsole(child, (JSON.parse(line) as { url: string }).url, dir, exited, () => err));
      });
      void exited.then((code) => reject(new Error(`opx serve exited with ${code}: ${err}`)));
    });
  }

  /** The operator API as a bearer-token client (the CLI's way), as one of the principals. */
  async api<T = Record<string, unknown>>(who: keyof typeof PEOPLE, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const response = await fetch(`${this.url}${path}`, { method, headers: { authorization: `Bearer ${PEOPLE[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: response.status, json: (await response.json()) as T };
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    const code = await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
    return code;
  }
}

export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
