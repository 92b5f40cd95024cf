import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

import type { Authenticated, Principal } from '../principals/principals.js';
import { sha256Hex } from '../shared/ids.js';

/**
 * The console's sign-in sessions: a principal proves itself once with its token and gets a
 * session, an opaque random id in an HttpOnly, SameSite=Strict cookie (Secure, and `__Host-`
 * prefixed, over TLS), kept in this process's memory only (a restart signs everyone out), keyed
 * by the id's hash. Each session has a CSRF token the page sends back in a header with every
 * state change; a cookie alone never changes anything. Sessions end at a fixed lifetime, after an
 * idle spell, or at sign-out.
 */
export interface SessionOptions {
  /** The longest a session lives, from sign-in. Default 8 hours. */
  readonly ttlMs?: number;
  /** A session unused this long ends. Default 1 hour (the console's live view polls, so an open page stays signed in). */
  readonly idleMs?: number;
  /** Sessions held at most; the oldest goes first. Default 10,000. */
  readonly maxSessions?: number;
  /** Served over TLS: the cookie is Secure and `__Host-` prefixed. */
  readonly secure: boolean;
  /** Wall clock in ms (session expiry only; no decision reads it). */
  readonly now?: () => number;
}

export interface Session {
  readonly principal: Principal;
  readonly csrfToken: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  lastUsedAt: number;
}

/** The header a cookie-authenticated state change must carry the session's CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const isSafeMethod = (method: string): boolean => SAFE_METHODS.has(method.toUpperCase());

export class SessionStore {
  readonly cookieName: string;
  private readonly sessions = new Map<string, Session>();
  private readonly ttlMs: number;
  private readonly idleMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(private readonly options: SessionOptions) {
    this.cookieName = options.secure ? '__Host-opx_session' : 'opx_session';
    this.ttlMs = options.ttlMs ?? 8 * 3_600_000;
    this.idleMs = options.idleMs ?? 3_600_000;
    this.maxSessions = options.maxSessions ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** A new session for a principal that proved itself; returns the cookie value (shown once) and the session. */
  create(principal: Principal): { readonly id: string; readonly session: Session } {
    const now = this.now();
    this.sweep(now);
    while (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value as string);
    const id = randomBytes(32).toString('base64url');
    const session: Session = { principal, csrfToken: randomBytes(32).toString('base64url'), createdAt: now, expiresAt: now + this.ttlMs, lastUsedAt: now };
    this.sessions.set(sha256Hex(id), session);
    return { id, session };
  }

  /** The live session a request's cookie names (its idle clock restarted), or undefined. */
  find(headers: IncomingHttpHeaders): Session | undefined {
    const id = cookieValue(headers.cookie, this.cookieName);
    if (id === undefined || id.length > 100) return undefined;
    const key = sha256Hex(id);
    const session = this.sessions.get(key);
    if (session === undefined) return undefined;
    const now = this.now();
    if (now >= session.expiresAt || now - session.lastUsedAt >= this.idleMs) {
      this.sessions.delete(key);
      return undefined;
    }
    session.lastUsedAt = now;
    return session;
  }

  /** Ends the session a request's cookie names. */
  end(headers: IncomingHttpHeaders): void {
    const id = cookieValue(headers.cookie, this.cookieName);
    if (id !== undefined) this.sessions.delete(sha256Hex(id));
  }

  /** The Set-Cookie value that holds a new session. */
  setCookie(id: string): string {
    return `${this.cookieName}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.ttlMs / 1000)}${this.options.secure ? '; Secure' : ''}`;
  }

  /** The Set-Cookie value that removes it. */
  clearCookie(): string {
    return `${this.cookieName}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${this.options.secure ? '; Secure' : ''}`;
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(now: number): void {
    for (const [key, s] of this.sessions) if (now >= s.expiresAt || now - s.lastUsedAt >= this.idleMs) this.sessions.delete(key);
  }
}

/** Whether a request carries the session's CSRF token (compared in constant time). */
export function csrfTokenMatches(headers: IncomingHttpHeaders, session: Session): boolean {
  const sent = headers[CSRF_HEADER];
  if (typeof sent !== 'string') return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(session.csrfToken);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Whether a state change comes from a page of this origin, as far as the browser says:
 * `Sec-Fetch-Site` when sent (every current browser sends it), else `Origin` against `Host`. A
 * request that says neither is not a browser's cross-site request (a browser sends one or the
 * other with every cross-site POST), and still needs the session's CSRF token.
 */
export function sameOrigin(headers: IncomingHttpHeaders, secure: boolean): boolean {
  const site = headers['sec-fetch-site'];
  // A browser that says where the request comes from is believed (a proxy may rewrite Host, never this).
  if (typeof site === 'string') return site === 'same-origin';
  const origin = headers.origin;
  if (typeof origin !== 'string') return true;
  return origin === `${secure ? 'https' : 'http'}://${headers.host ?? ''}`;
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The principal a session proves, as the operator API records it. */
export const sessionPrincipal = (session: Session): Authenticated => ({ principal: session.principal, method: 'session' });
