import { CANDIDATE_STREAM_PREFIX } from '../candidates/candidate-events.js';
import type { OpxConfig } from '../container/config.js';
import type { EventReader, EventStore, JsonObject, RecordedEvent } from '../eventstore/event-store.js';
import { WrongExpectedVersion } from '../shared/errors.js';
import { eventId } from '../shared/ids.js';
import { assertPoliciesMatchLock, nameOf, PolicyChanged, type PolicyChangeProblem } from './policy-lock.js';
import { policyKey, type PolicyRegistry } from './policy.js';

/**
 * The policy hashes history has recorded, kept small so a runtime can check its policies against
 * history at start without reading all of it: the first hash recorded decisions carry for each
 * policy version, where it was first recorded, and how far into `$all` the record has looked. Each
 * check reads the last record, reads the candidate streams' events after it (only what was
 * recorded since), and appends the record again when it moved. It is derived from history (a lost
 * or unreadable record is rebuilt by reading history again), so the stream keeps its last few
 * events only and the integrity chain leaves it out.
 */
export const POLICY_RECORD_STREAM = 'opx-policy-record';
const RECORDED = 'PolicyHashesRecorded';
const KEEP = 10;

export interface RecordedPolicyHash {
  readonly sha256: string;
  /** The decision that first recorded it. */
  readonly streamId: string;
  readonly revision: string;
  readonly decisionId: string;
}

export interface PolicyRecord {
  /** The position in `$all` the record covers history up to (undefined: none yet). */
  readonly throughPosition: bigint | undefined;
  /** id@version -> the first hash history recorded for it. */
  readonly policies: ReadonlyMap<string, RecordedPolicyHash>;
  /** Other hashes decisions recorded under a version that had one already: drift that already decided. */
  readonly conflicts: ReadonlyArray<RecordedPolicyHash & { readonly policy: string }>;
}

const EMPTY: PolicyRecord = { throughPosition: undefined, policies: new Map(), conflicts: [] };

/** The last record, or an empty one when there is none or it does not read (history is read again then). */
async function lastRecord(reader: EventReader): Promise<{ record: PolicyRecord; revision: bigint | undefined }> {
  for await (const last of reader.readStream(POLICY_RECORD_STREAM, { direction: 'backwards', maxCount: 1 })) {
    return { record: parseRecord(last) ?? EMPTY, revision: last.revision };
  }
  return { record: EMPTY, revision: undefined };
}

function parseRecord(recorded: RecordedEvent): PolicyRecord | undefined {
  try {
    const data = recorded.data;
    const through = data['throughPosition'];
    const policies = data['policies'];
    const conflicts = data['conflicts'];
    if (recorded.type !== RECORDED || typeof through !== 'string' || !/^\d+$/.test(through) || typeof policies !== 'object' || policies === null || !Array.isArray(conflicts)) return undefined;
    const map = new Map<string, RecordedPolicyHash>();
    for (const [name, value] of Object.entries(policies as Record<string, unknown>)) {
      const hash = recordedHash(value);
      if (hash === undefined) return undefined;
      map.set(name, hash);
    }
    const others: Array<RecordedPolicyHash & { policy: string }> = [];
    for (const value of conflicts) {
      const hash = recordedHash(value);
      const policy = (value as { policy?: unknown } | null)?.policy;
      if (hash === undefined || typeof policy !== 'string') return undefined;
      others.push({ ...hash, policy });
    }
    return { throughPosition: BigInt(through), policies: map, conflicts: others };
  } catch {
    return undefined;
  }
}

function recordedHash(value: unknown): RecordedPolicyHash | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { sha256, streamId, revision, decisionId } = value as Record<string, unknown>;
  if (typeof sha256 !== 'string' || typeof streamId !== 'string' || typeof revision !== 'string' || typeof decisionId !== 'string') return undefined;
  return { sha256, streamId, revision, decisionId };
}

/**
 * The record brought up to date with what history recorded since it was last kept; appended again
 * when it moved (`write`), so the next check reads on from there. Another process appending first
 * is fine: its record is as good, and this one is returned all the same.
 */
