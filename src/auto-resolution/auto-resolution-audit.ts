import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import { GROUP_STREAM_PREFIX } from '../correlation/correlation-events.js';
import type { EventReader, EventToAppend, RecordedEvent } from '../eventstore/event-store.js';
import { incidentCodec, INCIDENT_STREAM_PREFIX, incidentStreamId } from '../incidents/incident-events.js';
import { sameCanonicalJson } from '../shared/canonical-json.js';
import { deriveAutoResolutions } from './derive.js';

export interface AutoResolutionDivergence {
  readonly streamId: string;
  readonly revision: string;
  readonly kind: 'different' | 'not-derived';
  /** The first differing field (`data.changedAt`), for kind `different`. */
  readonly path?: string;
  readonly recorded?: unknown;
  readonly replayed?: unknown;
  readonly message: string;
}

export interface AutoResolutionAuditReport {
  readonly verdict: 'IDENTICAL' | 'DIVERGENT';
  /** Recorded resolutions on candidates read (the automation's possible triggers). */
  readonly triggers: number;
  /** Auto-resolutions re-derived from the recorded facts and compared byte for byte with the recorded ones. */
  readonly eventsCompared: number;
  /** Derived, but a person's transition was recorded at that revision first (the automation never applies over it). */
  readonly superseded: number;
  /** Derived, and the incident stream ends before it (the automation has not run that far yet): not a divergence. */
  readonly pending: number;
  readonly divergenceCount: number;
  readonly divergences: readonly AutoResolutionDivergence[];
}

const MAX_DIVERGENCES = 100;

/** What the alert automation's audit reads: the group streams (resolutions) and the incident streams. */
export const AUTO_RESOLUTION_AUDIT_PREFIXES: readonly string[] = [GROUP_STREAM_PREFIX, INCIDENT_STREAM_PREFIX];

/**
 * The audit of the alert automation's outputs. They are not outputs of correlation or of the
 * orchestration, so neither replay derives them; this one does, from the recorded facts: it reads
 * the group and incident streams in `$all` order and, at each recorded resolution on a candidate,
 * derives what the automation does there with the matrix in config ({@link deriveAutoResolutions}:
 * the same code the running automation uses, from the same recorded history). Each derived event
 * must be recorded at its revision with identical canonical bytes (type, id, data, metadata), or
 * that revision must hold a transition by someone else (a person's act that landed first), or the
 * stream must end before it (pending). Every recorded ALERT_AUTOMATION transition must be one it
 * derived: a forged or edited one, or one a matrix in config no longer grants, is a divergence.
 */
export async function auditAutoResolution(
  source: EventReader,
  matrix: AuthorityMatrix,
  events: AsyncIterable<RecordedEvent> = source.readAll({ streamPrefixes: AUTO_RESOLUTION_AUDIT_PREFIXES }),
): Promise<AutoResolutionAuditReport> {
  const derived = new Map<string, EventToAppend>();
  const divergences: AutoResolutionDivergence[] = [];
  let divergenceCount = 0;
  let triggers = 0;
  let eventsCompared = 0;
  let superseded = 0;
  const diverge = (divergence: AutoResolutionDivergence): void => {
    divergenceCount++;
    if (divergences.length < MAX_DIVERGENCES) divergences.push(divergence);
  };
  for await (const recorded of events) {
    if (recorded.streamId.startsWith(GROUP_STREAM_PREFIX)) {
      const { resolve, skipped } = await deriveAutoResolutions(source, matrix, recorded);
      if (resolve.length + skipped.length > 0) triggers++;
      for (const r of resolve) derived.set(key(incidentStreamId(r.incidentId), r.command.expectedRevision + 1n), r.event);
      continue;
    }
    if (recorded.type !== 'IncidentStateChanged') continue;
    const at = { streamId: recorded.streamId, revision: recorded.revision.toString() };
    const expected = derived.get(key(recorded.streamId, recorded.revision));
    derived.delete(key(recorded.streamId, recorded.revision));
    const automated = isAutomation(recorded);
    if (expected === undefined) {
      if (automated) diverge({ ...at, kind: 'not-derived', message: 'an ALERT_AUTOMATION transition the recorded facts do not derive (forged, moved, or not granted by the authority matrix in config)' });
      continue;
    }
    if (!automated && recorded.id !== expected.id) {
      superseded++;
      continue;
    }
    eventsCompared++;
    const difference = firstDifference(recorded, expected);
    if (difference !== undefined) diverge({ ...at, kind: 'different', ...difference, message: `the ALERT_AUTOMATION transition differs at ${difference.path} from what the recorded facts derive` });
  }
  return { verdict: divergenceCount === 0 ? 'IDENTICAL' : 'DIVERGENT', triggers, eventsCompared, superseded, pending: derived.size, divergenceCount, divergences };
}

const key = (streamId: string, revision: bigint): string => `${streamId}@${revision}`;

function isAutomation(recorded: RecordedEvent): boolean {
  try {
    const event = incidentCodec.decode(recorded);
    return event.type === 'IncidentStateChanged' && event.data.authority.authorityType === 'ALERT_AUTOMATION';
  } catch {
    // Undecodable: the orchestration audit reports it; here it can only be someone else's act.
    return (recorded.data as { authority?: { authorityType?: unknown } }).authority?.authorityType === 'ALERT_AUTOMATION';
  }
}

function firstDifference(recorded: RecordedEvent, replayed: EventToAppend): { path: string; recorded: unknown; replayed: unknown } | undefined {
  const pairs = [
    ['type', recorded.type, replayed.type],
    ['id', recorded.id, replayed.id],
    ['data', recorded.data, replayed.data],
    ['metadata', recorded.metadata, replayed.metadata],
  ] as const;
  for (const [path, a, b] of pairs) if (!sameCanonicalJson(a, b)) return leaf(a, b, path);
  return undefined;
}

function leaf(a: unknown, b: unknown, path: string): { path: string; recorded: unknown; replayed: unknown } {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const x = (a as Record<string, unknown>)[k];
      const y = (b as Record<string, unknown>)[k];
      if (!sameCanonicalJson(x, y)) return leaf(x, y, `${path}.${k}`);
    }
  }
  return { path, recorded: a, replayed: b };
}
