import type { CandidateStore } from '../candidates/candidate-store.js';
import type { IncidentManager } from '../incidents/incident-manager.js';
import { OpxError } from '../shared/errors.js';
import type { DeferredRow, IncidentRow } from './read-models.js';

/** A row the read models showed that its own stream contradicts. */
export interface RowMismatch {
  readonly id: string;
  readonly field: string;
  readonly readModel: unknown;
  readonly stream: unknown;
}

/**
 * Read models are checked, not trusted, when they are read: every incident row about to be shown
 * is held against its incident stream (state and last change), and the stream wins. A forged or
 * stale snapshot then shows as mismatches, never as a wrong answer. One read per row, a few at once.
 */
export async function checkIncidentRows(rows: readonly IncidentRow[], incidents: Pick<IncidentManager, 'read'>): Promise<{ readonly rows: IncidentRow[]; readonly mismatches: RowMismatch[] }> {
  const mismatches: RowMismatch[] = [];
  const checked = await inBatches(rows, async (row) => {
    try {
      const { incident } = await incidents.read(row.incidentId);
      const updatedAt = incident.history.at(-1)?.changedAt ?? incident.openedAt;
      if (incident.state === row.state && updatedAt === row.updatedAt && incident.severity === row.severity && incident.service === row.service) return row;
      for (const [field, a, b] of [['state', row.state, incident.state], ['updatedAt', row.updatedAt, updatedAt], ['severity', row.severity, incident.severity], ['service', row.service, incident.service]] as const) {
        if (a !== b) mismatches.push({ id: row.incidentId, field, readModel: a, stream: b });
      }
      return { ...row, state: incident.state, updatedAt, severity: incident.severity, service: incident.service };
    } catch (error) {
      if (!OpxError.is(error)) throw error;
      mismatches.push({ id: row.incidentId, field: 'incident', readModel: 'present', stream: error.message });
      return undefined;
    }
  });
  return { rows: checked.filter((r): r is IncidentRow => r !== undefined), mismatches };
}

/** Every deferred row about to be shown held against its candidate stream: still deferred, by the decision the row names. */
export async function checkDeferredRows(rows: readonly DeferredRow[], candidates: Pick<CandidateStore, 'refresh'>): Promise<{ readonly rows: DeferredRow[]; readonly mismatches: RowMismatch[] }> {
  const mismatches: RowMismatch[] = [];
  const checked = await inBatches(rows, async (row) => {
    try {
      const history = await candidates.refresh(row.candidateId);
      const last = history.decisions.at(-1);
      if (last?.decision === 'DEFER' && last.decisionId === row.decisionId) return row;
      mismatches.push({ id: row.candidateId, field: 'decision', readModel: `DEFER ${row.decisionId}`, stream: last === undefined ? 'none' : `${last.decision} ${last.decisionId}` });
      return undefined;
    } catch (error) {
      if (!OpxError.is(error)) throw error;
      mismatches.push({ id: row.candidateId, field: 'candidate', readModel: 'present', stream: error.message });
      return undefined;
    }
  });
  return { rows: checked.filter((r): r is DeferredRow => r !== undefined), mismatches };
}

async function inBatches<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 32) out.push(...(await Promise.all(items.slice(i, i + 32).map(work))));
  return out;
}
