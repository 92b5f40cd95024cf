/**
 * The operator API as the page calls it: same origin, the session cookie (HttpOnly: the page
 * never sees it), and on every state change the session's CSRF token in a header.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;
let onSignedOut: () => void = () => undefined;

export function bindSession(token: string | undefined, signedOut: () => void): void {
  csrfToken = token;
  onSignedOut = signedOut;
}

async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== undefined) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (response.status === 204) return undefined as T;
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    if (response.status === 401 && path !== '/console/session') onSignedOut();
    throw new ApiError(response.status, typeof json['error'] === 'string' ? json['error'] : 'error', typeof json['message'] === 'string' ? json['message'] : response.statusText, json);
  }
  return json as T;
}

export const api = {
  get: <T>(path: string): Promise<T> => call<T>('GET', path),
  post: <T>(path: string, body: unknown): Promise<T> => call<T>('POST', path, body),
  delete: (path: string): Promise<void> => call<void>('DELETE', path),
};

// ---- the shapes the page reads (the operator API's JSON) -------------------------------------

export interface SessionView {
  readonly principal: string;
  readonly roles: readonly string[];
  readonly csrfToken: string;
  readonly expiresAt: string;
}

export interface Abilities {
  readonly principal: string;
  readonly roles: readonly string[];
  readonly promote: boolean;
  /** The role to promote in (the principal's first role the authority matrix lets promote). */
  readonly promoteRole?: string;
  readonly incidentActions: readonly string[];
}

export interface Page<T> {
  readonly rows: readonly T[];
  readonly next?: string;
  readonly total: number;
}

export interface AlertCounts {
  readonly firing: number;
  readonly resolved: number;
}

export interface DeferredRow {
  readonly candidateId: string;
  readonly severity: string;
  readonly service: string;
  readonly policy: string;
  readonly reason: string;
  readonly deferredAt: string;
  readonly promotionRequested: boolean;
  readonly title?: string;
  readonly alerts?: AlertCounts;
  readonly runbookUrl?: string;
  readonly generatorUrl?: string;
}

export interface IncidentRow {
  readonly incidentId: string;
  readonly candidateId: string;
  readonly severity: string;
  readonly service: string;
  readonly state: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly promotedBy: string;
  readonly title?: string;
  readonly alerts?: AlertCounts;
}

export interface Authority {
  readonly authorityType: string;
  readonly authorityId: string;
  readonly sessionId: string;
  readonly justification: string;
}

export interface Transition {
  readonly action: string;
  readonly from: string;
  readonly to: string;
  readonly authority: Authority;
  readonly changedAt: string;
}

export interface IncidentView {
  readonly incident: { readonly incidentId: string; readonly candidateId: string; readonly severity: string; readonly service: string; readonly state: string; readonly openedAt: string; readonly authority: Authority; readonly history: readonly Transition[] };
  readonly revision: string;
  readonly actions: readonly string[];
}

export interface TrailEntry {
  readonly signalId: string;
  readonly status: string;
  readonly outcome: string;
  readonly observedAt: string;
  readonly endsAt?: string;
  readonly severity: string;
  readonly alertname?: string;
  readonly late: boolean;
}

/** What the alert automation did to an incident whose alerts all resolved, or why not (src/auto-resolution/automation-outcome.ts). */
export interface AutomationOutcome {
  readonly incidentId: string;
  readonly outcome: 'resolved' | 'not-granted' | 'left' | 'due';
  readonly reason: string;
}

export interface ChainView {
  readonly signals: { readonly count: number; readonly ids: readonly string[]; readonly recorded?: readonly TrailEntry[]; readonly firing?: number; readonly resolved?: number; readonly allResolved?: boolean; readonly automation?: readonly AutomationOutcome[] };
  readonly candidate: {
    readonly candidateId: string;
    readonly correlationRuleId: string;
    readonly correlationRuleVersion: string;
    readonly severity: string;
    readonly service: string;
    readonly createdAt: string;
    readonly policyId: string;
    readonly policyVersion: string;
    readonly groupKey: string;
    readonly windowStart: string;
    readonly windowEnd: string;
    readonly status: string;
    readonly title?: string;
    readonly context?: { readonly alertname?: string; readonly summary?: string; readonly description?: string; readonly runbookUrl?: string; readonly generatorUrl?: string; readonly labels: Readonly<Record<string, string>> };
  };
  readonly manualPromotion: string;
  readonly manualRequests: ReadonlyArray<{ readonly requestId: string; readonly authority: Authority; readonly requestedAt: string }>;
  readonly decisions: ReadonlyArray<{
    readonly decisionId: string;
    readonly decision: string;
    readonly policy: string;
    readonly policyHash: string;
    readonly policyNow: string;
    readonly matchedRule: string;
    readonly reason: string;
    readonly authority: Authority;
    readonly authorityMatrixVersion: string;
    readonly decidedAt: string;
  }>;
  readonly incidents: ReadonlyArray<{ readonly incidentId: string; readonly state: string; readonly openedAt: string; readonly authority: Authority; readonly lifecycle: readonly Transition[]; readonly revision: string }>;
  readonly attempts: ReadonlyArray<{ readonly attemptId: string; readonly decision: string; readonly status: string; readonly startedAt: string; readonly durationMs: number; readonly policyId: string; readonly policyVersion: string; readonly authorityType: string; readonly authorityId: string; readonly incidentId?: string; readonly error?: string }>;
}

export interface CandidateView extends ChainView {
  readonly actions: readonly string[];
}

export interface AuditDivergence {
  readonly streamId: string;
  readonly revision: string;
  readonly kind: string;
  readonly path?: string;
  readonly recorded?: string;
  readonly replayed?: string;
  readonly message: string;
}

export interface AuditSummary {
  readonly runId: string;
  readonly verdict: 'IDENTICAL' | 'DIVERGENT';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly by: string;
  readonly eventsRead: number;
  readonly eventsCompared: number;
  readonly streamsChecked: number;
  readonly divergentStreams: number;
  readonly divergenceCount: number;
  readonly divergences: readonly AuditDivergence[];
  readonly policyDrift: ReadonlyArray<{ readonly policy: string; readonly recordedHash: string; readonly currentHash: string | null; readonly firstCandidateId: string; readonly decisions: number }>;
  readonly correlation: { readonly verdict: string; readonly inputs: number; readonly eventsCompared: number; readonly divergenceCount: number; readonly divergences: readonly AuditDivergence[] };
}

export interface AuditRun {
  readonly runId: string;
  readonly state: 'running' | 'done' | 'failed';
  readonly by: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly eventsRead: number;
  readonly expectedEvents?: number;
  readonly report?: AuditSummary;
  readonly error?: string;
}
