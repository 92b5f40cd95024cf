/**
 * A deterministic Alertmanager alert stream for the correlation bench, shaped like a real one
 * rather than like the sample scenario (whose ~40 fingerprints put every signal in a handful of
 * groups held in memory forever, with 82 candidates in 29,000 facts: the cheapest case there is).
 *
 * What a Prometheus + Alertmanager fleet sends: thousands of distinct alerts (one per rule and
 * label set: alertname x job x instance/pod), few of them noisy and most rare (a Zipf-like share:
 * the noisy ones flap, firing and resolving within minutes, the rare ones fire once and stay firing
 * for hours), each firing identified by `<fingerprint>@<startsAt>` and later resolved by a fact
 * with the same identity and an `endsAt`; labels (alertname, severity, job, instance, namespace,
 * pod), annotations (summary, description, runbook_url) and a generatorURL on every alert; arrival
 * up to 90 s after the event (group_wait and group_interval), so not in event-time order. Facts
 * go through the real Alertmanager mapping (`alertInput`, DEFAULT_SOURCES), as ingest does.
 */
import { sha256Hex } from '../src/shared/ids.js';
import { seededRandom } from '../src/samples/sample-signals.js';
import { alertInput } from '../src/signals/alertmanager.js';
import type { SignalFact } from '../src/signals/signal-events.js';
import { DEFAULT_SOURCES } from '../src/signals/source-mapping.js';

export interface AlertStreamOptions {
  /** Facts to produce (firings and resolutions). */
  readonly facts: number;
  /** Distinct alerts (fingerprints) in the fleet. Default 5,000. */
  readonly alerts?: number;
  readonly seed?: number;
}

const ALERTNAMES: ReadonlyArray<readonly [string, string]> = [
  ['TargetDown', 'critical'],
  ['HighErrorRate', 'critical'],
  ['ServiceUnavailable', 'critical'],
  ['PodCrashLooping', 'warning'],
  ['KubePodNotReady', 'warning'],
  ['HighLatencyP99', 'warning'],
  ['NodeFilesystemSpaceFillingUp', 'warning'],
  ['NodeMemoryPressure', 'warning'],
  ['CPUThrottlingHigh', 'info'],
  ['KubeDeploymentReplicasMismatch', 'warning'],
  ['CertificateExpiringSoon', 'warning'],
  ['DiskIOSaturation', 'warning'],
  ['QueueBacklogGrowing', 'error'],
  ['ReplicationLagHigh', 'error'],
  ['TooManyRestarts', 'warning'],
  ['ErrorBudgetBurn', 'critical'],
  ['KubeJobFailed', 'warning'],
  ['NetworkReceiveErrors', 'info'],
  ['ConfigReloadFailed', 'warning'],
  ['ClockSkewDetected', 'info'],
];

const JOBS = [
  'payments-api',
  'checkout',
  'batch-reports',
  'log-shipper',
  'search-api',
  'inventory',
  'edge-proxy',
  'auth',
  ...Array.from({ length: 32 }, (_, i) => `svc-${i.toString().padStart(2, '0')}`),
];

interface Alert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly fingerprint: string;
  readonly generatorURL: string;
  startsAt: string | undefined;
}

/** The fleet's alerts, each a fixed label set with Alertmanager's 16-hex fingerprint of it. */
function fleet(count: number, random: () => number): Alert[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  return Array.from({ length: count }, (_, i) => {
    const [alertname, severity] = pick(ALERTNAMES);
    const job = pick(JOBS);
    const labels = {
      alertname,
      severity,
      job,
      namespace: `ns-${job}`,
      instance: `10.${i >> 8}.${i & 255}.${Math.floor(random() * 250)}:9100`,
      pod: `${job}-${sha256Hex(`pod${i}`).slice(0, 10)}`,
    };
    return {
      labels,
      annotations: {
        summary: `${alertname} on ${labels.instance}`,
        description: `${alertname} has been active on ${job} (${labels.pod}) for more than 2 minutes.`,
        runbook_url: `https://runbooks.example/${alertname.toLowerCase()}`,
      },
      fingerprint: sha256Hex(JSON.stringify(labels)).slice(0, 16),
      generatorURL: `http://prometheus:9090/graph?g0.expr=${encodeURIComponent(`${alertname}{job="${job}"}`)}&g0.tab=1`,
      startsAt: undefined,
    };
  });
}

/** The facts in arrival order (the order they are recorded in). */
export function alertStream(options: AlertStreamOptions): SignalFact[] {
  const random = seededRandom(options.seed ?? 7);
  const alerts = fleet(options.alerts ?? 5_000, random);
  // Zipf-like activity (weight 1/(rank+1)): a few alerts flap, most are rare.
  const cumulative: number[] = [];
  let total = 0;
  for (let i = 0; i < alerts.length; i++) cumulative.push((total += 1 / (i + 1)));
  const pickAlert = (): Alert => {
    const x = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return alerts[lo] as Alert;
  };
  const arriving: Array<{ readonly at: number; readonly fact: SignalFact }> = [];
  let now = Date.parse('2026-06-01T00:00:00.000Z');
  while (arriving.length < options.facts) {
    now += Math.floor(-Math.log(1 - random()) * 1_500); // a fact every 1.5 s on average
    const alert = pickAlert();
    const at = new Date(now).toISOString();
    const body = alert.startsAt === undefined ? { status: 'firing', startsAt: at } : { status: 'resolved', startsAt: alert.startsAt, endsAt: at };
    alert.startsAt = alert.startsAt === undefined ? at : undefined;
    const input = alertInput(
      { ...body, labels: alert.labels, annotations: alert.annotations, generatorURL: alert.generatorURL, fingerprint: alert.fingerprint },
      DEFAULT_SOURCES.alertmanager,
      'bench',
    );
    if (input.kind !== 'fact') throw new Error(`the bench stream made an input the mapping rejects: ${JSON.stringify(input)}`);
    arriving.push({ at: now + Math.floor(random() * 90_000), fact: input.fact });
  }
  return arriving.sort((a, b) => a.at - b.at).map((a) => a.fact);
}
