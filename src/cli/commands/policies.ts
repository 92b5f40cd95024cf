import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { Command } from 'commander';

import { lockProblems, lockFileText, nameOf, nextLock, POLICY_LOCK_FILE, PolicyChanged } from '../../promotion/policy-lock.js';
import { historyProblems, updatePolicyRecord } from '../../promotion/policy-record.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { table } from '../output.js';
import type { Action } from './action.js';

export function policiesCommand(action: Action): Command {
  const policies = new Command('policies').description('promotion policies and their lock');
  policies
    .command('lock')
    .summary(`record each policy version's content hash in the config's ${POLICY_LOCK_FILE}`)
    .description(
      `write ${POLICY_LOCK_FILE} beside the configuration (OPX_CONFIG_DIR, or the package's config/): the SHA-256 of ` +
        'each policy version, to commit with it. A version locked already keeps its hash: a policy file changed under ' +
        'it is refused (exit 1, naming the file, the version and both hashes), here and by every runtime that decides. ' +
        'New versions are added; versions no longer in the config stay locked.',
    )
    .action(action(async (ctx) => lock(ctx)));
  policies
    .command('check')
    .summary('check the config\'s policies against the lock file and against the hashes history recorded')
    .description(
      `check each policy version of the configuration against ${POLICY_LOCK_FILE} and against the policy hash the ` +
        'decisions recorded in the store carry: exit 1 when one differs (what process, worker and serve refuse to ' +
        'start with), or when history already holds decisions under two contents of one version. Writes nothing.',
    )
    .action(action(async (ctx) => check(ctx)));
  return policies;
}

async function lock(ctx: CliContext): Promise<ExitCode> {
  const config = ctx.config;
  const path = join(ctx.configDir, POLICY_LOCK_FILE);
  const { lock: next, added } = nextLock(config.policies, config.policyLock, path, (policy) => (policy.source === undefined ? undefined : relative(ctx.configDir, policy.source)));
  // Written whole through a temporary file: a lock is never half-written.
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, lockFileText(next));
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
  const kept = next.policies.size - added.length;
  ctx.output.result({ lockFile: path, added, locked: [...next.policies.keys()].sort() }, () => [
    `${path}: ${added.length} version${added.length === 1 ? '' : 's'} added${added.length > 0 ? ` (${added.join(', ')})` : ''}, ${kept} locked already`,
    'commit it with the configuration',
  ]);
  return EXIT.OK;
}

async function check(ctx: CliContext): Promise<ExitCode> {
  const config = ctx.config;
  const record = await updatePolicyRecord(await ctx.history(), { write: false });
  const problems = [...lockProblems(config.policies, config.policyLock), ...historyProblems(config.policies, record)];
  const changed = new Set(problems.map((p) => `${p.policy}:${p.recordedIn.kind}`));
  const rows = config.policies
    .all()
    .map((policy) => {
      const name = nameOf(policy);
      const locked = config.policyLock?.policies.get(name);
      const recorded = record.policies.get(name);
      return {
        policy: name,
        sha256: policy.hash,
        file: policy.source ?? null,
        lock: locked === undefined ? 'unlocked' : changed.has(`${name}:lock`) ? 'CHANGED' : 'locked',
        history: recorded === undefined ? 'not decided' : changed.has(`${name}:history`) ? 'CHANGED' : 'decided',
      };
    })
    .sort((a, b) => (a.policy < b.policy ? -1 : 1));
  const report = { lockFile: config.policyLock?.path ?? null, policies: rows, problems, conflictsInHistory: record.conflicts };
  ctx.output.result(report, () => [
    ...table(
      ['POLICY', 'SHA256', 'LOCK', 'HISTORY'],
      rows.map((r) => [r.policy, r.sha256.slice(0, 16), r.lock, r.history]),
    ),
    config.policyLock === undefined ? `no ${POLICY_LOCK_FILE} in ${ctx.configDir}: \`opx policies lock\` writes one` : `lock file ${config.policyLock.path}`,
    ...(problems.length > 0 ? [PolicyChanged.of(problems).message] : []),
    ...record.conflicts.map((c) => `history holds decisions under another content of ${c.policy} too: sha256 ${c.sha256} (first: ${c.decisionId} on ${c.streamId} revision ${c.revision})`),
  ]);
  return problems.length > 0 || record.conflicts.length > 0 ? EXIT.REFUSED : EXIT.OK;
}
