import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/**
 * The server's users, EventStoreDB-style: a name, the groups it belongs to (`$admins`, `$ops`),
 * and a hash of its password, never the password.
 *
 * A password a person chooses (or is given once) is hashed with scrypt, whose cost (tens of ms, on
 * purpose) is what stands between a stolen users file and the passwords in it. A secret the
 * process generated itself (256 random bits, the in-process store's own user, never written
 * down) needs no such stretching: it is kept as its SHA-256. A successful check is remembered by
 * a SHA-256 of the credentials until the users change, so scrypt runs once per user per process.
 */
export const ADMINS = '$admins';
export const OPS = '$ops';

export type PasswordHash =
  | { readonly kdf: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string; readonly hash: string }
  | { readonly kdf: 'sha256'; readonly hash: string };

export interface User {
  readonly name: string;
  readonly groups: readonly string[];
  readonly password: PasswordHash;
}

export interface Principal {
  readonly name: string;
  /** The user's name and groups: what ACL entries name. */
  readonly roles: readonly string[];
}

/** Node's scrypt defaults (16 MiB, ~50 ms here), recorded with each hash so they can be raised later. */
export const SCRYPT_PARAMETERS = { N: 16_384, r: 8, p: 1 } as const;
const SCRYPT_KEY_LENGTH = 32;
/** Shortest password a person may choose. */
export const MIN_PASSWORD_LENGTH = 12;
/** Bytes of a generated secret (process users): 256 bits. */
const GENERATED_SECRET_BYTES = 32;

/** A user name or password that cannot be used, a user that exists already or does not exist. */
export class UserStoreError extends Error {
  override readonly name = 'UserStoreError';
}

/** Names: 1-64 of letters, digits, `.`, `_`, `@`, `-`; not starting with `$` (groups do) and no `:` (basic auth splits on it). */
export function checkUserName(name: string): string {
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) {
    throw new UserStoreError(`user name '${name}' is not usable: use 1-64 letters, digits, '.', '_', '@' or '-'`);
  }
  return name;
}

/** A password a person chose: at least {@link MIN_PASSWORD_LENGTH} characters, no control characters. */
export function checkPassword(password: string, source: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) throw new UserStoreError(`${source}: a password needs at least ${MIN_PASSWORD_LENGTH} characters, got ${password.length}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(password)) throw new UserStoreError(`${source}: a password may not contain control characters (a stray newline?)`);
  return password;
}

/** A password for a person, generated: 24 characters of base64url (144 bits). */
export const generatePassword = (): string => randomBytes(18).toString('base64url');

/** A secret for a process's own user: 256 bits, base64url. */
export const generateSecret = (): string => randomBytes(GENERATED_SECRET_BYTES).toString('base64url');

export function hashPassword(password: string, salt = randomBytes(16).toString('base64')): PasswordHash {
  const { N, r, p } = SCRYPT_PARAMETERS;
  return { kdf: 'scrypt', N, r, p, salt, hash: scrypt(password, salt, SCRYPT_KEY_LENGTH, N, r, p).toString('base64') };
}

const scrypt = (password: string, salt: string, length: number, N: number, r: number, p: number): Buffer =>
  scryptSync(password, salt, length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

export class UserStore {
  readonly #users = new Map<string, User>();
  readonly #verified = new Map<string, Principal>();
  #generation = 0;

  /** Changes whenever a user is added, changed or removed: a principal found before is to be checked again. */
  get generation(): number {
    return this.#generation;
  }

  constructor(users: readonly User[] = []) {
    for (const user of users) this.#users.set(user.name, user);
  }

  get size(): number {
    return this.#users.size;
  }

  /** Every user, by name. */
  list(): readonly User[] {
    return [...this.#users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): User | undefined {
    return this.#users.get(name);
  }

  /** Adds a user whose password a person chose or was given (scrypt); refuses a name in use. */
  add(name: string, password: string, groups: readonly string[]): User {
    checkUserName(name);
    if (this.#users.has(name)) throw new UserStoreError(`user '${name}' exists already`);
    return this.#put({ name, groups: [...groups], password: hashPassword(password) });
  }

  /**
   * Adds a process's own user with a secret from {@link generateSecret} (SHA-256: see above).
   * For secrets that live in memory only; the users file refuses them.
   */
  addGenerated(name: string, secret: string, groups: readonly string[]): User {
    checkUserName(name);
    if (Buffer.from(secret, 'base64url').length < GENERATED_SECRET_BYTES) throw new UserStoreError('a generated secret has 256 bits: make it with generateSecret()');
    if (this.#users.has(name)) throw new UserStoreError(`user '${name}' exists already`);
    return this.#put({ name, groups: [...groups], password: { kdf: 'sha256', hash: sha256(secret).toString('base64') } });
  }

  setPassword(name: string, password: string): User {
    const user = this.#users.get(name);
    if (user === undefined) throw new UserStoreError(`there is no user '${name}'`);
    return this.#put({ ...user, password: hashPassword(password) });
  }

  /** Removes a user; refuses to remove the last member of `$admins` (nobody could manage the server). */
  remove(name: string): void {
    const user = this.#users.get(name);
    if (user === undefined) throw new UserStoreError(`there is no user '${name}'`);
    if (user.groups.includes(ADMINS) && this.list().filter((u) => u.groups.includes(ADMINS)).length === 1) {
      throw new UserStoreError(`'${name}' is the last member of ${ADMINS}: add another admin first`);
    }
    this.#users.delete(name);
    this.#verified.clear();
    this.#generation++;
  }

  /** The principal for these credentials, or undefined when the user is unknown or the password wrong. */
  verify(name: string, password: string): Principal | undefined {
    const key = createHash('sha256').update(name).update('\u0000').update(password).digest('base64');
    const known = this.#verified.get(key);
    if (known !== undefined) return known;
    const user = this.#users.get(name);
    if (user === undefined || !matches(user.password, password)) return undefined;
    const principal = { name, roles: [name, ...user.groups] };
    this.#verified.set(key, principal);
    return principal;
  }

  #put(user: User): User {
    this.#users.set(user.name, user);
    this.#verified.clear();
    this.#generation++;
    return user;
  }
}

function matches(stored: PasswordHash, password: string): boolean {
  const expected = Buffer.from(stored.hash, 'base64');
  const actual = stored.kdf === 'scrypt' ? scrypt(password, stored.salt, expected.length, stored.N, stored.r, stored.p) : sha256(password);
  return actual.length === expected.length && timingSafeEqual(expected, actual);
}
