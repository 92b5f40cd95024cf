import { AuthorityDenied } from '../authority/authority.js';
import { InvalidInput, OpxError, StoreUnavailable } from '../shared/errors.js';

/** A refusal the operator API answered (a business rule, a stale revision): exit 1 like the local command. */
export class OperatorApiRefused extends OpxError {
  static readonly code = 'opx.operator_api.refused';

  constructor(status: number, message: string) {
    super(OperatorApiRefused.code, `the operator API refused (${status}): ${message}`);
  }
}

/**
 * One call to the operator API of `opx serve` with the person's token; its answers mapped to the
 * CLI's exit codes: refused (401, 403, 409, 422) exit 1, bad or unknown (400, 404) exit 2, the
 * server or its store unreachable (5xx, no answer) exit 3.
 */
export async function callOperatorApi<T>(baseUrl: string, token: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new StoreUnavailable(`the operator API at ${baseUrl} did not answer: ${(error as Error).message}`, { cause: error });
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    json = { message: text.slice(0, 500) };
  }
  if (response.ok) return json as T;
  const message = typeof (json as { message?: unknown }).message === 'string' ? (json as { message: string }).message : response.statusText;
  if (response.status === 401 || response.status === 403) throw new AuthorityDenied({ authorityType: 'HUMAN_OPERATOR', authorityId: '(token)', sessionId: '-', justification: '' }, 'MANUAL_PROMOTE', message);
  if (response.status === 409 || response.status === 422) throw new OperatorApiRefused(response.status, message);
  if (response.status === 400 || response.status === 404) throw new InvalidInput(`${method} ${path}`, [message]);
  throw new StoreUnavailable(`the operator API at ${baseUrl} answered ${response.status}: ${message}`);
}
