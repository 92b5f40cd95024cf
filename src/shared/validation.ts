import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from './class-validator.js';

import { assertSafeJson } from './canonical-json.js';
import { InvalidInput } from './errors.js';
import { SchemaPlan } from './validation-plan.js';

/**
 * The serialization boundary: a plain value is checked against a class-validator schema class,
 * rejecting missing, extra and wrong-typed fields and prototype-pollution keys, with an error
 * that names every offending field path. Returns the same plain value, now typed.
 *
 * A value the schema's {@link SchemaPlan} accepts is one class-validator would accept: it returns
 * without the slow path. Anything else goes through class-transformer and class-validator, which
 * decide, and name every problem.
 */
export function validateAs<T extends object>(schema: new () => T, raw: unknown, subject: string): T {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidInput(subject, [`expected a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`]);
  }
  assertSafeJson(raw, subject);
  if (SchemaPlan.of(schema)?.accepts(raw) === true) return raw as T;
  const problems = classValidatorProblems(schema, raw);
  if (problems.length > 0) throw new InvalidInput(subject, problems);
  return raw as T;
}

/** class-transformer + class-validator themselves: every problem with `raw`, by field path. */
export function classValidatorProblems(schema: new () => object, raw: object): string[] {
  const instance = plainToInstance(schema, raw);
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
  });
  return describe(errors);
}

function describe(errors: readonly ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) =>
      message.startsWith(error.property) ? `${path}${message.slice(error.property.length)}` : `${path}: ${message}`,
    );
    return [...own, ...describe(error.children ?? [], path)];
  });
}
