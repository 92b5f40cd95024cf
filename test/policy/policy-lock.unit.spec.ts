/**
 * The policy lock (issue 14, item 3): a policy whose content differs from the hash already recorded
 * for its id@version (in the lock file, or in history's decisions) is refused before anything can
 * decide under it, with an error naming the file, the version and both hashes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { DEFAULT_CONFIG_DIR, loadConfig, type OpxConfig } from '../../src/container/config.js';
import { createOpxContainer } from '../../src/container/modules.js';
import { TOKENS } from '../../src/container/tokens.js';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { POLICY_LOCK_FILE, PolicyChanged, lockFileText, nextLock, parsePolicyLock } from '../../src/promotion/policy-lock.js';
import { POLICY_RECORD_STREAM, guardPolicies, updatePolicyRecord } from '../../src/promotion/policy-record.js';
import { PolicyRegistry } from '../../src/promotion/policy.js';
import { importHistory } from '../../src/replay/history-file.js';
import { runScenario } from '../../src/runtime/scenario.js';
import { generateSampleSignals } from '../../src/samples/sample-signals.js';
import { InvalidInput } from '../../src/shared/errors.js';
import { silentLogger } from '../../src/shared/logger.js';
import { goldenHistoryLines } from '../support/golden.js';
import { driftedConfigDir } from './support/drifted-config.js';

const POLICY_FILE = join('policies', 'standard-promotion@1.0.0.json');

const bundled = loadConfig();
const lockedHash = (): string => bundled.policies.get('standard-promotion', '1.0.0').hash;

async function decisions(store: EventStore): Promise<RecordedEvent[]> {
  const found: RecordedEvent[] = [];
  for await (const e of store.readAll({ streamPrefixes: ['candidate-'] })) if (e.type === 'PromotionDecided' || e.type === 'IncidentCreated') found.push(e);
  return found;
}

function containerOver(store: EventStore, config: OpxConfig) {
  const container = createOpxContainer({ config });
  container.rebind(TOKENS.EventStore).toConstantValue(store);
  container.rebind(TOKENS.Logger).toConstantValue(silentLogger);
  return container;
}

describe('Policy lock', function () {
  this.timeout(30_000);

  it('the bundled config is locked, at the hashes the golden history decided under', () => {
    expect(bundled.policyLock?.path).to.equal(join(DEFAULT_CONFIG_DIR, POLICY_LOCK_FILE));
    for (const policy of bundled.policies.all()) expect(bundled.policyLock?.policies.get(`${policy.document.id}@${policy.document.version}`)?.sha256).to.equal(policy.hash);
    const recorded = new Set(goldenHistoryLines().flatMap((l) => (l.includes('"PromotionDecided"') ? [(JSON.parse(l) as { data: { policyHash: string } }).data.policyHash] : [])));
    for (const hash of recorded) expect([...(bundled.policyLock?.policies.values() ?? [])].map((e) => e.sha256)).to.include(hash);
  });

  describe('when a policy file changed under a version the lock file has', () => {
    const config = loadConfig(driftedConfigDir({ lock: true }));
    const drifted = config.policies.get('standard-promotion', '1.0.0');

    it('loads (an audit must still read it to report the drift), but nothing that decides can be made: the error names file, version and both hashes', () => {
      expect(drifted.hash).to.not.equal(lockedHash());
      const container = containerOver(new InMemoryEventStore(), config);
      let refused: unknown;
      try {
        container.get(TOKENS.HandlerContext);
      } catch (error) {
        refused = error;
      }
      expect(refused).to.be.instanceOf(PolicyChanged);
      const message = (refused as Error).message;
      expect(message).to.include('standard-promotion@1.0.0').and.include(drifted.source).and.include(drifted.hash).and.include(lockedHash()).and.include(config.policyLock?.path);
      expect(() => container.get(TOKENS.CandidateHandlers)).to.throw(PolicyChanged);
    });

    it('the in-process runtime decides nothing under it', async () => {
      const store = new InMemoryEventStore();
      await expect(runScenario(containerOver(store, config), generateSampleSignals({ groups: 20, seed: 3 }), { manualPromotions: 1 })).to.be.rejectedWith(PolicyChanged, drifted.hash);
      expect(await decisions(store)).to.deep.equal([]);
    });

    it('opx policies lock would refuse to re-lock it; the lock file is left as it was', () => {
      expect(() => nextLock(config.policies, config.policyLock, 'x', () => undefined)).to.throw(PolicyChanged, lockedHash());
    });
  });

  describe('when history is the reference (no lock file)', () => {
    const config = loadConfig(driftedConfigDir({ lock: false }));

    it('refuses a policy whose hash differs from the one history decided under, naming the first such decision', async () => {
      expect(config.policyLock).to.equal(undefined);
      const store = new InMemoryEventStore();
      await importHistory(store, goldenHistoryLines());
      const error = (await guardPolicies(store, config).then(
        () => undefined,
        (e: unknown) => e,
      )) as PolicyChanged;
      expect(error).to.be.instanceOf(PolicyChanged);
      expect(error.problems).to.have.length(1);
      const [problem] = error.problems;
      expect(problem).to.deep.include({ policy: 'standard-promotion@1.0.0', currentHash: config.policies.get('standard-promotion', '1.0.0').hash, recordedHash: lockedHash() });
      expect(problem?.recordedIn.kind).to.equal('history');
      expect(error.message).to.include(POLICY_FILE).and.include('history recorded decisions under sha256').and.include('dec-');
    });

    it('decides nothing under it in the in-process runtime once history holds a decision under the approved content', async () => {
      const store = new InMemoryEventStore();
      await importHistory(store, goldenHistoryLines());
      const before = (await decisions(store)).length;
      await expect(runScenario(containerOver(store, config), generateSampleSignals({ groups: 20, seed: 3, start: '2026-05-01T00:00:00.000Z' }), { manualPromotions: 0 })).to.be.rejectedWith(PolicyChanged);
      expect((await decisions(store)).length).to.equal(before);
    });

    it('lets a version history has not decided under through, and then holds it to what it decided', async () => {
      const store = new InMemoryEventStore();
      const first = containerOver(store, config);
      await runScenario(first, generateSampleSignals({ groups: 20, seed: 3 }), { manualPromotions: 0 });
      expect((await decisions(store)).length).to.be.greaterThan(0);
      // The approved content, back under the same version: history now holds the drifted one's hash.
      await expect(guardPolicies(store, bundled)).to.be.rejectedWith(PolicyChanged, 'history recorded decisions under');
    });

    it('reads history once, then only what was recorded since (a small record kept as it goes)', async () => {
      const counting = new CountingStore();
      await importHistory(counting, goldenHistoryLines());
      await guardPolicies(counting, bundled);
      const candidateEvents = goldenHistoryLines().filter((l) => (JSON.parse(l) as { streamId: string }).streamId.startsWith('candidate-')).length;
      expect(counting.read).to.equal(candidateEvents);
      counting.read = 0;
      await guardPolicies(counting, bundled);
      expect(counting.read).to.equal(0);
      await counting.append('candidate-new', [{ id: '2b7c5a6e-0e51-5d1b-9f3c-3d0a6f4c2e11', type: 'Note', data: {}, metadata: {} }], 'no_stream');
      await guardPolicies(counting, bundled);
      expect(counting.read).to.equal(1);
      const record = await updatePolicyRecord(counting, { write: false });
      expect([...record.policies.keys()].sort()).to.deep.equal(['payments-promotion@2.0.0', 'standard-promotion@1.0.0']);
      const kept: RecordedEvent[] = [];
      for await (const e of counting.readStream(POLICY_RECORD_STREAM)) kept.push(e);
      expect(kept.length).to.be.lessThanOrEqual(3);
      expect(await counting.getStreamMetadata(POLICY_RECORD_STREAM)).to.deep.equal({ maxCount: 10 });
    });
  });

  describe('the lock file', () => {
    it('is refused, naming the file, when it is not a lock', () => {
      const bad = (): unknown => parsePolicyLock({ format: 1, policies: { 'x@1': { sha256: 'nope' } } }, '/c/policies.lock.json');
      expect(bad).to.throw(InvalidInput, '/c/policies.lock.json');
      expect(bad).to.throw(/policies\.x@1\.sha256 must be 64 lowercase hex/);
      expect(() => parsePolicyLock({ format: 2, policies: {} }, 'p')).to.throw(InvalidInput, 'format must be 1');
      const dir = driftedConfigDir({ lock: false });
      writeFileSync(join(dir, POLICY_LOCK_FILE), '{"policies":{}}');
      expect(() => loadConfig(dir)).to.throw(InvalidInput, join(dir, POLICY_LOCK_FILE));
    });

    it('keeps locked versions as they are and adds new ones, sorted, one entry a line', () => {
      const registry = PolicyRegistry.fromDocuments(bundled.policies.all().map((p) => p.document));
      const partial = parsePolicyLock({ format: 1, policies: { 'standard-promotion@1.0.0': { sha256: lockedHash(), file: 'kept.json' }, 'retired@0.1.0': { sha256: 'a'.repeat(64) } } }, 'lock');
      const { lock, added } = nextLock(registry, partial, 'lock', () => 'new.json');
      expect(added).to.deep.equal(['payments-promotion@2.0.0', 'standard-promotion@1.1.0']);
      expect(lock.policies.get('standard-promotion@1.0.0')).to.deep.equal({ sha256: lockedHash(), file: 'kept.json' });
      expect(lock.policies.has('retired@0.1.0')).to.equal(true);
      const text = lockFileText(lock);
      expect(Object.keys((JSON.parse(text) as { policies: object }).policies)).to.deep.equal(['payments-promotion@2.0.0', 'retired@0.1.0', 'standard-promotion@1.0.0', 'standard-promotion@1.1.0']);
    });
  });
});

/** An in-memory store that counts the events its reads of `$all` yield. */
class CountingStore extends InMemoryEventStore {
  read = 0;

  override async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    for await (const e of super.readAll(options)) {
      this.read++;
      yield e;
    }
  }
}
