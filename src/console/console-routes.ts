import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import type { Authenticated, PrincipalDirectory } from '../principals/principals.js';
import type { Logger } from '../shared/logger.js';
import { cookieValue, csrfTokenMatches, isSafeMethod, sameOrigin, sessionPrincipal, type SessionStore } from './sessions.js';

/**
 * The operator console of `opx serve`, at `/`: one HTML page and its two assets (a script and a
 * style sheet bundled at build time, served from this package: nothing from another origin), the
 * sign-in session, and the CSRF guard every state change passes when a session cookie would
 * authenticate it (the console's own and the operator API's). The page reads and acts through
 * the operator API, signed in by the session cookie.
 */
export interface ConsoleDeps {
  readonly sessions: SessionStore;
  readonly principals: PrincipalDirectory;
  /** Served over TLS (HSTS, Secure cookie, the https origin). */
  readonly secure: boolean;
  readonly logger: Logger;
  /** Where the bundled assets are; by default `assets/` beside this module. */
  readonly assetsDir?: URL;
}

/** The page's paths (its state is in the URL, so each can be linked to and shared). */
export const CONSOLE_PAGES = ['/', '/incidents', '/incidents/:id', '/candidates/:id', '/audit', '/sign-in'] as const;
export const SESSION_ROUTE = '/console/session';

const HUMAN_ROLES = new Set(['HUMAN_OPERATOR', 'ON_CALL_RESPONDER', 'admin']);

/** No script but this origin's files, no inline script or style, nothing framed, no form sent elsewhere. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ASSETS = { 'console.js': 'text/javascript; charset=utf-8', 'console.css': 'text/css; charset=utf-8', 'icon.svg': 'image/svg+xml' } as const;
type AssetName = keyof typeof ASSETS;

interface Asset {
  readonly body: Buffer;
  readonly etag: string;
  readonly type: string;
}

/** The session a request's cookie proves, for the operator API's `authenticate` hook (a bearer or basic client is authenticated by its header, not the cookie). */
export function consoleAuthenticate(deps: Pick<ConsoleDeps, 'sessions'>): (request: FastifyRequest) => Authenticated | undefined {
  return (request) => {
    if (request.headers.authorization !== undefined) return undefined;
    const session = deps.sessions.find(request.headers);
    if (session === undefined) return undefined;
    // The guard refused an unsafe request without the token already; refused here too, whatever mounts the API.
    if (!isSafeMethod(request.method) && !csrfTokenMatches(request.headers, session)) return undefined;
    return sessionPrincipal(session);
  };
}

