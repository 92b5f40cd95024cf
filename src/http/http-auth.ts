import type { IncomingHttpHeaders } from 'node:http';

import type { Authenticated, PrincipalDirectory } from '../principals/principals.js';

/** The challenge a 401 carries: both schemes a client (Alertmanager's http_config) may use. */
export const AUTH_CHALLENGE = 'Bearer realm="opx", Basic realm="opx"';

/**
 * Who a request says it is, proven: `Authorization: Bearer <token>`, or `Basic` with the
 * principal's name as user and the token as password (the name must be the token's). Undefined
 * when there is no credential or it proves nothing.
 */
export function authenticateRequest(headers: IncomingHttpHeaders, principals: PrincipalDirectory): Authenticated | undefined {
  const header = headers.authorization;
  if (typeof header !== 'string') return undefined;
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') {
    const principal = principals.authenticate(value);
    return principal === undefined ? undefined : { principal, method: 'bearer' };
  }
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const principal = principals.authenticate(decoded.slice(colon + 1));
    return principal !== undefined && principal.name === decoded.slice(0, colon) ? { principal, method: 'basic' } : undefined;
  }
  return undefined;
}
