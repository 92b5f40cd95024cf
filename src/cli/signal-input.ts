import { parseSignal, type Severity, type Signal } from '../correlation/signal.js';
import { parseUntrustedJson } from '../shared/canonical-json.js';
import { InvalidInput } from '../shared/errors.js';

/** One rejected input, located for a person: `line 7`, `line 3 alerts[2]`, `element 4`. */
export interface RejectedInput {
  readonly location: string;
  readonly line: number;
  readonly problems: readonly string[];
}

export interface ParsedSignalFile {
  readonly signals: readonly Signal[];
  readonly rejected: readonly RejectedInput[];
  /** How many inputs were Alertmanager webhook payloads (and how many alerts they held). */
  readonly alertmanagerPayloads: number;
  readonly alertmanagerAlerts: number;
}

const LINE_LIMITS = { maxBytes: 1024 * 1024, maxDepth: 16 };

/**
 * Reads a signal file in full before anything is written: JSON lines, each a signal or a
 * Prometheus Alertmanager webhook payload (`{"version":"4","alerts":[...]}`); a file holding a
 * single (possibly pretty-printed) JSON document, an object or an array of them, is read the
 * same way. Every bad input is reported with its line number; the caller appends nothing
 * unless `rejected` is empty.
 */
export function parseSignalFile(text: string): ParsedSignalFile {
  const signals: Signal[] = [];
  const rejected: RejectedInput[] = [];
  let alertmanagerPayloads = 0;
  let alertmanagerAlerts = 0;

  const accept = (raw: unknown, location: string, line: number): void => {
    if (isAlertmanagerPayload(raw)) {
      alertmanagerPayloads++;
      raw.alerts.forEach((alert, i) => {
        alertmanagerAlerts++;
        const where = `${location} alerts[${i}]`;
        try {
          signals.push(signalFromAlert(alert, where));
        } catch (error) {
          rejected.push({ location: where, line, problems: problemsOf(error) });
        }
      });
      return;
    }
    try {
      signals.push(parseSignal(raw, location));
    } catch (error) {
      rejected.push({ location, line, problems: problemsOf(error) });
    }
  };

  const document = wholeDocument(text);
  if (document !== undefined) {
    const items = Array.isArray(document) ? document : [document];
    items.forEach((item, i) => accept(item, Array.isArray(document) ? `element ${i + 1}` : 'document', 1));
    return { signals, rejected, alertmanagerPayloads, alertmanagerAlerts };
  }

  text.split('\n').forEach((content, index) => {
    const line = index + 1;
    if (content.trim() === '') return;
    let raw: unknown;
    try {
      raw = parseUntrustedJson(content, `line ${line}`, LINE_LIMITS);
    } catch (error) {
      rejected.push({ location: `line ${line}`, line, problems: problemsOf(error) });
      return;
    }
    accept(raw, `line ${line}`, line);
  });
  return { signals, rejected, alertmanagerPayloads, alertmanagerAlerts };
}

/** A file that is one JSON document spread over several lines (a saved webhook body). */
function wholeDocument(text: string): unknown {
  const nonEmpty = text.split('\n').filter((l) => l.trim() !== '');
  if (nonEmpty.length < 2) return undefined;
  try {
    return parseUntrustedJson(text, 'file', { maxBytes: 64 * 1024 * 1024, maxDepth: 16 });
  } catch {
    return undefined;
  }
}

interface AlertmanagerPayload {
  readonly version: '4';
  readonly alerts: readonly unknown[];
}

/** Detected by shape: Alertmanager's webhook body is `version: "4"` with an `alerts` array. */
export function isAlertmanagerPayload(raw: unknown): raw is AlertmanagerPayload {
  return typeof raw === 'object' && raw !== null && (raw as { version?: unknown }).version === '4' && Array.isArray((raw as { alerts?: unknown }).alerts);
}

/** labels.severity -> OPX severity: critical SEV1, error/major SEV2, warning SEV3, anything else SEV4. */
export function severityOfAlert(severity: string | undefined): Severity {
  switch ((severity ?? '').toLowerCase()) {
    case 'critical':
      return 'SEV1';
    case 'error':
    case 'major':
      return 'SEV2';
    case 'warning':
      return 'SEV3';
    default:
      return 'SEV4';
  }
}

/**
 * One Alertmanager alert as a signal: service from labels.service or labels.job, fingerprint
 * from the alert's fingerprint, observedAt from startsAt, and signalId from fingerprint and
 * startsAt (the same firing reported again, e.g. when it resolves, is the same signal).
 */
export function signalFromAlert(alert: unknown, subject: string): Signal {
  const problems: string[] = [];
  if (typeof alert !== 'object' || alert === null || Array.isArray(alert)) throw new InvalidInput(subject, ['expected an alert object']);
  const { labels, fingerprint, startsAt } = alert as { labels?: unknown; fingerprint?: unknown; startsAt?: unknown };
  const labelMap: Record<string, string> = {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) problems.push('labels must be an object');
  else
    for (const [key, value] of Object.entries(labels)) {
      if (typeof value === 'string') labelMap[key] = value;
      else problems.push(`labels.${key} must be a string`);
    }
  const service = labelMap['service'] ?? labelMap['job'];
  if (service === undefined) problems.push('labels.service or labels.job is required (the service)');
  if (typeof fingerprint !== 'string' || fingerprint === '') problems.push('fingerprint must be a non-empty string');
  let observedAt: string | undefined;
  if (typeof startsAt !== 'string' || Number.isNaN(Date.parse(startsAt))) problems.push('startsAt must be an RFC 3339 time');
  else observedAt = new Date(Date.parse(startsAt)).toISOString();
  if (problems.length > 0 || service === undefined || observedAt === undefined || typeof fingerprint !== 'string') {
    throw new InvalidInput(subject, problems);
  }
  return parseSignal(
    { signalId: `${fingerprint}@${observedAt}`, service, severity: severityOfAlert(labelMap['severity']), fingerprint, observedAt, labels: labelMap },
    subject,
  );
}

function problemsOf(error: unknown): string[] {
  if (error instanceof InvalidInput) return [...error.problems];
  return [error instanceof Error ? error.message.replace(/^Invalid [^:]+: /, '') : String(error)];
}