export async function consoleRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const assets = loadAssets(deps.assetsDir ?? new URL('./assets/', import.meta.url), deps.logger);
  const page = assets === undefined ? undefined : shell(assets);
  const headers = securityHeaders(deps.secure);

  // The CSRF guard, before every route of the app: a state change a session cookie would
  // authenticate must come from this origin and carry the session's token in a header.
  app.addHook('onRequest', async (request, reply) => {
    if (isSafeMethod(request.method) || request.headers.authorization !== undefined) return;
    if (cookieValue(request.headers.cookie, deps.sessions.cookieName) === undefined) return;
    if (!sameOrigin(request.headers, deps.secure)) return refuse(reply, 'a state change with the session cookie must come from the console page of this origin');
    if (request.routeOptions.url === SESSION_ROUTE && request.method === 'POST') return; // signing in again: proves itself with its token
    const session = deps.sessions.find(request.headers);
    if (session !== undefined && !csrfTokenMatches(request.headers, session)) return refuse(reply, 'a state change with the session cookie must carry the session\'s CSRF token (header x-csrf-token)');
  });

  for (const path of CONSOLE_PAGES) {
    app.get(path, async (_request, reply) => {
      void reply.headers(headers).header('cache-control', 'no-store');
      if (page === undefined) return reply.code(503).type('text/plain; charset=utf-8').send('The console is not built into this install (its assets are missing): run `npm run build`.');
      return reply.type('text/html; charset=utf-8').send(page);
    });
  }

  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    const asset = Object.prototype.hasOwnProperty.call(ASSETS, request.params.name) ? assets?.[request.params.name as AssetName] : undefined;
    if (asset === undefined) return reply.code(404).send({ error: 'not_found', message: `no asset ${request.params.name}` });
    void reply.headers(headers).header('cache-control', 'no-cache').header('etag', asset.etag);
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  });

  // Sign-in: a principal's token (JSON, so a cross-site form cannot send it), a human role; the session in the cookie, the CSRF token to the page.
  app.post<{ Body: { token?: unknown } }>(SESSION_ROUTE, { bodyLimit: 4_096 }, async (request, reply) => {
    void reply.headers(headers).header('cache-control', 'no-store');
    if (!sameOrigin(request.headers, deps.secure)) return refuse(reply, 'sign in from the console page of this origin');
    const token = request.body?.token;
    const principal = typeof token === 'string' ? deps.principals.authenticate(token.trim()) : undefined;
    if (principal === undefined) return reply.code(401).send({ error: 'unauthorized', message: 'that token belongs to no principal' });
    if (!principal.roles.some((r) => HUMAN_ROLES.has(r))) return reply.code(403).send({ error: 'forbidden', message: `principal '${principal.name}' has no human role: the console is for people` });
    deps.sessions.end(request.headers);
    const { id, session } = deps.sessions.create(principal);
    deps.logger.info({ principal: principal.name }, 'console sign-in');
    return reply.code(201).header('set-cookie', deps.sessions.setCookie(id)).send(sessionView(session));
  });

  app.get(SESSION_ROUTE, async (request, reply) => {
    void reply.headers(headers).header('cache-control', 'no-store');
    const session = deps.sessions.find(request.headers);
    if (session === undefined) return reply.code(401).send({ error: 'unauthorized', message: 'not signed in (or the session ended)' });
    return sessionView(session);
  });

  app.delete(SESSION_ROUTE, async (request, reply) => {
    deps.sessions.end(request.headers);
    return reply.headers(headers).header('cache-control', 'no-store').header('set-cookie', deps.sessions.clearCookie()).code(204).send();
  });
}

const refuse = (reply: FastifyReply, message: string): FastifyReply => reply.code(403).send({ error: 'csrf', message });

const sessionView = (session: { principal: { name: string; roles: readonly string[] }; csrfToken: string; expiresAt: number }) => ({
  principal: session.principal.name,
  roles: session.principal.roles,
  csrfToken: session.csrfToken,
  expiresAt: new Date(session.expiresAt).toISOString(),
});

function securityHeaders(secure: boolean): Record<string, string> {
  return {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    ...(secure ? { 'strict-transport-security': 'max-age=31536000' } : {}),
  };
}

function loadAssets(dir: URL, logger: Logger): Record<AssetName, Asset> | undefined {
  try {
    const load = (name: AssetName): Asset => {
      const body = readFileSync(new URL(name, dir));
      return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`, type: ASSETS[name] };
    };
    return { 'console.js': load('console.js'), 'console.css': load('console.css'), 'icon.svg': load('icon.svg') };
  } catch (error) {
    logger.warn({ err: error, dir: dir.pathname }, 'console assets missing: the console answers 503 (run npm run build)');
    return undefined;
  }
}

/** The one HTML page: no inline script or style; the assets named with their hash, so a new build is never served stale. */
function shell(assets: Record<AssetName, Asset>): string {
  const v = (name: AssetName) => encodeURIComponent(assets[name].etag.slice(1, 9));
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>OPX console</title>',
    `<link rel="icon" href="/assets/icon.svg?v=${v('icon.svg')}" type="image/svg+xml">`,
    `<link rel="stylesheet" href="/assets/console.css?v=${v('console.css')}">`,
    `<script type="module" src="/assets/console.js?v=${v('console.js')}"></script>`,
    '</head>',
    '<body>',
    '<noscript><p>The OPX console needs JavaScript (its own script only, from this server).</p></noscript>',
    '<div id="app"></div>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
