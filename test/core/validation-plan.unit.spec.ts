import { expect } from 'chai';
import { readFileSync } from 'node:fs';

import { AuthorityMatrixSchema } from '../../src/authority/authority-matrix.js';
import { candidateCodec } from '../../src/candidates/candidate-codec.js';
import { CANDIDATE_INPUT_TYPES, CANDIDATE_OUTPUT_TYPES } from '../../src/candidates/candidate-events.js';
import { RuleSetSchema } from '../../src/correlation/correlation-rule.js';
import { SignalSchema } from '../../src/correlation/signal.js';
import { incidentCodec } from '../../src/incidents/incident-events.js';
import { PolicySchema } from '../../src/promotion/policy.js';
import { InvalidInput } from '../../src/shared/errors.js';
import { classValidatorProblems, validateAs } from '../../src/shared/validation.js';
import { isCanonicalIsoTime, SchemaPlan } from '../../src/shared/validation-plan.js';
import { isISO8601 } from '../../src/shared/class-validator.js';
import { goldenHistoryLines } from '../support/golden.js';
import { SignalFixtures } from './support/fixtures.js';

type Schema = new () => object;
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values that probe every constraint the schemas use: types, lengths, patterns, dates, ranges. */
const PROBES: readonly unknown[] = [
  undefined,
  null,
  true,
  false,
  0,
  -1,
  1,
  1.5,
  1e6,
  1e6 + 1,
  Number.NaN,
  '',
  'x',
  ' ',
  'a b',
  'x'.repeat(51),
  'x'.repeat(201),
  'x'.repeat(2001),
  'SEV1',
  'SEV9',
  'PROMOTE',
  'HUMAN_OPERATOR',
  'AUTO_ENGINE',
  'CandidateCreated',
  'IncidentCreated',
  'OPEN',
  '2026-01-19T00:20:20.000Z',
  '2026-01-19T00:20:20Z',
  '2026-01-19 00:20:20Z',
  '2026-01-19',
  '2026-02-30T00:00:00Z',
  '2026-01-19T25:00:00Z',
  '2026-01-19T00:20:20',
  'a'.repeat(64),
  'A'.repeat(64),
  'cand-0a1b',
  'bad id!',
  [],
  ['a'],
  [1],
  [null],
  Array.from({ length: 101 }, () => 's'),
  {},
  { a: 1 },
  { a: 'b' },
];

/** Every value reachable from `root` by one change: a member removed, added or replaced by a probe. */
function* mutations(root: Json): Generator<{ what: string; value: unknown }> {
  function* at(node: Json, path: readonly (string | number)[]): Generator<{ what: string; value: unknown }> {
    const set = (replacement: unknown): unknown => replaceAt(root, path, replacement);
    for (const probe of PROBES) yield { what: `${path.join('.') || '(root)'} = ${JSON.stringify(probe) ?? 'undefined'}`, value: set(probe) };
    if (Array.isArray(node)) {
      for (const [i, child] of node.entries()) yield* at(child, [...path, i]);
      yield { what: `${path.join('.')} + element`, value: set([...node, node[0] ?? 'x']) };
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, child] of Object.entries(node)) {
        const { [key]: _removed, ...rest } = node;
        yield { what: `${[...path, key].join('.')} removed`, value: set(rest) };
        yield* at(child, [...path, key]);
      }
      yield { what: `${path.join('.') || '(root)'} + extra`, value: set({ ...node, extra: 'x' }) };
    }
  }
  yield* at(root, []);
}

function replaceAt(node: unknown, path: readonly (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(node)) return node.map((child, i) => (i === head ? replaceAt(child, rest, replacement) : child));
  const object = node as Record<string, unknown>;
  return { ...object, [head]: replaceAt(object[head], rest, replacement) };
}

