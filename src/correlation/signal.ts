import 'reflect-metadata';
import { IsIn, IsISO8601, IsObject, IsOptional, IsString, Length, Matches } from '../shared/class-validator.js';

import { InvalidInput } from '../shared/errors.js';
import { validateAs } from '../shared/validation.js';

export const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Lower rank = more severe. */
export const severityRank = (severity: Severity): number => SEVERITIES.indexOf(severity);

/** An operational signal (an alert firing, a health check failing) as correlation sees it. */
export interface Signal {
  readonly signalId: string;
  readonly service: string;
  readonly severity: Severity;
  readonly fingerprint: string;
  /** ISO 8601 UTC: when the signal was observed. Correlation windows use this, never a clock. */
  readonly observedAt: string;
  readonly labels: Readonly<Record<string, string>>;
}

export class SignalSchema {
  @IsString() @Length(1, 200) signalId!: string;
  @IsString() @Length(1, 200) @Matches(/^[A-Za-z0-9._:/-]+$/, { message: 'service may only contain letters, digits and . _ : / -' })
  service!: string;
  @IsIn(SEVERITIES) severity!: Severity;
  @IsString() @Length(1, 500) fingerprint!: string;
  @IsISO8601({ strict: true, strictSeparator: true })
  @Matches(/(Z|[+-]\d{2}:?\d{2})$/, { message: 'observedAt must name its time zone (Z or +hh:mm): a local time means different windows on different hosts' })
  observedAt!: string;
  @IsOptional() @IsObject() labels?: Record<string, string>;
}

/** Validates one signal; labels must be string -> string. Missing labels become `{}`. */
export function parseSignal(raw: unknown, subject = 'signal'): Signal {
  const signal = validateAs(SignalSchema, raw, subject);
  const labels = signal.labels ?? {};
  const bad = Object.entries(labels).filter(([, value]) => typeof value !== 'string').map(([key]) => `labels.${key} must be a string`);
  if (Object.keys(labels).length > 64) bad.push('labels has more than 64 entries');
  if (bad.length > 0) throw new InvalidInput(subject, bad);
  if (Number.isNaN(Date.parse(signal.observedAt))) throw new InvalidInput(subject, ['observedAt is not a real date']);
  return { ...signal, observedAt: new Date(signal.observedAt).toISOString(), labels };
}
