import type { Signal } from '../correlation/signal.js';

/**
 * A deterministic sample of operational signals (a seeded generator, so the same options give
 * the same signals byte for byte): bursts across services and severities that, under the
 * bundled rules and policies, produce PROMOTE, DEFER and SUPPRESS decisions.
 */
export function generateSampleSignals(options: { readonly groups: number; readonly seed?: number; readonly start?: string }): Signal[] {
  const random = seededRandom(options.seed ?? 42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const start = Date.parse(options.start ?? '2026-03-01T00:00:00.000Z');
  const services = ['search-api', 'inventory', 'edge-proxy', 'auth', 'payments-api', 'checkout', 'batch-reports', 'log-shipper'];
  const severities = ['SEV1', 'SEV2', 'SEV2', 'SEV3', 'SEV3', 'SEV4'] as const;
  const alerts = ['HighErrorRate', 'LatencyP99', 'PodCrashLooping', 'DiskPressure', 'CertExpiry'];
  const signals: Signal[] = [];
  for (let g = 0; g < options.groups; g++) {
    const service = pick(services);
    const severity = pick(severities);
    const alertname = pick(alerts);
    const groupStart = start + g * 10 * 60 * 1000; // one group per 10 minutes: distinct windows
    const size = 1 + Math.floor(random() * 6);
    for (let i = 0; i < size; i++) {
      const observedAt = new Date(groupStart + i * 20 * 1000).toISOString();
      signals.push({
        signalId: `sig-${g.toString().padStart(5, '0')}-${i}`,
        service,
        severity,
        fingerprint: `${service}:${alertname}`,
        observedAt,
        labels: { alertname, region: pick(['eu-west-1', 'us-east-1']) },
      });
    }
  }
  return signals;
}

/** A seeded generator (mulberry32): the same seed gives the same sequence on every run and host. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