const classValidatorAccepts = (schema: Schema, value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && classValidatorProblems(schema, value).length === 0;

/** Valid samples of every schema validated on the hot path (recorded history) and at the edges. */
function samples(): Array<{ name: string; schema: Schema; value: Json }> {
  const out: Array<{ name: string; schema: Schema; value: Json }> = [];
  const seen = new Map<string, number>();
  for (const line of goldenHistoryLines()) {
    const event = JSON.parse(line) as { type: string; data: Json; metadata: Json };
    if ((seen.get(event.type) ?? 0) >= 2) continue;
    seen.set(event.type, (seen.get(event.type) ?? 0) + 1);
    const codec = candidateCodec.knows(event.type) ? candidateCodec : incidentCodec;
    const [data, metadata] = (codec.schemasOf as (type: string) => readonly [Schema, Schema])(event.type);
    out.push({ name: `${event.type} data`, schema: data, value: event.data }, { name: `${event.type} metadata`, schema: metadata, value: event.metadata });
  }
  out.push({ name: 'signal', schema: SignalSchema, value: SignalFixtures.raw as Json });
  const config = (file: string): Json => JSON.parse(readFileSync(new URL(`../../../config/${file}`, import.meta.url), 'utf8')) as Json;
  out.push({ name: 'policy', schema: PolicySchema, value: config('policies/standard-promotion@1.0.0.json') });
  out.push({ name: 'authority matrix', schema: AuthorityMatrixSchema, value: config('authority-matrix.json') });
  out.push({ name: 'correlation rules', schema: RuleSetSchema, value: config('correlation-rules.json') });
  return out;
}

describe('validation plan (class-validator rules read once)', () => {
  const all = samples();

  it('covers every candidate- and incident-stream event type with valid samples from recorded history', () => {
    const types = new Set(all.map((s) => s.name.replace(/ (data|metadata)$/, '')));
    for (const type of [...CANDIDATE_INPUT_TYPES, ...CANDIDATE_OUTPUT_TYPES, 'IncidentOpened']) expect(types, type).to.include(type);
  });

  it('has a plan for every event schema the handlers validate, and it accepts what class-validator accepts', () => {
    for (const { name, schema, value } of all.filter((s) => !['policy', 'authority matrix', 'correlation rules'].includes(s.name))) {
      const plan = SchemaPlan.of(schema);
      expect(plan, `${name} has a plan`).to.not.equal(undefined);
      expect(classValidatorAccepts(schema, value), `${name} sample is valid`).to.equal(true);
      expect(plan?.accepts(value), `${name} accepted by its plan`).to.equal(true);
    }
  });

  it('never accepts what class-validator rejects, over every single-change mutation of every sample', () => {
    let checked = 0;
    let rejected = 0;
    for (const { name, schema, value } of all) {
      const plan = SchemaPlan.of(schema);
      if (plan === undefined) continue;
      for (const mutation of mutations(value)) {
        const cv = classValidatorAccepts(schema, mutation.value);
        const planned = plan.accepts(mutation.value);
        if (planned) expect(cv, `${name}: ${mutation.what} accepted by the plan, rejected by class-validator`).to.equal(true);
        // The plan may be stricter (it then hands over to class-validator), but on these schemas
        // it is exact: a disagreement either way means it no longer mirrors the rules.
        expect(planned, `${name}: ${mutation.what}`).to.equal(cv);
        checked++;
        if (!cv) rejected++;
      }
    }
    expect(checked).to.be.greaterThan(5_000);
    expect(rejected).to.be.greaterThan(checked / 3);
  });

  it('validateAs still names the problem class-validator finds when the plan rejects', () => {
    const [schema] = candidateCodec.schemasOf('CandidateCreated');
    const valid = JSON.parse(goldenHistoryLines()[0] as string) as { data: Record<string, unknown> };
    expect(() => validateAs(schema, { ...valid.data, signalCount: 0 }, 'CandidateCreated')).to.throw(InvalidInput, /signalCount must not be less than 1/);
    expect(() => validateAs(schema, { ...valid.data, priority: 'high' }, 'CandidateCreated')).to.throw(InvalidInput, /property priority should not exist/);
    expect(validateAs(schema, valid.data, 'CandidateCreated')).to.equal(valid.data);
  });

  it('gives no plan to a schema with rules it does not reproduce, so class-validator decides', () => {
    // Nested arrays of schemas (@ValidateNested({ each: true })): always the slow path.
    expect(SchemaPlan.of(RuleSetSchema)).to.equal(undefined);
  });

  it('takes the toISOString form of a time as valid ISO 8601 only when class-validator does (its fast path)', () => {
    const digits = (n: number, seed: number): string => String(seed % 10 ** n).padStart(n, '0');
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const r = (k: number) => Math.floor(Math.abs(Math.sin(i * 7919 + k) * 1e9));
      const value = `${digits(4, r(1) % 3000)}-${digits(2, r(2) % 14)}-${digits(2, r(3) % 33)}T${digits(2, r(4) % 26)}:${digits(2, r(5) % 62)}:${digits(2, r(6) % 62)}.${digits(3, r(7))}Z`;
      const fast = isCanonicalIsoTime(value);
      expect(fast, value).to.equal(isISO8601(value, { strict: true, strictSeparator: true }) && new Date(value).toISOString() === value);
      if (fast) accepted++;
    }
    expect(accepted).to.be.greaterThan(1_000);
    for (const other of ['2026-01-19T00:20:20Z', '2026-01-19T00:20:20.000+00:00', '0000-01-01T00:00:00.000Z', 20260119, null]) expect(isCanonicalIsoTime(other), String(other)).to.equal(false);
  });
});
