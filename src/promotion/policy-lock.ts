import { OpxError, InvalidInput } from '../shared/errors.js';
import { policyKey, type Policy, type PolicyRegistry } from './policy.js';

/**
 * The policy lock: the content hash each policy version was approved with, committed beside the
 * configuration (`config/policies.lock.json`, written by `opx policies lock`). A policy version is
 * immutable; a document edited under a version it already has is refused at load, by every
 * runtime that can decide, so no decision is made under it (the replay audit only finds such drift
 * after the fact). History is the second reference: the hash its recorded decisions carry (see
 * policy-record.ts).
 */
export const POLICY_LOCK_FILE = 'policies.lock.json';
export const POLICY_LOCK_FORMAT = 1;

export interface PolicyLockEntry {
  /** SHA-256 of the policy document's RFC 8785 canonical JSON (the `policyHash` decisions record). */
  readonly sha256: string;
  /** The file it was locked from, relative to the config dir (for people; not checked). */
  readonly file?: string;
}

export interface PolicyLock {
  /** Where the lock was read from. */
  readonly path: string;
  /** `id@version` -> its locked hash. */
  readonly policies: ReadonlyMap<string, PolicyLockEntry>;
}

/** Where a policy's hash was recorded before, to tell an operator what the config disagrees with. */
export type HashReference =
  | { readonly kind: 'lock'; readonly path: string }
  | { readonly kind: 'history'; readonly streamId: string; readonly revision: string; readonly decisionId: string };

/** A policy whose content differs from the hash already recorded for its id@version. */
export class PolicyChanged extends OpxError {
  static readonly code = 'opx.policy.changed';

  private constructor(
    readonly problems: readonly PolicyChangeProblem[],
    message: string,
  ) {
    super(PolicyChanged.code, message);
  }

  static of(problems: readonly PolicyChangeProblem[]): PolicyChanged {
    const lines = problems.map(describeProblem);
    return new PolicyChanged(
      problems,
      `${lines.join('; ')}. A policy version is immutable: no decision is made under a changed one. ` + 'Put the change under a new version (then `opx policies lock`), or restore the file.',
    );
  }
}

export interface PolicyChangeProblem {
  readonly policy: string;
  /** The policy file in the configuration, when known. */
  readonly file: string | undefined;
  /** The hash of the file as it is now. */
  readonly currentHash: string;
  /** The hash recorded before for this id@version. */
  readonly recordedHash: string;
  readonly recordedIn: HashReference;
}

function describeProblem(p: PolicyChangeProblem): string {
  const where =
    p.recordedIn.kind === 'lock'
      ? `the lock file ${p.recordedIn.path} locks it at sha256 ${p.recordedHash}`
      : `history recorded decisions under sha256 ${p.recordedHash} (first: ${p.recordedIn.decisionId} on ${p.recordedIn.streamId} revision ${p.recordedIn.revision})`;
  return `policy ${p.policy}${p.file === undefined ? '' : ` in ${p.file}`} has sha256 ${p.currentHash}, but ${where}`;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A lock file's JSON, checked: `{ "format": 1, "policies": { "id@version": { "sha256": "...", "file": "..." } } }`. */
export function parsePolicyLock(raw: unknown, path: string): PolicyLock {
  const problems: string[] = [];
  const policies = new Map<string, PolicyLockEntry>();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidInput(path, ['expected a JSON object']);
  const document = raw as Record<string, unknown>;
  if (document['format'] !== POLICY_LOCK_FORMAT) problems.push(`format must be ${POLICY_LOCK_FORMAT}`);
  const entries = document['policies'];
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) problems.push('policies must be an object of id@version -> { sha256 }');
  else {
    for (const [name, value] of Object.entries(entries)) {
      const entry = value as Record<string, unknown> | null;
      if (!/^[^@\s]+@[^@\s]+$/.test(name)) problems.push(`policies.${name}: the key must be id@version`);
      else if (typeof entry !== 'object' || entry === null || typeof entry['sha256'] !== 'string' || !HEX64.test(entry['sha256'])) problems.push(`policies.${name}.sha256 must be 64 lowercase hex`);
      else if (entry['file'] !== undefined && typeof entry['file'] !== 'string') problems.push(`policies.${name}.file must be a string`);
      else policies.set(name, { sha256: entry['sha256'], ...(typeof entry['file'] === 'string' ? { file: entry['file'] } : {}) });
    }
  }
  for (const key of Object.keys(document)) if (key !== 'format' && key !== 'policies') problems.push(`${key} is not a field of a policy lock`);
  if (problems.length > 0) throw new InvalidInput(path, problems);
  return { path, policies };
}

/** The config's policies that differ from the lock (a version not in the lock is not checked by it). */
export function lockProblems(registry: PolicyRegistry, lock: PolicyLock | undefined): PolicyChangeProblem[] {
  if (lock === undefined) return [];
  const problems: PolicyChangeProblem[] = [];
  for (const policy of registry.all()) {
    const name = nameOf(policy);
    const locked = lock.policies.get(name);
    if (locked !== undefined && locked.sha256 !== policy.hash) {
      problems.push({ policy: name, file: policy.source, currentHash: policy.hash, recordedHash: locked.sha256, recordedIn: { kind: 'lock', path: lock.path } });
    }
  }
  return problems;
}

/** Throws {@link PolicyChanged} naming every policy of the config that differs from the lock. */
export function assertPoliciesMatchLock(registry: PolicyRegistry, lock: PolicyLock | undefined): void {
  const problems = lockProblems(registry, lock);
  if (problems.length > 0) throw PolicyChanged.of(problems);
}

/**
 * The lock after adding the config's policies: a version already locked keeps its hash (a changed
 * one is refused, with every problem named), a new version is added. Versions no longer in the
 * config stay locked: a version once approved keeps its content, even if its file comes back.
 */
export function nextLock(registry: PolicyRegistry, lock: PolicyLock | undefined, path: string, fileOf: (policy: Policy) => string | undefined): { lock: PolicyLock; added: string[] } {
  assertPoliciesMatchLock(registry, lock);
  const policies = new Map(lock?.policies ?? []);
  const added: string[] = [];
  for (const policy of registry.all()) {
    const name = nameOf(policy);
    if (policies.has(name)) continue;
    const file = fileOf(policy);
    policies.set(name, { sha256: policy.hash, ...(file === undefined ? {} : { file }) });
    added.push(name);
  }
  return { lock: { path, policies }, added: added.sort() };
}

/** The lock as the file holds it: keys sorted, one entry a line, so a change reads plainly in review. */
export function lockFileText(lock: PolicyLock): string {
  const policies: Record<string, PolicyLockEntry> = {};
  for (const name of [...lock.policies.keys()].sort()) policies[name] = lock.policies.get(name) as PolicyLockEntry;
  return JSON.stringify({ format: POLICY_LOCK_FORMAT, policies }, null, 2) + '\n';
}

export const nameOf = (policy: Policy): string => policyKey(policy.document.id, policy.document.version);
