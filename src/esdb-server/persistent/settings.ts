import type { FilterExpression } from '../filters.js';

/**
 * A persistent-subscription group as persisted by the engines (JSON in the `settings` column).
 * Cursors are decimal strings: a stream revision for stream groups, a global position for `$all`.
 */
export type ConsumerStrategy = 'RoundRobin' | 'DispatchToSingle' | 'Pinned';

export type StartFrom = { readonly kind: 'start' } | { readonly kind: 'end' } | { readonly kind: 'at'; readonly value: bigint };

export interface GroupSettings {
  readonly resolveLinks: boolean;
  readonly extraStatistics: boolean;
  readonly maxRetryCount: number;
  readonly minCheckpointCount: number;
  readonly maxCheckpointCount: number;
  /** 0 = unbounded. */
  readonly maxSubscriberCount: number;
  readonly liveBufferSize: number;
  readonly readBatchSize: number;
  readonly historyBufferSize: number;
  readonly strategy: ConsumerStrategy;
  readonly messageTimeoutMs: number;
  readonly checkpointAfterMs: number;
  readonly startFrom: StartFrom;
}

export interface GroupFilter extends FilterExpression {
  readonly on: 'stream' | 'event_type';
  readonly checkpointIntervalMultiplier: number;
}

export interface GroupDefinition {
  readonly settings: GroupSettings;
  readonly filter?: GroupFilter;
  /**
   * The cursor resolved when the group was created ("end" becomes the then-last revision or
   * position), so a restart before the first checkpoint does not skip events: at-least-once.
   */
  readonly initialCursor: bigint;
}

interface SerializedDefinition {
  readonly settings: Omit<GroupSettings, 'startFrom'> & { readonly startFrom: { kind: string; value?: string } };
  readonly filter?: GroupFilter;
  readonly initialCursor: string;
}

export const serializeDefinition = (definition: GroupDefinition): string => {
  const { startFrom, ...rest } = definition.settings;
  const serialized: SerializedDefinition = {
    settings: {
      ...rest,
      startFrom: startFrom.kind === 'at' ? { kind: 'at', value: startFrom.value.toString() } : { kind: startFrom.kind },
    },
    ...(definition.filter === undefined ? {} : { filter: definition.filter }),
    initialCursor: definition.initialCursor.toString(),
  };
  return JSON.stringify(serialized);
};

export const deserializeDefinition = (text: string): GroupDefinition => {
  const parsed = JSON.parse(text) as SerializedDefinition;
  const { startFrom, ...rest } = parsed.settings;
  const start: StartFrom =
    startFrom.kind === 'at'
      ? { kind: 'at', value: BigInt(startFrom.value ?? '0') }
      : startFrom.kind === 'end'
        ? { kind: 'end' }
        : { kind: 'start' };
  return {
    settings: { ...rest, startFrom: start },
    ...(parsed.filter === undefined ? {} : { filter: parsed.filter }),
    initialCursor: BigInt(parsed.initialCursor),
  };
};
