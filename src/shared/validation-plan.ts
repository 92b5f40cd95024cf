import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { getMetadataStorage, ValidationTypes, type ValidationArguments } from './class-validator.js';

/**
 * class-validator, with its metadata looked up once per schema instead of on every call.
 *
 * `validateSync` re-derives a schema's rules on every call (it filters the whole metadata store,
 * walks inheritance, groups by property, builds closures) and `plainToInstance` copies the value
 * into class instances first: about 25 us for one CandidateCreated, most of the handler's cost.
 * A plan is those same rules read once: for each property, the same constraint instances
 * class-validator would call (`IsString`, `Length`, `IsISO8601`...), called with the same
 * arguments, plus the whitelist and the nested schemas `@Type` names.
 *
 * A plan only ever says "valid" or "ask class-validator": {@link SchemaPlan.accepts} returning
 * false means nothing more than that the slow path must run, which then produces the real error
 * (or accepts). A schema using a feature the plan does not reproduce (groups, `always`,
 * `validateIf`, async or array-nested validation, class-transformer exclusions, transforms or
 * type conversions) gets no plan, and always goes the slow way. `test/core/validation-plan.unit.spec.ts` checks the plan
 * against class-validator itself on thousands of mutated payloads of every schema the flow uses.
 */
export class SchemaPlan {
  private constructor(private readonly properties: ReadonlyMap<string, PropertyPlan>) {}

  /** The plan of `schema`, or undefined when class-validator must always decide for it. */
  static of(schema: Schema): SchemaPlan | undefined {
    if (!plans.has(schema)) plans.set(schema, SchemaPlan.compile(schema, new Set()));
    return plans.get(schema);
  }

  /** True only when class-validator, with the options `validateAs` uses, would find no error. */
  accepts(value: unknown): boolean {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const object = value as Record<string, unknown>;
    // whitelist + forbidNonWhitelisted: no property without rules.
    for (const key in object) {
      if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
      if (!this.properties.has(key)) return false;
    }
    for (const [key, property] of this.properties) {
      const item = object[key];
      if (!property.conditions.every((condition) => condition(object, item))) continue; // @IsOptional &c.
      for (const check of property.checks) {
        if (check.each && Array.isArray(item)) {
          for (const element of item) if (!check.validate(element, object)) return false;
        } else if (!check.validate(item, object)) return false;
      }
      if (property.nested !== undefined && item !== undefined) {
        if (!property.nested.accepts(item)) return false;
      }
    }
    return true;
  }

