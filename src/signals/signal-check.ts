import type { RecordedEvent } from '../eventstore/event-store.js';
import { SEVERITIES } from '../correlation/signal.js';
import { signalCodec, type SignalEvent, type SignalFired, type SignalResolved } from './signal-events.js';

/**
 * The signal facts correlation reads, checked directly: every one of them is validated at the
 * serialization boundary (a worker reads them from the server, `opx process` from its data dir),
 * and through the codec (class-validator rules run by the schema plan, with the JSON safety walk
 * first) that check was ~40% of correlation's CPU per signal. This is the same check written out
 * for the shape a recorded fact has (string labels and annotations, times as `toISOString` writes
 * them). It only ever says "valid" or "ask the codec": anything it does not accept goes through
 * {@link signalCodec}, which decides and names the problem. `test/correlation/signal-check.unit.spec.ts`
 * holds it to class-validator on thousands of mutated payloads: it never accepts what the codec refuses.
 */
export function decodeCorrelatedSignal(recorded: RecordedEvent): SignalEvent {
  const { type, data, metadata } = recorded;
  if ((type === 'SignalFired' || type === 'SignalResolved') && isPlainSignalFact(data) && isPlainSignalMetadata(metadata)) {
    return { type, data, metadata } as unknown as SignalFired | SignalResolved;
  }
  return signalCodec.decode(recorded);
}

const FACT_KEYS = new Set([
  'signalId',
  'source',
  'status',
  'fingerprint',
  'service',
  'severity',
  'observedAt',
  'endsAt',
  'labels',
  'annotations',
  'generatorUrl',
]);
const METADATA_KEYS = new Set(['$correlationId', '$causationId', 'schemaVersion', 'receivedAt', 'channel', 'principal']);
const SOURCE = /^[A-Za-z0-9._:/-]+$/;
const SEVERITY_SET = new Set<unknown>(SEVERITIES);

/**
 * True only when class-validator's `Length(min, max)` holds. Its length counts a surrogate pair,
 * and a character followed by a presentation selector (U+FE0E/F), as one: it is at most the
 * string's length, at least a third of it, and at least 1 for a non-empty string (every unit it
 * takes off comes with one it keeps). A string too short to tell is left to class-validator.
 */
function fits(value: unknown, min: number, max: number): boolean {
  return typeof value === 'string' && value.length <= max && value.length >= min && (min <= 1 || value.length >= 3 * min);
}

/** A plain object whose keys are all its own, none of them forbidden, and every value a string. */
function isStringMap(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const map = value as Record<string, unknown>;
  for (const key in map) {
    if (!Object.prototype.hasOwnProperty.call(map, key) || key === '__proto__' || key === 'constructor' || key === 'prototype') return false;
    if (typeof map[key] !== 'string') return false;
  }
  return true;
}

/**
 * Only the schema's own keys. `for...in` rather than `Object.keys` (an array per fact read): it
 * lists inherited enumerable keys too, and the prototype, checked first, is Object.prototype, so
 * one found there (a polluted prototype) only sends the fact to the codec.
 */
function onlyKeys(value: object, keys: ReadonlySet<string>): boolean {
  for (const key in value) if (!keys.has(key)) return false;
  return true;
}

const digit = (text: string, at: number): number => {
  const c = text.charCodeAt(at) - 48;
  return c >= 0 && c <= 9 ? c : Number.NaN;
};
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/**
 * `isCanonicalIsoTime` (validation-plan.ts: `YYYY-MM-DDTHH:MM:SS.sssZ` naming a real instant,
 * years 100-9999), read digit by digit instead of by slices: the times of every fact go through
 * it. The unit test holds the two equal.
 */
export function isIsoTime(value: unknown): boolean {
  if (typeof value !== 'string' || value.length !== 24) return false;
  const v = value;
  if (
    v.charCodeAt(4) !== 45 ||
    v.charCodeAt(7) !== 45 ||
    v.charCodeAt(10) !== 84 ||
    v.charCodeAt(13) !== 58 ||
    v.charCodeAt(16) !== 58 ||
    v.charCodeAt(19) !== 46 ||
    v.charCodeAt(23) !== 90
  )
    return false;
  const year = digit(v, 0) * 1000 + digit(v, 1) * 100 + digit(v, 2) * 10 + digit(v, 3);
  const month = digit(v, 5) * 10 + digit(v, 6);
  const day = digit(v, 8) * 10 + digit(v, 9);
  const hour = digit(v, 11) * 10 + digit(v, 12);
  const minute = digit(v, 14) * 10 + digit(v, 15);
  const second = digit(v, 17) * 10 + digit(v, 18);
  const millis = digit(v, 20) + digit(v, 21) + digit(v, 22);
  // NaN (a non-digit) fails every comparison below.
  if (!(year >= 100 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59 && millis >= 0)) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 ? (leap ? 29 : 28) : (DAYS_IN_MONTH[month - 1] as number));
}

/** `SignalFactSchema` as class-validator applies it, for the shape a recorded fact has. */
export function isPlainSignalFact(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const d = value as Record<string, unknown>;
  return (
    onlyKeys(d, FACT_KEYS) &&
    fits(d['signalId'], 1, 600) &&
    fits(d['source'], 1, 200) &&
    SOURCE.test(d['source'] as string) &&
    (d['status'] === 'firing' || d['status'] === 'resolved') &&
    fits(d['fingerprint'], 1, 500) &&
    fits(d['service'], 1, 200) &&
    SEVERITY_SET.has(d['severity']) &&
    isIsoTime(d['observedAt']) &&
    (d['endsAt'] === undefined || isIsoTime(d['endsAt'])) &&
    isStringMap(d['labels']) &&
    isStringMap(d['annotations']) &&
    (d['generatorUrl'] === undefined || fits(d['generatorUrl'], 1, 2000))
  );
}

/** `SignalMetadataSchema` as class-validator applies it, for the shape recorded metadata has. */
export function isPlainSignalMetadata(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const m = value as Record<string, unknown>;
  const version = m['schemaVersion'];
  return (
    onlyKeys(m, METADATA_KEYS) &&
    fits(m['$correlationId'], 1, 100) &&
    fits(m['$causationId'], 1, 100) &&
    typeof version === 'number' &&
    Number.isInteger(version) &&
    version >= 1 &&
    isIsoTime(m['receivedAt']) &&
    fits(m['channel'], 1, 50) &&
    (m['principal'] === undefined || fits(m['principal'], 1, 200))
  );
}
