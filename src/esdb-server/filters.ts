import { RE2JS } from 're2js';
import { Exceptions } from './rpc.js';

/**
 * Server-side `$all` filters: on the stream name or the event type, by prefixes or by a regular
 * expression (a non-empty regex wins over prefixes, as in EventStoreDB).
 */
export interface EventFilter {
  readonly on: 'stream' | 'event_type';
  readonly describe: string;
  matches(event: { readonly streamId: string; readonly type: string }): boolean;
}

export interface FilterExpression {
  readonly regex: string;
  readonly prefixes: readonly string[];
}

/** Distinct values whose match result a filter remembers (event types and stream names repeat in `$all`). */
const MATCH_CACHE_LIMIT = 4096;

/**
 * Compiles a filter regex with RE2's semantics (re2js): matching is linear in the input, so no
 * pattern (`^(a+)+$` took 6 s against a 31-character name with JavaScript's backtracking engine,
 * doubling per character) can stall the server's only thread. RE2 has no backreferences or
 * lookaround: such a pattern is refused with INVALID_ARGUMENT naming the problem.
 */
const compileRegex = (regex: string): ((value: string) => boolean) => {
  let pattern: RE2JS;
  try {
    pattern = RE2JS.compile(regex);
  } catch (error) {
    throw Exceptions.invalidArgument(`Invalid filter regex '${regex}': ${error instanceof Error ? error.message : String(error)}`);
  }
  const known = new Map<string, boolean>();
  return (value) => {
    const cached = known.get(value);
    if (cached !== undefined) return cached;
    const result = pattern.matcher(value).find();
    if (known.size >= MATCH_CACHE_LIMIT) known.clear();
    known.set(value, result);
    return result;
  };
};

export const createFilter = (on: 'stream' | 'event_type', expression: FilterExpression): EventFilter => {
  const pick = on === 'stream' ? (e: { streamId: string }): string => e.streamId : (e: { type: string }): string => e.type;
  if (expression.regex.length > 0) {
    const test = compileRegex(expression.regex);
    return {
      on,
      describe: `${on} regex /${expression.regex}/`,
      matches: (e) => test(pick(e)),
    };
  }
  const prefixes = [...expression.prefixes];
  return {
    on,
    describe: `${on} prefixes [${prefixes.join(', ')}]`,
    matches: (e) => {
      const value = pick(e);
      return prefixes.some((p) => value.startsWith(p));
    },
  };
};

/** Default search window (EventStoreDB's ReadBatchSize); checkpoints come every window x multiplier. */
export const DEFAULT_MAX_SEARCH_WINDOW = 32;
