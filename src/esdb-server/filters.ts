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

export const createFilter = (on: 'stream' | 'event_type', expression: FilterExpression): EventFilter => {
  const pick = on === 'stream' ? (e: { streamId: string }): string => e.streamId : (e: { type: string }): string => e.type;
  if (expression.regex.length > 0) {
    let regex: RegExp;
    try {
      regex = new RegExp(expression.regex);
    } catch (error) {
      throw Exceptions.invalidArgument(
        `Invalid filter regex '${expression.regex}': ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return {
      on,
      describe: `${on} regex /${expression.regex}/`,
      matches: (e) => regex.test(pick(e)),
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
