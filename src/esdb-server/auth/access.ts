import grpc from '@grpc/grpc-js';
import { RpcError } from '../rpc.js';
import type { EventStoreCore } from '../store.js';
import { isMetastream, originalStreamOf } from '../system-streams.js';
import { ADMINS, OPS, type Principal, type UserStore } from './users.js';

/**
 * Who may do what, with EventStoreDB's semantics (its LegacyStreamPermissionAssertion and default
 * policy, read, never copied):
 * - every call carries credentials (basic auth in the `authorization` header, from the connection
 *   string or per call); none or wrong ones are refused (UNAUTHENTICATED), nothing is anonymous;
 * - writing or deleting `$all`, and deleting a metastream, are denied to everyone;
 * - `$admins` may do everything else;
 * - otherwise a stream's `$acl` (in its metadata: `$r`, `$w`, `$d`, `$mr`, `$mw`, a role or a list)
 *   decides, action by action, falling back to `$settings` (`$userStreamAcl`, `$systemStreamAcl`)
 *   and then to the defaults: every user (`$all`) on user streams, `$admins` on `$` streams;
 *   a metastream `$$x` is x's metadata: its `$mr` / `$mw`;
 * - subscription groups are created, updated, deleted and replayed by `$admins` and `$ops`.
 */
export type StreamAction = 'read' | 'write' | 'delete';
type AclAction = '$r' | '$w' | '$d' | '$mr' | '$mw';

const SETTINGS_STREAM = '$settings';
const EVERYONE = '$all';

export const accessDenied = (): RpcError => new RpcError(grpc.status.PERMISSION_DENIED, 'Access Denied', { exception: 'access-denied' });
const unauthenticated = (why: string): RpcError => new RpcError(grpc.status.UNAUTHENTICATED, why, { exception: 'access-denied' });

export class AccessControl {
  constructor(
    private readonly users: UserStore,
    private readonly store: EventStoreCore,
  ) {}

  /**
   * Each call's principal while the users are unchanged: a call's metadata is one object for all
   * its messages, so a batch append authenticates once per call, not once per append (a hash of
   * the credentials each time, ~5 us here).
   */
  readonly #byCall = new WeakMap<grpc.Metadata, { readonly principal: Principal; readonly generation: number }>();

  /** The caller, from the call's basic-auth header; refuses a call without valid credentials. */
  authenticate(metadata: grpc.Metadata): Principal {
    const known = this.#byCall.get(metadata);
    if (known !== undefined && known.generation === this.users.generation) return known.principal;
    const header = metadata.get('authorization')[0];
    if (typeof header !== 'string' || !header.startsWith('Basic ')) throw unauthenticated('credentials are required');
    const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const principal = colon < 0 ? undefined : this.users.verify(decoded.slice(0, colon), decoded.slice(colon + 1));
    if (principal === undefined) throw unauthenticated('bad username or password');
    this.#byCall.set(metadata, { principal, generation: this.users.generation });
    return principal;
  }

  /** Throws AccessDenied unless `principal` may do `action` on `streamId` (`$all` included). */
  checkStream(principal: Principal, action: StreamAction, streamId: string): void {
    if (streamId === '$all' && action !== 'read') throw accessDenied();
    if (isMetastream(streamId) && action === 'delete') throw accessDenied();
    if (principal.roles.includes(ADMINS)) return;
    const metadata = isMetastream(streamId);
    const subject = metadata ? originalStreamOf(streamId) : streamId;
    const aclAction: AclAction = metadata ? (action === 'read' ? '$mr' : '$mw') : action === 'read' ? '$r' : action === 'write' ? '$w' : '$d';
    const roles = this.#rolesFor(subject, aclAction);
    if (!roles.some((role) => role === EVERYONE || principal.roles.includes(role))) throw accessDenied();
  }

  /** Creating, updating, deleting and replaying subscription groups: `$admins` and `$ops`. */
  checkGroupManagement(principal: Principal): void {
    if (!principal.roles.includes(ADMINS) && !principal.roles.includes(OPS)) throw accessDenied();
  }

  #rolesFor(streamId: string, action: AclAction): readonly string[] {
    const own = aclOf(this.store.metadataJsonOf(streamId)['$acl'], action);
    if (own !== undefined) return own;
    const system = streamId.startsWith('$');
    const settings = this.store.lastEventJsonOf(SETTINGS_STREAM);
    const fallback = aclOf(settings?.[system ? '$systemStreamAcl' : '$userStreamAcl'], action);
    if (fallback !== undefined) return fallback;
    return system ? [ADMINS] : [EVERYONE];
  }
}

const aclOf = (acl: unknown, action: AclAction): readonly string[] | undefined => {
  if (typeof acl !== 'object' || acl === null) return undefined;
  const value = (acl as Record<string, unknown>)[action];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  return undefined;
};

/** What the services ask before they act: with authentication on, an AccessControl; off (insecure), nothing. */
export interface Gate {
  /** The caller may do `action` on `streamId`. */
  stream(metadata: grpc.Metadata, action: StreamAction, streamId: string): void;
  /** The caller may manage subscription groups. */
  manage(metadata: grpc.Metadata): void;
  /** The caller is authenticated. */
  authenticated(metadata: grpc.Metadata): void;
}

export const openGate: Gate = { stream: () => undefined, manage: () => undefined, authenticated: () => undefined };

export const gateOf = (access: AccessControl): Gate => ({
  stream: (metadata, action, streamId) => access.checkStream(access.authenticate(metadata), action, streamId),
  manage: (metadata) => access.checkGroupManagement(access.authenticate(metadata)),
  authenticated: (metadata) => void access.authenticate(metadata),
});
