import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/**
 * The server's users, EventStoreDB-style: a name, the groups it belongs to (`$admins`, `$ops`),
 * and a scrypt hash of its password, never the password. Verifying a password costs a scrypt (tens of ms, on purpose), so a successful
 * check is remembered by a SHA-256 of the credentials for the life of the process.
 */
export const ADMINS = '$admins';
export const OPS = '$ops';

export interface User {
  readonly name: string;
  readonly groups: readonly string[];
  readonly salt: string;
  readonly hash: string;
}

export interface Principal {
  readonly name: string;
  /** The user's name and groups: what ACL entries name. */
  readonly roles: readonly string[];
}

const SCRYPT_KEY_LENGTH = 32;

export const hashPassword = (password: string, salt = randomBytes(16).toString('base64')): { salt: string; hash: string } => ({
  salt,
  hash: scryptSync(password, salt, SCRYPT_KEY_LENGTH).toString('base64'),
});

export class UserStore {
  readonly #users = new Map<string, User>();
  readonly #verified = new Map<string, Principal>();

  constructor(users: readonly User[]) {
    for (const user of users) this.#users.set(user.name, user);
  }

  get size(): number {
    return this.#users.size;
  }

  add(name: string, password: string, groups: readonly string[]): void {
    this.#users.set(name, { name, groups, ...hashPassword(password) });
  }

  /** The principal for these credentials, or undefined when the user is unknown or the password wrong. */
  verify(name: string, password: string): Principal | undefined {
    const key = createHash('sha256').update(name).update('\u0000').update(password).digest('base64');
    const known = this.#verified.get(key);
    if (known !== undefined) return known;
    const user = this.#users.get(name);
    if (user === undefined) return undefined;
    const expected = Buffer.from(user.hash, 'base64');
    const actual = scryptSync(password, user.salt, expected.length);
    if (!timingSafeEqual(expected, actual)) return undefined;
    const principal = { name, roles: [name, ...user.groups] };
    this.#verified.set(key, principal);
    return principal;
  }
}
