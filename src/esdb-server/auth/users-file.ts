import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { UserStore, UserStoreError, checkUserName, type PasswordHash, type User } from './users.js';

/**
 * A data dir's users: `<dataDir>/opx-users.json`, 0600 like the rest of the data dir, holding
 * names, groups and scrypt hashes. It is read when the server starts and written by the first
 * start (the initial admin) and by `opx store users`, both holding the data dir's lock, so a
 * running server and an edit never meet. Written whole to a temporary file, synced, then renamed
 * over the old one: a crash leaves the old file or the new one, never half of either.
 */
export const USERS_FILE = 'opx-users.json';
const FORMAT = 'opx-users/1';

export const usersFileOf = (dataDir: string): string => join(dataDir, USERS_FILE);

/** The data dir's users, or undefined when it has no users file yet (a first start). */
export function loadUsers(dataDir: string): UserStore | undefined {
  const path = usersFileOf(dataDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserStoreError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UserStoreError(`${path} is not JSON: ${(error as Error).message}`);
  }
  return new UserStore(parseUsers(parsed, path));
}

export function saveUsers(dataDir: string, users: UserStore): void {
  const path = usersFileOf(dataDir);
  const records = users.list().map((user) => {
    if (user.password.kdf !== 'scrypt') throw new UserStoreError(`user '${user.name}' has a generated secret, which is never written down`);
    return user;
  });
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ format: FORMAT, users: records }, null, 2)}\n`);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, path);
}

function parseUsers(value: unknown, path: string): User[] {
  const fail = (where: string, what: string): never => {
    throw new UserStoreError(`${path}: ${where} ${what}`);
  };
  if (!isRecord(value)) return fail('the file', 'must hold a JSON object');
  if (value['format'] !== FORMAT) return fail('format', `must be '${FORMAT}', got ${JSON.stringify(value['format'])}`);
  const users = value['users'];
  if (!Array.isArray(users)) return fail('users', 'must be an array');
  const seen = new Set<string>();
  return users.map((raw: unknown, i): User => {
    const at = `users[${i}]`;
    if (!isRecord(raw)) return fail(at, 'must be an object');
    const name = raw['name'];
    if (typeof name !== 'string') return fail(`${at}.name`, 'must be a string');
    try {
      checkUserName(name);
    } catch (error) {
      return fail(`${at}.name`, (error as Error).message);
    }
    if (seen.has(name)) return fail(`${at}.name`, `'${name}' appears twice`);
    seen.add(name);
    const groups = raw['groups'];
    if (!Array.isArray(groups) || !groups.every((g): g is string => typeof g === 'string')) return fail(`${at}.groups`, 'must be an array of strings');
    return { name, groups, password: parseHash(raw['password'], `${at}.password`, fail) };
  });
}

function parseHash(value: unknown, at: string, fail: (where: string, what: string) => never): PasswordHash {
  if (!isRecord(value)) return fail(at, 'must be an object');
  if (value['kdf'] !== 'scrypt') return fail(`${at}.kdf`, `must be 'scrypt', got ${JSON.stringify(value['kdf'])}`);
  const { N, r, p, salt, hash } = value;
  for (const [field, n] of [['N', N], ['r', r], ['p', p]] as const) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) fail(`${at}.${field}`, 'must be a positive integer');
  }
  if (typeof N !== 'number' || (N & (N - 1)) !== 0 || N < 2) fail(`${at}.N`, 'must be a power of 2');
  for (const [field, text] of [['salt', salt], ['hash', hash]] as const) {
    if (typeof text !== 'string' || text === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) fail(`${at}.${field}`, 'must be a base64 string');
  }
  return { kdf: 'scrypt', N: N, r: r as number, p: p as number, salt: salt as string, hash: hash as string };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
