import { InvalidInput } from '../shared/errors.js';
import { ignoredBy, serviceOf, severityOf, type SourceMapping } from './source-mapping.js';
import type { SignalFact } from './signal-events.js';

/**
 * One input turned into what is recorded: a signal fact (possibly one the mapping ignores), or a
 * rejection naming what is wrong with that input alone.
 */
export type SignalInput =
  | { readonly kind: 'fact'; readonly fact: SignalFact; readonly location: string; readonly ignoredBy?: string }
  | { readonly kind: 'rejected'; readonly source: string; readonly location: string; readonly problems: readonly string[]; readonly input: unknown };

/** What an Alertmanager webhook body says beyond its alerts. */
export interface AlertmanagerPayloadInfo {
  readonly receiver?: string;
  readonly groupKey?: string;
  /** Alerts Alertmanager left out of this body (its `max_alerts`): they are not in `alerts`. */
  readonly truncatedAlerts: number;
}

interface AlertmanagerPayload {
  readonly version: '4';
  readonly alerts: readonly unknown[];
}

/** Detected by shape: Alertmanager's webhook body (version 4, as 0.25+ sends it) has `alerts`. */
export function isAlertmanagerPayload(raw: unknown): raw is AlertmanagerPayload {
  return typeof raw === 'object' && raw !== null && (raw as { version?: unknown }).version === '4' && Array.isArray((raw as { alerts?: unknown }).alerts);
}

export function payloadInfo(payload: AlertmanagerPayload): AlertmanagerPayloadInfo {
  const { receiver, groupKey, truncatedAlerts } = payload as { receiver?: unknown; groupKey?: unknown; truncatedAlerts?: unknown };
  return {
    ...(typeof receiver === 'string' ? { receiver } : {}),
    ...(typeof groupKey === 'string' ? { groupKey } : {}),
    truncatedAlerts: typeof truncatedAlerts === 'number' && Number.isInteger(truncatedAlerts) && truncatedAlerts > 0 ? truncatedAlerts : 0,
  };
}

/** Every alert of a webhook body, each accepted, ignored or rejected on its own. */
export function alertmanagerInputs(payload: AlertmanagerPayload, mapping: SourceMapping, location = ''): SignalInput[] {
  return payload.alerts.map((alert, i) => alertInput(alert, mapping, `${location}${location === '' ? '' : ' '}alerts[${i}]`));
}

/**
 * One Alertmanager alert: its fingerprint and startsAt are its identity (signalId
 * `<fingerprint>@<startsAt>`, the same for the firing and its resolution), its status says which
 * fact it is, the mapping gives service and severity, and its labels, annotations and generator
 * URL travel with it.
 */
export function alertInput(alert: unknown, mapping: SourceMapping, location: string): SignalInput {
  try {
    // Ignored alerts (Watchdog) are matched first: they need no service to be recorded as ignored.
    const labels = typeof alert === 'object' && alert !== null ? (alert as { labels?: unknown }).labels : undefined;
    const ignored = typeof labels === 'object' && labels !== null && !Array.isArray(labels) ? ignoredBy(labels as Record<string, string>, mapping) : undefined;
    const fact = alertFact(alert, mapping, ignored !== undefined);
    return ignored === undefined ? { kind: 'fact', fact, location } : { kind: 'fact', fact, location, ignoredBy: ignored };
  } catch (error) {
    if (!(error instanceof InvalidInput)) throw error;
    return { kind: 'rejected', source: mapping.source, location, problems: error.problems, input: alert };
  }
}

/** An ignored alert names no service of its own when none of the service labels is set. */
const NO_SERVICE = 'none';

function alertFact(alert: unknown, mapping: SourceMapping, ignored: boolean): SignalFact {
  if (typeof alert !== 'object' || alert === null || Array.isArray(alert)) throw new InvalidInput('alert', ['expected an alert object']);
  const raw = alert as Record<string, unknown>;
  const problems: string[] = [];
  const labels = stringRecord(raw['labels'], 'labels', problems, true);
  const annotations = stringRecord(raw['annotations'], 'annotations', problems, false);
  const fingerprint = raw['fingerprint'];
  if (typeof fingerprint !== 'string' || fingerprint === '' || fingerprint.length > 500) problems.push('fingerprint must be a non-empty string (at most 500 characters)');
  const status = raw['status'] ?? 'firing';
  if (status !== 'firing' && status !== 'resolved') problems.push(`status must be 'firing' or 'resolved', got ${JSON.stringify(status)}`);
  const startsAt = rfc3339(raw['startsAt'], 'startsAt', problems);
  const endsAt = status === 'resolved' ? rfc3339(raw['endsAt'], 'endsAt (of a resolved alert)', problems) : undefined;
  if (startsAt !== undefined && endsAt !== undefined && endsAt < startsAt) problems.push('endsAt is before startsAt');
  const generatorUrl = raw['generatorURL'];
  if (generatorUrl !== undefined && (typeof generatorUrl !== 'string' || generatorUrl.length > 2000)) problems.push('generatorURL must be a string (at most 2000 characters)');
  const service = labels === undefined ? undefined : (serviceOf(labels, mapping) ?? (ignored ? NO_SERVICE : undefined));
  if (labels !== undefined && service === undefined) problems.push(`no service label: none of ${mapping.serviceLabels.join(', ')} is set`);
  if (service !== undefined && !/^[A-Za-z0-9._:/-]{1,200}$/.test(service)) problems.push(`the service label value '${service.slice(0, 60)}' may only contain letters, digits and . _ : / - (at most 200)`);
  if (problems.length > 0 || labels === undefined || service === undefined || startsAt === undefined || typeof fingerprint !== 'string') throw new InvalidInput('alert', problems);
  return {
    signalId: `${fingerprint}@${startsAt}`,
    source: mapping.source,
    status: status as SignalFact['status'],
    fingerprint,
    service,
    severity: severityOf(labels, mapping),
    observedAt: startsAt,
    ...(endsAt === undefined ? {} : { endsAt }),
    labels,
    annotations: annotations ?? {},
    ...(typeof generatorUrl === 'string' && generatorUrl !== '' ? { generatorUrl } : {}),
  };
}

/** A string -> string map of at most 64 entries; problems named with the field. */
export function stringRecord(value: unknown, field: string, problems: string[], required: boolean): Record<string, string> | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${field} must be an object of strings`);
    return undefined;
  }
  const out: Record<string, string> = {};
  const entries = Object.entries(value);
  if (entries.length > 64) problems.push(`${field} has ${entries.length} entries (at most 64)`);
  for (const [key, item] of entries) {
    if (typeof item !== 'string') problems.push(`${field}.${key} must be a string`);
    else if (item.length > 4096) problems.push(`${field}.${key} is longer than 4096 characters`);
    else out[key] = item;
  }
  return out;
}

/** An RFC 3339 time as ISO 8601 UTC with milliseconds; a problem named when it is not one. */
export function rfc3339(value: unknown, field: string, problems: string[]): string | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    problems.push(`${field} must be an RFC 3339 time with a zone, got ${JSON.stringify(value)?.slice(0, 60)}`);
    return undefined;
  }
  const ms = Date.parse(value);
  // Alertmanager's zero time (0001-01-01) means "unset": not a time an alert can start or end.
  if (Number.isNaN(ms) || ms < Date.UTC(1971, 0, 1)) {
    problems.push(`${field} is not a real time: ${value}`);
    return undefined;
  }
  return new Date(ms).toISOString();
}
