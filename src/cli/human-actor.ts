import { Option, type Command } from 'commander';

import type { AuthorityType } from '../authority/authority.js';
import { actorOf, type Actor } from '../operators/human-acts.js';
import { PrincipalDirectory } from '../principals/principals.js';
import { AuthorityDenied } from '../authority/authority.js';
import { CliUsageError } from './exit-codes.js';

export const TOKEN_ENV = 'OPX_TOKEN';
export const PRINCIPALS_ENV = 'OPX_PRINCIPALS';
export const URL_ENV = 'OPX_URL';

export const HUMAN_ROLES = ['HUMAN_OPERATOR', 'ON_CALL_RESPONDER'] as const satisfies readonly AuthorityType[];

/** The options a human act takes: who you are (a token), where principals are, the role you act in, where to act. */
export interface HumanOptions {
  readonly token?: string;
  readonly principals?: string;
  readonly role?: AuthorityType;
  readonly url?: string;
}

/** Adds --token, --principals, --role and --url to a command that records a human act. */
export function humanOptions(command: Command): Command {
  return command
    .addOption(new Option('--token <token>', `your token (env ${TOKEN_ENV}): who you are, proven; without one nothing is recorded`))
    .addOption(new Option('--principals <file>', `the principals file that knows your token (env ${PRINCIPALS_ENV}); not needed with --url`))
    .addOption(new Option('--role <role>', 'the role you act in (one of yours; default: your first)').choices(HUMAN_ROLES))
    .addOption(new Option('--url <url>', `act through the operator API of \`opx serve\` at this URL (env ${URL_ENV}) instead of on the store`));
}

export function tokenOf(options: HumanOptions): string {
  const token = options.token ?? process.env[TOKEN_ENV];
  if (token === undefined || token.trim() === '') {
    throw new AuthorityDenied(
      { authorityType: options.role ?? 'HUMAN_OPERATOR', authorityId: '(unauthenticated)', sessionId: '-', justification: '' },
      'MANUAL_PROMOTE',
      `a human act needs your credential: --token or env ${TOKEN_ENV} (a principal's token, made with \`opx principals add\`); nothing was recorded`,
    );
  }
  return token.trim();
}

export const apiUrlOf = (options: HumanOptions): string | undefined => {
  const url = options.url ?? process.env[URL_ENV];
  return url === undefined || url.trim() === '' ? undefined : url.trim().replace(/\/+$/, '');
};

/** The actor a local human act is recorded for: the token's principal, proven against the principals file. */
export function localActor(options: HumanOptions): Actor {
  const token = tokenOf(options);
  const file = options.principals ?? process.env[PRINCIPALS_ENV];
  if (file === undefined || file === '') throw new CliUsageError(`--principals FILE (or env ${PRINCIPALS_ENV}) is needed to check your token on this machine; or act through the operator API with --url`);
  const principal = PrincipalDirectory.fromFile(file).authenticate(token);
  if (principal === undefined) {
    throw new AuthorityDenied({ authorityType: options.role ?? 'HUMAN_OPERATOR', authorityId: '(unknown token)', sessionId: '-', justification: '' }, 'MANUAL_PROMOTE', `the token is not one of ${file}'s; nothing was recorded`);
  }
  return actorOf({ principal, method: 'bearer' }, options.role, 'cli-token');
}
