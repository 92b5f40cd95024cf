/**
 * The policy lock as an operator meets it: `opx process` and `opx worker` refuse to start under a
 * policy changed under its version (exit 1, the file, the version and both hashes named) and
 * decide nothing; `opx policies lock` and `opx policies check` keep and check the lock.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { loadConfig } from '../../src/container/config.js';
import { startEmbeddedServer } from '../../src/esdb-server/server.js';
import type { EventStore } from '../../src/eventstore/event-store.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';
import { importHistory } from '../../src/replay/history-file.js';
import { goldenHistoryLines } from '../support/golden.js';
import { POLICY_LOCK_FILE } from '../../src/promotion/policy-lock.js';
import { opx, tempDir, withDataDir } from '../cli/opx-cli.js';
import { driftedConfigDir } from './support/drifted-config.js';

const signal = (id: string, at: string): string => JSON.stringify({ signalId: id, service: 'auth', severity: 'SEV2', fingerprint: 'auth:LatencyP99', observedAt: at, labels: {} });

async function decided(store: EventStore): Promise<number> {
  let n = 0;
  for await (const e of store.readAll({ streamPrefixes: ['candidate-'] })) if (e.type === 'PromotionDecided') n++;
  return n;
}

describe('opx and the policy lock', function () {
  this.timeout(90_000);
  const approved = loadConfig().policies.get('standard-promotion', '1.0.0').hash;

  it('opx process refuses a policy changed under a locked version: exit 1, file, version and both hashes named, nothing decided', async () => {
    const cwd = tempDir('lock-process');
    const config = driftedConfigDir({ lock: true });
    const drifted = loadConfig(config).policies.get('standard-promotion', '1.0.0').hash;
    const data = join(cwd, 'data');
    expect((await opx(['store', 'init', data], { cwd })).code).to.equal(0);
    writeFileSync(join(cwd, 's.jsonl'), [signal('a-1', '2026-04-01T10:00:00Z'), signal('a-2', '2026-04-01T10:00:30Z')].join('\n'));
    expect((await opx(['--data', data, 'signals', 'ingest', join(cwd, 's.jsonl')], { cwd })).code).to.equal(0);
    const run = await opx(['--data', data, 'process'], { cwd, env: { OPX_CONFIG_DIR: config } });
    expect(run.code).to.equal(1);
    expect(run.stderr)
      .to.include('standard-promotion@1.0.0')
      .and.include(join(config, 'policies', 'standard-promotion@1.0.0.json'))
      .and.include(drifted)
      .and.include(approved)
      .and.include(join(config, POLICY_LOCK_FILE));
    expect(await withDataDir(data, decided)).to.equal(0);
    const check = await opx(['--data', data, 'policies', 'check'], { cwd, env: { OPX_CONFIG_DIR: config } });
    expect(check.code).to.equal(1);
    expect(check.stdout).to.match(/standard-promotion@1\.0\.0\s+\S+\s+CHANGED/);
    // The approved content decides (DEFER, as it was approved to).
    expect((await opx(['--data', data, 'process'], { cwd })).code).to.equal(0);
    expect(await withDataDir(data, decided)).to.equal(1);
  });

  it('opx process refuses, without a lock file, a policy whose content differs from what history decided under', async () => {
    const cwd = tempDir('history-process');
    const config = driftedConfigDir({ lock: false });
    const data = join(cwd, 'data');
    expect((await opx(['store', 'init', data], { cwd })).code).to.equal(0);
    writeFileSync(join(cwd, 'a.jsonl'), [signal('a-1', '2026-04-01T10:00:00Z'), signal('a-2', '2026-04-01T10:00:30Z')].join('\n'));
    writeFileSync(join(cwd, 'b.jsonl'), [signal('b-1', '2026-04-02T10:00:00Z'), signal('b-2', '2026-04-02T10:00:30Z')].join('\n'));
    expect((await opx(['--data', data, 'signals', 'ingest', join(cwd, 'a.jsonl')], { cwd })).code).to.equal(0);
    expect((await opx(['--data', data, 'process'], { cwd })).code).to.equal(0);
    expect((await opx(['--data', data, 'signals', 'ingest', join(cwd, 'b.jsonl')], { cwd })).code).to.equal(0);
    const run = await opx(['--data', data, 'process'], { cwd, env: { OPX_CONFIG_DIR: config } });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.include('history recorded decisions under sha256').and.include(approved).and.include(join(config, 'policies', 'standard-promotion@1.0.0.json'));
    expect(await withDataDir(data, decided)).to.equal(1);
  });

  it('opx worker refuses to start under a changed policy (exit 1, naming it)', async () => {
    const server = await startEmbeddedServer({ insecure: true });
    try {
      const config = driftedConfigDir({ lock: true });
      const run = await opx(['--connection', server.connectionString, 'worker', '--http-port', '0'], { cwd: tempDir('lock-worker'), env: { OPX_CONFIG_DIR: config }, killAfterMs: 30_000 });
      expect(run.code).to.equal(1);
      expect(run.stderr).to.include('standard-promotion@1.0.0').and.include(approved).and.include(POLICY_LOCK_FILE);
    } finally {
      await server.close();
    }
  });

  it('opx worker refuses to start, without a lock file, under a policy whose content differs from what history decided under', async () => {
    const server = await startEmbeddedServer({ insecure: true });
    const store = EsdbEventStore.fromConnectionString(server.connectionString);
    try {
      await importHistory(store, goldenHistoryLines());
      const config = driftedConfigDir({ lock: false });
      const run = await opx(['--connection', server.connectionString, 'worker', '--http-port', '0'], { cwd: tempDir('history-worker'), env: { OPX_CONFIG_DIR: config }, killAfterMs: 30_000 });
      expect(run.code).to.equal(1);
      expect(run.stderr).to.include('history recorded decisions under sha256').and.include(approved);
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('opx serve refuses to start, without a lock file, under a policy whose content differs from what history decided under', async () => {
    const server = await startEmbeddedServer({ insecure: true });
    const store = EsdbEventStore.fromConnectionString(server.connectionString);
    try {
      await importHistory(store, goldenHistoryLines());
      const config = driftedConfigDir({ lock: false });
      const run = await opx(['--connection', server.connectionString, 'serve', '--port', '0', '--insecure'], { cwd: tempDir('history-serve'), env: { OPX_CONFIG_DIR: config }, killAfterMs: 30_000 });
      expect(run.code).to.equal(1);
      expect(run.stderr).to.include('history recorded decisions under sha256').and.include(approved);
      const receiverOnly = await opx(['--connection', server.connectionString, 'serve', '--port', '0', '--insecure', '--receiver-only'], { cwd: tempDir('history-serve'), env: { OPX_CONFIG_DIR: config }, killAfterMs: 20_000 });
      expect(receiverOnly.stderr).to.not.include('history recorded decisions'); // a receiver decides nothing: it starts (and is stopped here)
      expect(receiverOnly.stdout).to.include('opx serve on');
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('opx policies lock adds new versions and refuses to re-lock a changed one; the lock file is left as it was', async () => {
    const cwd = tempDir('lock-command');
    const config = driftedConfigDir({ lock: true });
    const lockPath = join(config, POLICY_LOCK_FILE);
    const before = readFileSync(lockPath, 'utf8');
    const refused = await opx(['policies', 'lock'], { cwd, env: { OPX_CONFIG_DIR: config } });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include(approved);
    expect(readFileSync(lockPath, 'utf8')).to.equal(before);
    const fresh = driftedConfigDir({ lock: false });
    const locked = await opx(['--json', 'policies', 'lock'], { cwd, env: { OPX_CONFIG_DIR: fresh } });
    expect(locked.code, locked.stderr).to.equal(0);
    expect(locked.json<{ added: string[] }>().added).to.deep.equal(['payments-promotion@2.0.0', 'standard-promotion@1.0.0', 'standard-promotion@1.1.0']);
    expect(loadConfig(fresh).policyLock?.policies.size).to.equal(3);
  });
});
