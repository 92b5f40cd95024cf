import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';

/**
 * One in-memory embedded server per test run, started lazily by the first caller.
 *
 * Closing: importing this module registers a root-level mocha `after()` hook (mocha runs
 * top-level hooks of spec-loaded modules as root hooks), so the server closes once at the end of
 * the run. `.mocharc.json` requires only dist/test/setup.js, so a `mochaHooks` export would not
 * be picked up. Outside mocha, call {@link closeSharedEmbeddedServer} yourself.
 * Tests never wipe the store: each uses fresh stream ids.
 */
let shared: Promise<EmbeddedServer> | undefined;

export function sharedEmbeddedServer(): Promise<EmbeddedServer> {
  shared ??= startEmbeddedServer({ insecure: true });
  return shared;
}

export async function closeSharedEmbeddedServer(): Promise<void> {
  const current = shared;
  shared = undefined;
  if (current !== undefined) await (await current).close();
}

if (typeof after === 'function') {
  after(closeSharedEmbeddedServer);
}
