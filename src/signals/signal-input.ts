import { SEVERITIES, type Severity } from '../correlation/signal.js';
import { InvalidInput } from '../shared/errors.js';
import { alertmanagerInputs, isAlertmanagerPayload, payloadInfo, rfc3339, stringRecord, type AlertmanagerPayloadInfo, type SignalInput } from './alertmanager.js';
import type { JsonDocument } from './json-documents.js';
import type { SignalFact } from './signal-events.js';
import type { SourcesConfig } from './source-mapping.js';

/** The source of a signal in the project's own JSON that names none. */
export const DEFAULT_SIGNAL_SOURCE = 'opx';

/** Everything one JSON document held: its inputs, and what an Alertmanager body said of itself. */
export interface DocumentInputs {
  readonly inputs: readonly SignalInput[];
  readonly alertmanager?: AlertmanagerPayloadInfo;
}

/**
 * One JSON document as signal inputs: an Alertmanager webhook body (each alert on its own), a
 * signal in the project's JSON, or an array of either; a document that is neither is rejected,
 * and an unparseable one too, each alone, with its location.
 */
export function documentInputs(document: JsonDocument, sources: SourcesConfig): DocumentInputs {
  if (!document.ok) {
    return { inputs: [{ kind: 'rejected', source: DEFAULT_SIGNAL_SOURCE, location: document.location, problems: document.error.problems, input: null }] };
  }
  return valueInputs(document.value, sources, document.location);
}

export function valueInputs(value: unknown, sources: SourcesConfig, location: string): DocumentInputs {
  if (isAlertmanagerPayload(value)) return { inputs: alertmanagerInputs(value, sources.alertmanager, location), alertmanager: payloadInfo(value) };
  if (Array.isArray(value)) return { inputs: value.flatMap((item, i) => valueInputs(item, sources, `${location}[${i}]`).inputs) };
  return { inputs: [signalInput(value, location)] };
}

/**
 * A signal in the project's JSON: `{signalId, service, severity SEV1-4, fingerprint, observedAt,
 * labels?, annotations?, status? firing|resolved, endsAt? (resolved), source?, generatorUrl?}`.
 */
export function signalInput(raw: unknown, location: string): SignalInput {
  try {
    return { kind: 'fact', fact: signalFact(raw), location };
  } catch (error) {
    if (!(error instanceof InvalidInput)) throw error;
    const source = typeof raw === 'object' && raw !== null && typeof (raw as { source?: unknown }).source === 'string' ? (raw as { source: string }).source : DEFAULT_SIGNAL_SOURCE;
    return { kind: 'rejected', source: /^[A-Za-z0-9._:/-]{1,200}$/.test(source) ? source : DEFAULT_SIGNAL_SOURCE, location, problems: error.problems, input: raw };
  }
}

const KNOWN = new Set(['signalId', 'service', 'severity', 'fingerprint', 'observedAt', 'labels', 'annotations', 'status', 'endsAt', 'source', 'generatorUrl']);

function signalFact(raw: unknown): SignalFact {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidInput('signal', ['expected a signal object or an Alertmanager webhook body (version "4" with alerts)']);
  const r = raw as Record<string, unknown>;
  const problems: string[] = Object.keys(r)
    .filter((key) => !KNOWN.has(key))
    .map((key) => `${key} is not a signal field (${[...KNOWN].join(', ')})`);
  const text = (field: string, max: number, pattern?: RegExp, hint?: string): string | undefined => {
    const value = r[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > max) problems.push(`${field} must be a non-empty string of at most ${max} characters`);
    else if (pattern !== undefined && !pattern.test(value)) problems.push(`${field} ${hint ?? 'has characters it may not have'}`);
    else return value;
    return undefined;
  };
  const signalId = text('signalId', 200);
  const service = text('service', 200, /^[A-Za-z0-9._:/-]+$/, 'may only contain letters, digits and . _ : / -');
  const fingerprint = text('fingerprint', 500);
  const severity = r['severity'];
  if (!(SEVERITIES as readonly unknown[]).includes(severity)) problems.push(`severity must be one of ${SEVERITIES.join(', ')}`);
  const observedAt = rfc3339(r['observedAt'], 'observedAt', problems);
  const status = r['status'] ?? 'firing';
  if (status !== 'firing' && status !== 'resolved') problems.push(`status must be 'firing' or 'resolved'`);
  const endsAt = status === 'resolved' ? rfc3339(r['endsAt'], 'endsAt (of a resolved signal)', problems) : undefined;
  if (status !== 'resolved' && r['endsAt'] !== undefined) problems.push('endsAt is only for a resolved signal');
  const labels = stringRecord(r['labels'] ?? {}, 'labels', problems, true);
  const annotations = stringRecord(r['annotations'], 'annotations', problems, false);
  const source = r['source'] === undefined ? DEFAULT_SIGNAL_SOURCE : text('source', 200, /^[A-Za-z0-9._:/-]+$/, 'may only contain letters, digits and . _ : / -');
  const generatorUrl = r['generatorUrl'] === undefined ? undefined : text('generatorUrl', 2000);
  if (problems.length > 0 || signalId === undefined || service === undefined || fingerprint === undefined || observedAt === undefined || labels === undefined || source === undefined) {
    throw new InvalidInput('signal', problems);
  }
  return {
    signalId,
    source,
    status: status as SignalFact['status'],
    fingerprint,
    service,
    severity: severity as Severity,
    observedAt,
    ...(endsAt === undefined ? {} : { endsAt }),
    labels,
    annotations: annotations ?? {},
    ...(generatorUrl === undefined ? {} : { generatorUrl }),
  };
}
