import 'reflect-metadata';
import { Type } from 'class-transformer';
import { ArrayMinSize, IsArray, IsDefined, IsIn, IsObject, IsString, Length, Matches, ValidateNested } from '../shared/class-validator.js';

import { SEVERITIES, type Severity } from '../correlation/signal.js';
import { InvalidInput } from '../shared/errors.js';
import { validateAs } from '../shared/validation.js';

/**
 * How an alert source's vocabulary maps onto signals (config/sources.json): which label values
 * mean which severity, which labels name the service (first present wins), and which alerts are
 * ignored (recorded and acknowledged, never correlated: Alertmanager's always-firing Watchdog).
 */
export interface SourceMapping {
  /** The source name recorded on every signal from this mapping (part of each fact's identity). */
  readonly source: string;
  /** Labels read for the severity, in order: the first present decides. */
  readonly severityLabels: readonly string[];
  /** Label value (compared lower-case) -> severity. */
  readonly severities: Readonly<Record<string, Severity>>;
  /** The severity of an alert whose severity labels are absent or hold a value not listed. */
  readonly defaultSeverity: Severity;
  /** Labels that name the service, in order: the first present wins. */
  readonly serviceLabels: readonly string[];
  /** An alert whose labels equal every pair of one matcher is ignored. */
  readonly ignore: ReadonlyArray<Readonly<Record<string, string>>>;
}

export interface SourcesConfig {
  readonly version: string;
  readonly alertmanager: SourceMapping;
}

/** Used when config/sources.json is absent: what a Prometheus user expects out of the box. */
export const DEFAULT_SOURCES: SourcesConfig = {
  version: 'default',
  alertmanager: {
    source: 'alertmanager',
    severityLabels: ['severity', 'priority'],
    severities: {
      critical: 'SEV1',
      page: 'SEV1',
      p1: 'SEV1',
      error: 'SEV2',
      high: 'SEV2',
      major: 'SEV2',
      p2: 'SEV2',
      warning: 'SEV3',
      warn: 'SEV3',
      medium: 'SEV3',
      p3: 'SEV3',
      info: 'SEV4',
      low: 'SEV4',
      none: 'SEV4',
      p4: 'SEV4',
      p5: 'SEV4',
    },
    defaultSeverity: 'SEV4',
    serviceLabels: ['service', 'job', 'app', 'namespace'],
    ignore: [{ alertname: 'Watchdog' }, { alertname: 'InfoInhibitor' }],
  },
};

class SourceMappingSchema {
  @IsString() @Length(1, 200) @Matches(/^[A-Za-z0-9._:/-]+$/) source!: string;
  @IsArray() @IsString({ each: true }) severityLabels!: string[];
  @IsDefined() @IsObject() severities!: Record<string, Severity>;
  @IsIn(SEVERITIES) defaultSeverity!: Severity;
  @IsArray() @ArrayMinSize(1) @IsString({ each: true }) serviceLabels!: string[];
  @IsArray() @IsObject({ each: true }) ignore!: Array<Record<string, string>>;
}

class SourcesSchema {
  @IsString() @Length(1, 50) version!: string;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => SourceMappingSchema) alertmanager!: SourceMappingSchema;
}

/** Validates config/sources.json; names every bad severity value and matcher. */
export function parseSourcesConfig(raw: unknown): SourcesConfig {
  const config = validateAs(SourcesSchema, raw, 'source mapping');
  const mapping = config.alertmanager;
  const problems: string[] = [];
  const severities: Record<string, Severity> = {};
  for (const [value, severity] of Object.entries(mapping.severities)) {
    if (!(SEVERITIES as readonly unknown[]).includes(severity)) problems.push(`alertmanager.severities.${value} must be one of ${SEVERITIES.join(', ')}`);
    else severities[value.toLowerCase()] = severity;
  }
  mapping.ignore.forEach((matcher, i) => {
    const entries = Object.entries(matcher);
    if (entries.length === 0) problems.push(`alertmanager.ignore[${i}] is empty: it would ignore every alert`);
    for (const [label, value] of entries) if (typeof value !== 'string') problems.push(`alertmanager.ignore[${i}].${label} must be a string`);
  });
  if (problems.length > 0) throw new InvalidInput('source mapping', problems);
  return { version: config.version, alertmanager: { ...mapping, severities } };
}

/** The severity an alert's labels map to, and the label value that decided it (if any). */
export function severityOf(labels: Readonly<Record<string, string>>, mapping: SourceMapping): Severity {
  for (const label of mapping.severityLabels) {
    const value = labels[label];
    if (value === undefined) continue;
    return mapping.severities[value.toLowerCase()] ?? mapping.defaultSeverity;
  }
  return mapping.defaultSeverity;
}

/** The service an alert's labels name, or undefined when none of the service labels is present. */
export function serviceOf(labels: Readonly<Record<string, string>>, mapping: SourceMapping): string | undefined {
  for (const label of mapping.serviceLabels) {
    const value = labels[label];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/** The matcher that ignores an alert, as `alertname=Watchdog`, or undefined. */
export function ignoredBy(labels: Readonly<Record<string, string>>, mapping: SourceMapping): string | undefined {
  for (const matcher of mapping.ignore) {
    const entries = Object.entries(matcher);
    if (entries.every(([label, value]) => labels[label] === value)) return entries.map(([label, value]) => `${label}=${value}`).join(',');
  }
  return undefined;
}
