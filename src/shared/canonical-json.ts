import canonicalize from 'canonicalize';

import { InvalidInput } from './errors.js';

/**
 * RFC 8785 (JSON Canonicalization Scheme) through `canonicalize`, the implementation by the
 * RFC's author: sorted keys by UTF-16 code units, ECMAScript number formatting, no whitespace.
 * Every stored payload is compared in this form, so "byte-identical" means identical JCS bytes.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new InvalidInput('JSON value', ['value has no JSON representation']);
  return text;
}

/**
 * Whether two JSON values have the same RFC 8785 canonical form, decided structurally without
 * serializing: same primitives (numbers by value, so 0 and -0 agree, as JCS prints both as 0),
 * same array order, same object keys whatever their order, `undefined` members ignored as JSON
 * ignores them. The replay compares with this and serializes only to report a divergence.
 */
export function sameCanonicalJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameCanonicalJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let count = 0;
  for (const key in ra) {
    if (!Object.prototype.hasOwnProperty.call(ra, key) || ra[key] === undefined) continue;
    count++;
    if (!Object.prototype.hasOwnProperty.call(rb, key) || !sameCanonicalJson(ra[key], rb[key])) return false;
  }
  for (const key in rb) if (Object.prototype.hasOwnProperty.call(rb, key) && rb[key] !== undefined) count--;
  return count === 0;
}

/** Recursively freezes a parsed JSON value so recorded history cannot be mutated by a reader. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export interface ParseLimits {
  /** Maximum size of the JSON text in bytes (UTF-8). */
  readonly maxBytes: number;
  /** Maximum nesting depth. */
  readonly maxDepth: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxBytes: 64 * 1024, maxDepth: 16 };

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Parses untrusted JSON text: rejects oversize input, excessive nesting and prototype-pollution
 * keys (`__proto__`, `constructor`, `prototype`) with an error naming the offending path.
 */
export function parseUntrustedJson(text: string, subject: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): unknown {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxBytes) {
    throw new InvalidInput(subject, [`payload is ${bytes} bytes, more than the limit of ${limits.maxBytes}`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidInput(subject, [`not valid JSON (${(error as Error).message})`], { cause: error });
  }
  assertSafeJson(parsed, subject, limits);
  return parsed;
}

/** Checks an already-parsed value for forbidden keys and depth (e.g. a payload from a client). */
export function assertSafeJson(value: unknown, subject: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): void {
  if (isSafeJson(value, limits.maxDepth, 0)) return;
  const problems: string[] = [];
  const walk = (node: unknown, path: string, depth: number): void => {
    if (typeof node !== 'object' || node === null) return;
    if (depth > limits.maxDepth) {
      problems.push(`${path || '(root)'} nests deeper than ${limits.maxDepth} levels`);
      return;
    }
    for (const key of Object.keys(node)) {
      const childPath = Array.isArray(node) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (FORBIDDEN_KEYS.has(key)) problems.push(`${childPath} is a forbidden key`);
      else walk((node as Record<string, unknown>)[key], childPath, depth + 1);
    }
  };
  walk(value, '', 0);
  if (problems.length > 0) throw new InvalidInput(subject, problems);
}

/** The check of {@link assertSafeJson} without building paths: the common, clean case. */
function isSafeJson(node: unknown, maxDepth: number, depth: number): boolean {
  if (typeof node !== 'object' || node === null) return true;
  if (depth > maxDepth) return false;
  if (Array.isArray(node)) {
    for (const item of node) if (!isSafeJson(item, maxDepth, depth + 1)) return false;
    return true;
  }
  for (const key in node) {
    if (!Object.prototype.hasOwnProperty.call(node, key)) continue;
    if (FORBIDDEN_KEYS.has(key) || !isSafeJson((node as Record<string, unknown>)[key], maxDepth, depth + 1)) return false;
  }
  return true;
}
