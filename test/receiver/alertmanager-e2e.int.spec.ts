/**
 * End to end with the real peers: Debian's Prometheus and Alertmanager (installed by .ci/run) on
 * loopback, rules that fire, repeat, flap and resolve (test/support/prometheus.ts), Alertmanager's
 * webhook pointed at `opx serve` with a bearer token, exactly as a user configures it. Then the
 * incidents, the deferred queue and the resolved state that result.
 */
import { spawn, type ChildProcess } from 'node:child_process';

import { expect } from 'chai';

import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import { newToken } from '../../src/principals/principals.js';
import { OPX_BIN, opx, tempDir } from '../cli/opx-cli.js';
import { peersInstalled, startPeers, type RunningPeers } from '../support/prometheus.js';

interface IncidentRow {
  readonly title?: string;
  readonly service: string;
  readonly alerts?: { readonly firing: number; readonly resolved: number };
}

describe('Prometheus -> Alertmanager -> opx serve (real peers, end to end)', function () {
  this.timeout(180_000);
  let store: EmbeddedServer;
  let served: ChildProcess | undefined;
  let peers: RunningPeers | undefined;
  const token = newToken();
  const cwd = tempDir('e2e');

  before(async function () {
    if (!peersInstalled()) {
      // .ci/run installs them; a developer machine without them skips, and says so.
      console.log('    (prometheus and prometheus-alertmanager are not installed: apt-get install prometheus prometheus-alertmanager)');
      this.skip();
    }
    store = await startEmbeddedServer({ insecure: true });
    const url = await new Promise<string>((resolve, reject) => {
      served = spawn(process.execPath, [OPX_BIN, '--connection', store.connectionString, '--json', 'serve', '--port', '0'], {
        env: { ...process.env, OPX_INGEST_TOKEN: token, OPX_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      served.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.includes('"event":"listening"'));
        if (line !== undefined) resolve((JSON.parse(line) as { url: string }).url);
      });
      served.on('exit', (code) => reject(new Error(`opx serve exited with ${code}`)));
    });
    peers = await startPeers({ url: `${url}/api/v1/alerts/alertmanager`, bearerToken: token });
  });

  after(async () => {
    await peers?.stop();
    served?.kill('SIGTERM');
    await store?.close();
  });

  const incidents = async (): Promise<IncidentRow[]> => (await opx(['--connection', store.connectionString, '--json', 'incidents', 'list'], { cwd })).json<{ incidents: IncidentRow[] }>().incidents;
  const deferred = async (): Promise<Array<{ title?: string; service: string }>> => (await opx(['--connection', store.connectionString, '--json', 'candidates', 'deferred'], { cwd })).json<{ deferred: Array<{ title?: string; service: string }> }>().deferred;

  it('opens one incident per critical problem (steady, flapping, resolving), defers the flapping warning, shows the resolved one resolved', async () => {
    // Rules fire within seconds (group_wait 1s); the batch alert resolves 20 s after start; the flapping ones need a few cycles.
    let rows: IncidentRow[] = [];
    for (let i = 0; i < 90; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      rows = await incidents();
      const batch = rows.find((r) => r.service === 'batch-reports');
      if (rows.length >= 3 && batch?.alerts !== undefined && batch.alerts.resolved >= batch.alerts.firing && (await deferred()).length >= 1) break;
    }
    expect(rows.map((r) => r.title).sort()).to.deep.equal(['BatchJobFailed: nightly batch failed', 'CheckoutDown: checkout is down', 'PaymentsFlapping: payments latency spikes']);
    const batch = rows.find((r) => r.service === 'batch-reports');
    expect(batch?.alerts).to.deep.equal({ firing: 1, resolved: 1 });
    const steady = rows.find((r) => r.service === 'checkout');
    expect(steady?.alerts).to.deep.equal({ firing: 1, resolved: 0 });
    expect((await deferred()).map((d) => d.title)).to.deep.equal(['DiskFillingUp: disk 85% full']);
    // Watchdog and the alert without a service label were acknowledged (ignored, rejected), never retried into errors.
    const watchdog = await opx(['--connection', store.connectionString, '--json', 'replay'], { cwd });
    expect(watchdog.json<{ verdict: string }>().verdict).to.equal('IDENTICAL');
  });
});
