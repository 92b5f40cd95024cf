/**
 * class-validator, from the single-file bundle its authors ship in the same release. The package's
 * entry point loads ~320 files (its decorators, validator.js, libphonenumber-js): a quarter of a
 * second at the start of every process and thread that validates (every command, the worker, the
 * replay audit's thread); the bundle loads in a fifth of that (docs/performance.md, "Start-up").
 * Every import of class-validator goes through here. (class-transformer stays on its entry point:
 * its bundle does not export the metadata storage the validation plan reads.)
 */
import { createRequire } from 'node:module';

import type * as ClassValidator from 'class-validator';

const bundle = createRequire(import.meta.url)('class-validator/bundles/class-validator.umd.min.js') as typeof ClassValidator;

export const {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayNotEmpty,
  getMetadataStorage,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsISO8601,
  isISO8601,
  IsObject,
  IsOptional,
  IsString,
  Length,
  length,
  Matches,
  Max,
  Min,
  ValidateNested,
  validateSync,
  ValidationTypes,
} = bundle;
export type { ValidationArguments, ValidationError } from 'class-validator';