export async function updatePolicyRecord(store: EventStore, options: { readonly write: boolean }): Promise<PolicyRecord> {
  const { record, revision } = await lastRecord(store);
  const policies = new Map(record.policies);
  const conflicts = [...record.conflicts];
  let through = record.throughPosition;
  for await (const event of store.readAll({ streamPrefixes: [CANDIDATE_STREAM_PREFIX], ...(through === undefined ? {} : { after: through }) })) {
    through = event.position;
    if (event.type !== 'PromotionDecided') continue;
    const decided = decisionOf(event);
    if (decided === undefined) continue; // not a decision that reads: the replay audit reports it, not this record
    const first = policies.get(decided.policy);
    if (first === undefined) policies.set(decided.policy, decided.hash);
    else if (first.sha256 !== decided.hash.sha256 && !conflicts.some((c) => c.policy === decided.policy && c.sha256 === decided.hash.sha256)) conflicts.push({ ...decided.hash, policy: decided.policy });
  }
  const updated: PolicyRecord = { throughPosition: through, policies, conflicts };
  if (options.write && through !== undefined && through !== record.throughPosition) await append(store, updated, revision);
  return updated;
}

function decisionOf(event: RecordedEvent): { policy: string; hash: RecordedPolicyHash } | undefined {
  try {
    const { policyId, policyVersion, policyHash, decisionId } = event.data;
    if (typeof policyId !== 'string' || typeof policyVersion !== 'string' || typeof policyHash !== 'string' || typeof decisionId !== 'string') return undefined;
    return { policy: policyKey(policyId, policyVersion), hash: { sha256: policyHash, streamId: event.streamId, revision: event.revision.toString(), decisionId } };
  } catch {
    return undefined;
  }
}

async function append(store: EventStore, record: PolicyRecord, revision: bigint | undefined): Promise<void> {
  const through = (record.throughPosition as bigint).toString();
  const policies: Record<string, JsonObject> = {};
  for (const name of [...record.policies.keys()].sort()) policies[name] = { ...(record.policies.get(name) as RecordedPolicyHash) };
  const data = { throughPosition: through, policies, conflicts: record.conflicts.map((c) => ({ ...c })) };
  try {
    await store.append(POLICY_RECORD_STREAM, [{ id: eventId(`${RECORDED}:${through}`), type: RECORDED, data, metadata: { schemaVersion: 1 } }], revision ?? 'no_stream');
  } catch (error) {
    if (error instanceof WrongExpectedVersion) return; // another process kept the record meanwhile
    throw error;
  }
  if (revision === undefined) await store.setStreamMetadata(POLICY_RECORD_STREAM, { maxCount: KEEP });
}

/** The config's policies whose hash differs from the first hash history recorded for their version. */
export function historyProblems(registry: PolicyRegistry, record: PolicyRecord): PolicyChangeProblem[] {
  const problems: PolicyChangeProblem[] = [];
  for (const policy of registry.all()) {
    const recorded = record.policies.get(nameOf(policy));
    if (recorded === undefined || recorded.sha256 === policy.hash) continue;
    problems.push({
      policy: nameOf(policy),
      file: policy.source,
      currentHash: policy.hash,
      recordedHash: recorded.sha256,
      recordedIn: { kind: 'history', streamId: recorded.streamId, revision: recorded.revision, decisionId: recorded.decisionId },
    });
  }
  return problems;
}

export interface PolicyGuardReport {
  /** Policy versions in the config. */
  readonly policies: number;
  /** Of those, versions the lock file has (all checked against it). */
  readonly locked: number;
  /** Of those, versions history has decided under (all checked against it). */
  readonly decidedInHistory: number;
  readonly lockFile: string | null;
  /** How far into `$all` history was read for it. */
  readonly throughPosition: string | null;
}

/**
 * The policy lock, as every runtime that can decide checks it before it does (`opx process`, the
 * in-process runtime, `opx worker`, `opx serve`): each policy of the config must have the hash its
 * version was locked with (the lock file) and the hash history's decisions recorded for it.
 * Throws {@link PolicyChanged}, naming the file, the version and both hashes, otherwise. Cheap: the
 * lock file is in the config already, and history is read only from where the last check got to.
 */
export async function guardPolicies(store: EventStore, config: OpxConfig): Promise<PolicyGuardReport> {
  assertPoliciesMatchLock(config.policies, config.policyLock);
  const record = await updatePolicyRecord(store, { write: true });
  const problems = historyProblems(config.policies, record);
  if (problems.length > 0) throw PolicyChanged.of(problems);
  const names = config.policies.all().map(nameOf);
  return {
    policies: names.length,
    locked: names.filter((n) => config.policyLock?.policies.has(n) === true).length,
    decidedInHistory: names.filter((n) => record.policies.has(n)).length,
    lockFile: config.policyLock?.path ?? null,
    throughPosition: record.throughPosition?.toString() ?? null,
  };
}
