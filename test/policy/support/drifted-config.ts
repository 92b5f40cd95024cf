import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { DEFAULT_CONFIG_DIR } from '../../../src/container/config.js';
import { POLICY_LOCK_FILE } from '../../../src/promotion/policy-lock.js';
import { tempDir } from '../../cli/opx-cli.js';

/** A copy of the bundled config with standard-promotion@1.0.0 edited under its version (SEV2 bursts deferred are promoted: the 92 candidates). */
export function driftedConfigDir(options: { readonly lock: boolean }): string {
  const dir = tempDir('drifted-policy');
  cpSync(DEFAULT_CONFIG_DIR, dir, { recursive: true });
  if (!options.lock) rmSync(join(dir, POLICY_LOCK_FILE));
  const path = join(dir, 'policies', 'standard-promotion@1.0.0.json');
  const policy = JSON.parse(readFileSync(path, 'utf8')) as { rules: Array<{ name: string; decision: string }>; default: { decision: string } };
  for (const rule of policy.rules) if (rule.name === 'sev2-small-defer') rule.decision = 'PROMOTE';
  policy.default.decision = 'PROMOTE';
  writeFileSync(path, JSON.stringify(policy, null, 2));
  return dir;
}