  private static compile(schema: Schema, compiling: Set<Schema>): SchemaPlan | undefined {
    if (compiling.has(schema)) return undefined; // recursive schemas: leave them to class-validator
    compiling.add(schema);
    const storage = getMetadataStorage();
    // As validateSync calls it for an instance of `schema` (no string schema, no groups, always off).
    const metadatas = storage.getTargetValidationMetadatas(schema, undefined as unknown as string, false, false, undefined);
    if (metadatas.length === 0) return undefined; // forbidUnknownValues: class-validator refuses it
    if (defaultMetadataStorage.getExcludedMetadatas(schema).length > 0 || defaultMetadataStorage.getExposedMetadatas(schema).length > 0) return undefined;
    const properties = new Map<string, PropertyPlan>();
    for (const metadata of metadatas) {
      if ((metadata.groups as string[] | undefined)?.length || metadata.always !== undefined || metadata.validateIf !== undefined) return undefined;
      const property = properties.get(metadata.propertyName) ?? { conditions: [], checks: [], nested: undefined };
      properties.set(metadata.propertyName, property);
      if (defaultMetadataStorage.findTransformMetadatas(schema, metadata.propertyName, 1).length > 0) return undefined;
      switch (metadata.type) {
        case ValidationTypes.WHITELIST:
          break;
        case ValidationTypes.CONDITIONAL_VALIDATION:
          property.conditions.push(metadata.constraints[0] as (object: object, value: unknown) => boolean);
          break;
        case ValidationTypes.IS_DEFINED:
        case ValidationTypes.CUSTOM_VALIDATION: {
          for (const constraint of storage.getTargetValidatorConstraints(metadata.constraintCls)) {
            if (constraint.async) return undefined;
            const instance = constraint.instance as { validate(value: unknown, args: ValidationArguments): unknown };
            const { propertyName, constraints } = metadata;
            // One arguments object per check, refilled per call (constraints are synchronous, and
            // keep nothing): an object and a `schema.name` lookup per field per event otherwise.
            const args: { -readonly [K in keyof ValidationArguments]: ValidationArguments[K] } = { targetName: schema.name, property: propertyName, object: {}, value: undefined, constraints };
            const validate = (value: unknown, object: object): boolean => {
              args.object = object;
              args.value = value;
              return instance.validate(value, args) === true;
            };
            const check: Check = {
              each: metadata.each === true,
              // The form every recorded time is written in (toISOString) is a valid ISO 8601 date in every mode: no regex needed.
              validate: metadata.name === 'isIso8601' ? (value, object) => isCanonicalIsoTime(value) || validate(value, object) : validate,
            };
            // IS_DEFINED runs before the others in class-validator; order matters only for speed.
            if (metadata.type === ValidationTypes.IS_DEFINED) property.checks.unshift(check);
            else property.checks.push(check);
          }
          break;
        }
        case ValidationTypes.NESTED_VALIDATION: {
          const type = defaultMetadataStorage.findTypeMetadata(schema, metadata.propertyName);
          if (type === undefined || metadata.each) return undefined;
          const nestedSchema = type.typeFunction() as Schema;
          const nested = SchemaPlan.compile(nestedSchema, compiling);
          if (nested === undefined) return undefined;
          property.nested = { accepts: (value) => typeof value === 'object' && value !== null && !Array.isArray(value) && nested.accepts(value) };
          break;
        }
        default:
          return undefined; // promise validation or anything newer: class-validator decides
      }
    }
    // A class-transformer @Type on anything but a nested schema converts the value before
    // class-validator sees it (a Date, say): the plan would check the wrong value.
    for (const [name, property] of properties) {
      if (property.nested === undefined && defaultMetadataStorage.findTypeMetadata(schema, name) !== undefined) return undefined;
    }
    compiling.delete(schema);
    return new SchemaPlan(properties);
  }
}

type Schema = new () => object;

/** `YYYY-MM-DDTHH:MM:SS.sssZ` naming a real instant (years 100-9999: class-validator refuses earlier ones), as `Date.prototype.toISOString` writes it. */
export function isCanonicalIsoTime(value: unknown): boolean {
  if (typeof value !== 'string' || value.length !== 24) return false;
  for (let i = 0; i < 24; i++) {
    const c = value.charCodeAt(i);
    const expected = ISO_SHAPE.charCodeAt(i);
    if (expected === DIGIT ? c < 48 || c > 57 : c !== expected) return false;
  }
  const n = (from: number, to: number): number => Number(value.slice(from, to));
  const year = n(0, 4);
  const month = n(5, 7);
  const day = n(8, 10);
  if (year < 100 || month < 1 || month > 12 || day < 1 || n(11, 13) > 23 || n(14, 16) > 59 || n(17, 19) > 59) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[month - 1] ?? 0);
}

const DIGIT = 0x64; // 'd' in the shape below
const ISO_SHAPE = 'dddd-dd-ddTdd:dd:dd.dddZ';
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

interface Check {
  readonly each: boolean;
  readonly validate: (value: unknown, object: object) => boolean;
}

interface PropertyPlan {
  /** class-validator skips every rule of the property when one of these is false. */
  readonly conditions: Array<(object: object, value: unknown) => boolean>;
  readonly checks: Check[];
  nested: { readonly accepts: (value: unknown) => boolean } | undefined;
}

const plans = new WeakMap<Schema, SchemaPlan | undefined>();
