import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

import { Command } from 'commander';

import { newToken, PrincipalDirectory, ROLES, tokenHash, type PrincipalsDocument, type Role } from '../../principals/principals.js';
import { parseUntrustedJson } from '../../shared/canonical-json.js';
import type { CliContext } from '../context.js';
import { CliUsageError, EXIT, type ExitCode } from '../exit-codes.js';
import type { Action } from './action.js';

export function principalsCommand(action: Action): Command {
  const principals = new Command('principals').description('who may talk to OPX: principals with roles and hashed tokens');
  principals
    .command('add')
    .summary('add a principal (or a new token for one) to a principals file, printing the token once')
    .description(
      `add a principal with roles (${ROLES.join(', ')}) to FILE, or a further token to an existing one (token rotation), ` +
        'creating FILE (mode 0600) if needed. The token is printed once and only its SHA-256 is kept: give it to the ' +
        'principal (Alertmanager: http_config.authorization.credentials); it cannot be shown again.',
    )
    .argument('<name>', 'the principal (a person or a sender such as alertmanager-prod)')
    .requiredOption('--file <file>', 'the principals file (give it to `opx serve --principals`)')
    .requiredOption('--role <role...>', `roles: ${ROLES.join(', ')}`)
    .action(action<{ file: string; role: string[] }>(async (ctx, [name], o) => add(ctx, name as string, o.file, o.role)));
  principals
    .command('list')
    .summary('the principals of a file and their roles (never their tokens)')
    .requiredOption('--file <file>', 'the principals file')
    .action(action<{ file: string }>(async (ctx, _args, o) => list(ctx, o.file)));
  return principals;
}

function read(file: string): PrincipalsDocument {
  if (!existsSync(file)) return { version: '1', principals: [] };
  const raw = parseUntrustedJson(readFileSync(file, 'utf8'), `principals file ${file}`, { maxBytes: 4 * 1024 * 1024, maxDepth: 8 });
  PrincipalDirectory.fromDocument(raw, `principals file ${file}`); // validated before it is changed
  return raw as PrincipalsDocument;
}

async function add(ctx: CliContext, name: string, file: string, roles: readonly string[]): Promise<ExitCode> {
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown.length > 0) throw new CliUsageError(`unknown role ${unknown.join(', ')}: roles are ${ROLES.join(', ')}`);
  const document = read(file);
  const token = newToken();
  const credential = { kind: 'token' as const, sha256: tokenHash(token) };
  const existing = document.principals.find((p) => p.name === name);
  const principals = existing === undefined
    ? [...document.principals, { name, roles: roles as Role[], credentials: [credential] }]
    : document.principals.map((p) => (p.name === name ? { ...p, roles: [...new Set([...p.roles, ...(roles as Role[])])], credentials: [...p.credentials, credential] } : p));
  const next: PrincipalsDocument = { version: document.version, principals };
  PrincipalDirectory.fromDocument(next, `principals file ${file}`);
  // Written whole to a temporary file, then moved over the old one: a crash never leaves half a file.
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
  ctx.output.result({ name, roles: principals.find((p) => p.name === name)?.roles ?? [], file, token }, () => [
    `${existing === undefined ? 'added' : 'added a token to'} principal ${name} in ${file}`,
    `token (shown once, keep it secret): ${token}`,
  ]);
  return EXIT.OK;
}

async function list(ctx: CliContext, file: string): Promise<ExitCode> {
  if (!existsSync(file)) throw new CliUsageError(`principals file ${file} does not exist`);
  const document = read(file);
  const rows = document.principals.map((p) => ({ name: p.name, roles: p.roles, tokens: p.credentials.length }));
  ctx.output.result({ principals: rows }, () => (rows.length === 0 ? ['no principals'] : rows.map((r) => `${r.name}  ${r.roles.join(',')}  ${r.tokens} token${r.tokens === 1 ? '' : 's'}`)));
  return EXIT.OK;
}
