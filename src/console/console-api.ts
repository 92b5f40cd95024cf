import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { AuthorityType } from '../authority/authority.js';
import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import { CANDIDATE_STREAM_PREFIX } from '../candidates/candidate-events.js';
import type { RecordedEvent } from '../eventstore/event-store.js';
import { INCIDENT_ACTIONS, INCIDENT_STREAM_PREFIX } from '../incidents/incident-events.js';
import { actorOf } from '../operators/human-acts.js';
import type { Authenticated } from '../principals/principals.js';
import type { LiveReadModels } from '../projections/live-read-models.js';
import { InvalidInput } from '../shared/errors.js';

/**
 * What the console needs beside the operator API, kept beside the read models (fed by their
 * change hook, so serving a page reads no stream):
 * - the alert links of the candidates waiting in the queue (runbook, source), which the read
 *   models' rows do not carry, held while a candidate is undecided or deferred;
 * - how many candidate and incident events there are (what a replay audit will read);
 * - the read models' position, which the page polls to learn that something changed.
 */
export class ConsoleIndex {
  private readonly links = new Map<string, { readonly runbookUrl?: string; readonly generatorUrl?: string }>();
  private auditable = 0;

  constructor(private readonly readModels: LiveReadModels) {
    readModels.onProjected((recorded) => this.take(recorded));
  }

  /** Events on candidate and incident streams the read models have seen. */
  get auditableEvents(): number {
    return this.auditable;
  }

  linksOf(candidateId: string): { readonly runbookUrl?: string; readonly generatorUrl?: string } | undefined {
    return this.links.get(candidateId);
  }

  private take(recorded: RecordedEvent): void {
    const candidateStream = recorded.streamId.startsWith(CANDIDATE_STREAM_PREFIX);
    if (candidateStream || recorded.streamId.startsWith(INCIDENT_STREAM_PREFIX)) this.auditable++;
    if (!candidateStream) return;
    const candidateId = recorded.data['candidateId'];
    if (typeof candidateId !== 'string') return;
    if (recorded.type === 'CandidateCreated') {
      const context = (recorded.metadata['candidate'] as { context?: { runbookUrl?: unknown; generatorUrl?: unknown } } | undefined)?.context;
      const runbookUrl = linkOf(context?.runbookUrl);
      const generatorUrl = linkOf(context?.generatorUrl);
      if (runbookUrl !== undefined || generatorUrl !== undefined) this.links.set(candidateId, { ...(runbookUrl === undefined ? {} : { runbookUrl }), ...(generatorUrl === undefined ? {} : { generatorUrl }) });
    } else if (recorded.type === 'PromotionDecided' && recorded.data['decision'] !== 'DEFER') {
      this.links.delete(candidateId);
    }
  }
}

/** A recorded link as text (the page decides whether it is one it may link to). */
const linkOf = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 && value.length <= 2_000 ? value : undefined);

const limitOf = (value: string | undefined): number => {
  if (value === undefined) return 50;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new InvalidInput('limit', ['must be an integer from 1 to 500']);
  return n;
};

/** The principal's human roles the authority matrix grants `action` (what the page offers it; the API still checks each act). */
function rolesFor(matrix: AuthorityMatrix, who: Authenticated, action: Parameters<AuthorityMatrix['assertAllowed']>[1]): AuthorityType[] {
  const granted: AuthorityType[] = [];
  for (const role of ['HUMAN_OPERATOR', 'ON_CALL_RESPONDER'] as const) {
    try {
      actorOf(who, role);
      matrix.assertAllowed({ authorityType: role, authorityId: who.principal.name, sessionId: '-', justification: 'x' }, action);
      granted.push(role);
    } catch {
      // not this role's right
    }
  }
  return granted;
}

/** The console's routes under the operator API (its authentication and errors): what the principal may do, the queue with its links, the change position. */
export async function consoleApi(
  api: FastifyInstance,
  deps: { readonly readModels: LiveReadModels; readonly index: ConsoleIndex; readonly matrix: AuthorityMatrix; readonly who: (request: FastifyRequest) => Authenticated },
): Promise<void> {
  api.get('/console/version', async () => ({ position: deps.readModels.position?.toString() ?? null }));

  api.get('/console/me', async (request) => {
    const who = deps.who(request);
    const promoteRoles = rolesFor(deps.matrix, who, 'MANUAL_PROMOTE');
    return {
      principal: who.principal.name,
      roles: who.principal.roles,
      method: who.method,
      promote: promoteRoles.length > 0,
      ...(promoteRoles[0] === undefined ? {} : { promoteRole: promoteRoles[0] }),
      incidentActions: INCIDENT_ACTIONS.filter((action) => rolesFor(deps.matrix, who, action).length > 0),
    };
  });

  api.get<{ Querystring: { limit?: string; before?: string } }>('/console/deferred', async (request) => {
    const page = deps.readModels.deferred({ limit: limitOf(request.query.limit), ...(request.query.before === undefined ? {} : { before: request.query.before }) });
    return { ...page, rows: page.rows.map((row) => ({ ...row, ...deps.index.linksOf(row.candidateId) })) };
  });
}
