import { resolve } from 'node:path';

import { Command } from 'commander';

import { SecurityConfigError, readPasswordFile } from '../../esdb-server/auth/server-security.js';
import { loadUsers, saveUsers, usersFileOf } from '../../esdb-server/auth/users-file.js';
import { ADMINS, OPS, UserStore, UserStoreError, checkPassword, generatePassword } from '../../esdb-server/auth/users.js';
import type { CliContext } from '../context.js';
import { CliUsageError, EXIT, type ExitCode } from '../exit-codes.js';
import { DEFAULT_DATA_DIR, lockDataDir } from '../store-selection.js';
import type { Action } from './action.js';

interface UserOptions {
  readonly admin?: boolean;
  readonly ops?: boolean;
  readonly passwordFile?: string;
}

/**
 * `opx store users`: the users of a data dir that `opx store serve` checks credentials against
 * (`<dir>/opx-users.json`, scrypt hashes). Edits hold the data dir's lock, so they are made while
 * the server is stopped and take effect at its next start.
 */
export function usersCommand(action: Action): Command {
  const users = new Command('users')
    .summary("the users of a data dir's server (stop the server first)")
    .description(
      `the users \`opx store serve\` lets in, kept hashed (scrypt) in DIR/opx-users.json (--data DIR, default ${DEFAULT_DATA_DIR}). ` +
        'Groups: $admins may do everything; $ops may also manage subscription groups; other users read and write user streams ' +
        "(as stream ACLs and $settings allow). Passwords come from --password-file, else one is generated and printed once.",
    );
  users
    .command('list')
    .description('list users and their groups')
    .action(action<Record<string, never>>(async (ctx) => edit(ctx, 'opx store users list', (store) => listed(store))));
  const withGroups = (command: Command): Command =>
    command.option('--admin', `in ${ADMINS}: may do everything`).option('--ops', `in ${OPS}: may manage subscription groups`);
  withGroups(users.command('add').description('add a user').argument('<name>'))
    .option('--password-file <file>', 'its password (first line; at least 12 characters); default: generated and printed once')
    .action(
      action<UserOptions>(async (ctx, args, o) =>
        edit(ctx, 'opx store users add', (store, fresh) => {
          const groups = [...(o.admin === true ? [ADMINS] : []), ...(o.ops === true ? [OPS] : [])];
          if (fresh && !groups.includes(ADMINS)) {
            throw new CliUsageError(`the data dir has no users yet: the first one must be in ${ADMINS} (--admin), or start \`opx store serve\` once to make 'admin'`);
          }
          const { password, generated } = passwordOf(o);
          const name = String(args[0]);
          store.add(name, password, groups);
          return { changed: true, result: { user: name, groups, ...(generated ? { password } : {}) }, human: shown(name, password, generated, `added ${name}${groups.length === 0 ? '' : ` (${groups.join(', ')})`}`) };
        }),
      ),
    );
  users
    .command('passwd')
    .description("change a user's password")
    .argument('<name>')
    .option('--password-file <file>', 'the new password (first line); default: generated and printed once')
    .action(
      action<UserOptions>(async (ctx, args, o) =>
        edit(ctx, 'opx store users passwd', (store, fresh) => {
          if (fresh) throw new CliUsageError('the data dir has no users yet: start `opx store serve` once, or `opx store users add NAME --admin`');
          const { password, generated } = passwordOf(o);
          const name = String(args[0]);
          store.setPassword(name, password);
          return { changed: true, result: { user: name, ...(generated ? { password } : {}) }, human: shown(name, password, generated, `changed the password of ${name}`) };
        }),
      ),
    );
  users
    .command('remove')
    .description('remove a user (never the last admin)')
    .argument('<name>')
    .action(
      action<Record<string, never>>(async (ctx, args) =>
        edit(ctx, 'opx store users remove', (store) => {
          const name = String(args[0]);
          store.remove(name);
          return { changed: true, result: { removed: name }, human: [`removed ${name}`] };
        }),
      ),
    );
  return users;
}

interface Edit {
  readonly changed: boolean;
  readonly result: unknown;
  readonly human?: readonly string[];
}

async function edit(ctx: CliContext, purpose: string, change: (store: UserStore, fresh: boolean) => Edit): Promise<ExitCode> {
  const { data, memory, connection } = ctx.options;
  if (memory === true || connection !== undefined) throw new CliUsageError("store users edits a data dir's users: use --data DIR (or the default)");
  const dir = data ?? DEFAULT_DATA_DIR;
  const release = lockDataDir({ dir, explicit: data !== undefined, create: ctx.options.create === true }, purpose);
  let outcome: Edit;
  try {
    const existing = loadUsers(dir);
    const store = existing ?? new UserStore();
    outcome = change(store, existing === undefined);
    if (outcome.changed) saveUsers(dir, store);
  } catch (error) {
    if (error instanceof UserStoreError || error instanceof SecurityConfigError) throw new CliUsageError(error.message);
    throw error;
  } finally {
    release();
  }
  ctx.output.result(outcome.result, () => [...(outcome.human ?? []), ...(outcome.changed ? [`  (${resolve(usersFileOf(dir))}; the server reads it when it starts)`] : [])]);
  return EXIT.OK;
}

function listed(store: UserStore): Edit {
  const users = store.list().map((user) => ({ name: user.name, groups: user.groups }));
  const human = users.length === 0 ? ['no users (the first `opx store serve` makes admin)'] : users.map((u) => `${u.name}${u.groups.length === 0 ? '' : `  ${u.groups.join(', ')}`}`);
  return { changed: false, result: { users }, human };
}

function passwordOf(o: UserOptions): { password: string; generated: boolean } {
  if (o.passwordFile === undefined) return { password: generatePassword(), generated: true };
  return { password: checkPassword(readPasswordFile(o.passwordFile, '--password-file'), `--password-file ${o.passwordFile}`), generated: false };
}

const shown = (name: string, password: string, generated: boolean, done: string): string[] =>
  generated ? [done, `  password of ${name}: ${password}`, '  it is shown this once and stored only hashed: keep it'] : [done];
