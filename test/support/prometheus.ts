/**
 * Real Prometheus and Alertmanager (Debian's `prometheus` and `prometheus-alertmanager`, installed
 * by .ci/run) on loopback, with rules that fire, repeat, flap and resolve, and Alertmanager's
 * webhook pointed where the caller says. Used to capture webhook fixtures and by the end-to-end
 * receiver test. Nothing here binds anything but 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

export const peersInstalled = (): boolean => existsSync(PROMETHEUS_BIN) && existsSync(ALERTMANAGER_BIN);

/**
 * Alerting rules, evaluated every second, over constant and time-driven expressions (no scrape
 * target needed): a steady critical alert, a flapping one (15 s on, 15 s off), a flapping warning, an info
 * alert, one that resolves 20 s after start, one with no service label at all, and Watchdog.
 */
export function rulesYaml(startEpochSeconds: number): string {
  return `groups:
  - name: opx-test
    interval: 1s
    rules:
      - alert: CheckoutDown
        expr: vector(1)
        labels: { severity: critical, service: checkout }
        annotations: { summary: "checkout is down", description: "no healthy checkout pods", runbook_url: "https://runbooks.example/checkout-down" }
      - alert: PaymentsFlapping
        expr: (vector(time()) % 30) < 15
        labels: { severity: critical, service: payments-api }
        annotations: { summary: "payments latency spikes" }
      - alert: DiskFillingUp
        expr: (vector(time()) % 20) < 10
        labels: { severity: warning, service: inventory }
        annotations: { summary: "disk 85% full" }
      - alert: CertExpiresSoon
        expr: vector(1)
        labels: { severity: info, job: edge-proxy }
        annotations: { summary: "certificate expires in 20 days" }
      - alert: BatchJobFailed
        expr: vector(time()) < ${startEpochSeconds + 20}
        labels: { severity: critical, service: batch-reports }
        annotations: { summary: "nightly batch failed" }
      - alert: NoOwner
        expr: vector(1)
        labels: { severity: warning }
        annotations: { summary: "an alert with no service or job label" }
      - alert: Watchdog
        expr: vector(1)
        labels: { severity: none }
        annotations: { summary: "the alerting pipeline is alive" }
`;
}

export interface WebhookTarget {
  readonly url: string;
  /** Alertmanager's http_config.authorization bearer token, if any. */
  readonly bearerToken?: string;
}

export function alertmanagerYaml(target: WebhookTarget): string {
  const auth = target.bearerToken === undefined ? '' : `\n        http_config:\n          authorization:\n            type: Bearer\n            credentials: ${target.bearerToken}`;
  return `route:
  receiver: opx
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 6s
receivers:
  - name: opx
    webhook_configs:
      - url: ${target.url}
        send_resolved: true
        max_alerts: 0${auth}
`;
}

export interface RunningPeers {
  readonly prometheusPort: number;
  readonly alertmanagerPort: number;
  stop(): Promise<void>;
}

/** Starts Alertmanager, then Prometheus sending to it; both on loopback, in a temp dir of their own. */
export async function startPeers(target: WebhookTarget, startEpochSeconds = Math.floor(Date.now() / 1000)): Promise<RunningPeers> {
  const dir = mkdtempSync(join(tmpdir(), 'opx-peers-'));
  const alertmanagerPort = await freePort();
  const clusterPort = await freePort();
  const prometheusPort = await freePort();
  writeFileSync(join(dir, 'alertmanager.yml'), alertmanagerYaml(target));
  writeFileSync(join(dir, 'rules.yml'), rulesYaml(startEpochSeconds));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  evaluation_interval: 1s\nrule_files: [${JSON.stringify(join(dir, 'rules.yml'))}]\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:${alertmanagerPort}']\n`,
  );
  const alertmanager = spawn(
    ALERTMANAGER_BIN,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'am-data')}`,
      `--web.listen-address=127.0.0.1:${alertmanagerPort}`,
      `--cluster.listen-address=127.0.0.1:${clusterPort}`,
      '--cluster.advertise-address=127.0.0.1:' + clusterPort,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const prometheus = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'prom-data')}`,
      `--web.listen-address=127.0.0.1:${prometheusPort}`,
      '--rules.alert.resend-delay=1s',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const logs: string[] = [];
  for (const child of [alertmanager, prometheus]) child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  for (const [name, child] of [['alertmanager', alertmanager], ['prometheus', prometheus]] as const) {
    if (child.exitCode !== null) {
      await Promise.all([stopChild(prometheus), stopChild(alertmanager)]);
      throw new Error(`${name} exited with ${child.exitCode}: ${logs.join('').split('\n').filter((l) => /level=error/.test(l)).join('\n')}`);
    }
  }
  return {
    prometheusPort,
    alertmanagerPort,
    stop: async () => {
      await Promise.all([stopChild(prometheus), stopChild(alertmanager)]);
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  });
}

export function freePort(): Promise<number> {
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
