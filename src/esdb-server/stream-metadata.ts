import { DELETED_STREAM } from './system-streams.js';

/**
 * Stream metadata as the store reads it from a metastream's last event: the JSON object, and the
 * view the reads apply (`$maxAge`, `$maxCount`, `$tb`).
 */
export interface StreamMetadataView {
  readonly maxAgeSeconds?: number;
  readonly maxCount?: bigint;
  readonly truncateBefore?: bigint;
}

export interface ParsedMetadata {
  readonly view: StreamMetadataView;
  readonly json: Record<string, unknown>;
}

export const NO_METADATA: ParsedMetadata = Object.freeze({ view: Object.freeze({}), json: Object.freeze({}) });

export const parseMetadata = (data: Uint8Array): ParsedMetadata => {
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    return { view: {}, json };
  }
  const integer = (value: unknown): bigint | undefined => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
    // 2^63-1 does not survive JSON.parse exactly; anything that large means "deleted".
    return value >= 9.2e18 ? DELETED_STREAM : BigInt(Math.trunc(value));
  };
  const view: { maxAgeSeconds?: number; maxCount?: bigint; truncateBefore?: bigint } = {};
  const maxAge = json['$maxAge'];
  if (typeof maxAge === 'number' && Number.isFinite(maxAge) && maxAge > 0) view.maxAgeSeconds = maxAge;
  const maxCount = integer(json['$maxCount']);
  if (maxCount !== undefined && maxCount > 0n) view.maxCount = maxCount;
  const tb = integer(json['$tb']);
  if (tb !== undefined) view.truncateBefore = tb;
  return { view, json };
};

/** Serializes metadata JSON, keeping `$tb` exact even at long.MaxValue. */
export const serializeMetadata = (json: Record<string, unknown>, truncateBefore: bigint): Uint8Array => {
  const { $tb: _ignored, ...rest } = json;
  const body = JSON.stringify(rest);
  const tb = `"$tb":${truncateBefore.toString()}`;
  return Buffer.from(body === '{}' ? `{${tb}}` : `{${tb},${body.slice(1)}`, 'utf8');
};
