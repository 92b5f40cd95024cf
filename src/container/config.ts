import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { AuthorityMatrix } from '../authority/authority-matrix.js';
import { parseCorrelationRules, type CorrelationRuleSet } from '../correlation/correlation-rule.js';
import { PolicyRegistry } from '../promotion/policy.js';
import { parsePolicyLock, POLICY_LOCK_FILE, type PolicyLock } from '../promotion/policy-lock.js';
import { DEFAULT_SOURCES, parseSourcesConfig, type SourcesConfig } from '../signals/source-mapping.js';
import { parseUntrustedJson } from '../shared/canonical-json.js';
import { InvalidInput } from '../shared/errors.js';

/** Everything decisions depend on that is data, not code: loaded once at the composition root. */
export interface OpxConfig {
  readonly policies: PolicyRegistry;
  readonly authorityMatrix: AuthorityMatrix;
  readonly correlationRules: CorrelationRuleSet;
  /** How alert sources map onto signals (config/sources.json; built-in defaults when absent). */
  readonly sources: SourcesConfig;
  /**
   * The hash each policy version was approved with (config/policies.lock.json, written by
   * `opx policies lock`), when the config has one: a policy that differs is refused wherever a
   * decision could be made under it.
   */
  readonly policyLock?: PolicyLock;
}

/** The package's own config/ folder (dist/src/container -> ../../../config). */
export const DEFAULT_CONFIG_DIR = resolve(fileURLToPath(new URL('../../../config', import.meta.url)));

const CONFIG_LIMITS = { maxBytes: 1024 * 1024, maxDepth: 16 };

const readJson = (path: string): unknown => parseUntrustedJson(readFileSync(path, 'utf8'), path, CONFIG_LIMITS);

/**
 * Reads config/policies/*.json, config/authority-matrix.json and config/correlation-rules.json,
 * and config/sources.json and config/policies.lock.json when present. Loading does not refuse a
 * policy that differs from its lock: an audit must still load it to report the drift; whatever
 * decides checks the lock first (see orchestrationModule, guardPolicies).
 */
export function loadConfig(dir: string = process.env['OPX_CONFIG_DIR'] || DEFAULT_CONFIG_DIR): OpxConfig {
  const policyDir = join(dir, 'policies');
  const policyFiles = readdirSync(policyDir).filter((f) => f.endsWith('.json')).sort();
  const lockPath = join(dir, POLICY_LOCK_FILE);
  return checkedConfig({
    ...(existsSync(lockPath) ? { policyLock: parsePolicyLock(readJson(lockPath), lockPath) } : {}),
    policies: PolicyRegistry.fromDocuments(
      policyFiles.map((f) => readJson(join(policyDir, f))),
      policyFiles.map((f) => join(policyDir, f)),
    ),
    authorityMatrix: AuthorityMatrix.fromDocument(readJson(join(dir, 'authority-matrix.json'))),
    correlationRules: parseCorrelationRules(readJson(join(dir, 'correlation-rules.json'))),
    sources: existsSync(join(dir, 'sources.json')) ? parseSourcesConfig(readJson(join(dir, 'sources.json'))) : DEFAULT_SOURCES,
  });
}

/** Refuses a configuration whose correlation rules name a policy version the registry lacks. */
export function checkedConfig(config: OpxConfig): OpxConfig {
  const problems = config.correlationRules.rules
    .filter((rule) => config.policies.find(rule.policy.id, rule.policy.version) === undefined)
    .map((rule) => `correlation rule ${rule.id}@${rule.version} names policy ${rule.policy.id}@${rule.policy.version}, which is not in config/policies`);
  if (problems.length > 0) throw new InvalidInput('configuration', problems);
  return config;
}
