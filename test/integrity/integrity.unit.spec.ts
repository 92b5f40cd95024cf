/**
 * The integrity chain: a history sealed as it is recorded verifies INTACT, and any change to a
 * recorded event afterwards (a byte in an input or an output, a type, an id, an event removed or
 * slipped in, a seal rewritten or cut) is reported TAMPERED and pinpointed: stream, revision,
 * part and top-level field. Retention-limited streams and events not sealed yet are not tampering.
 */
import { expect } from 'chai';

import type { JsonObject, RecordedEvent } from '../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { GENESIS_HEAD, digestEvent, jcs } from '../../src/integrity/event-digest.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { goldenHistoryLines } from '../support/golden.js';
import { CHAIN_STARTED, HISTORY_SEALED, INTEGRITY_STREAM, IntegrityChainCorrupt } from '../../src/integrity/seal.js';
import { HistorySealer, sealHistory } from '../../src/integrity/sealer.js';
import { InvalidAnchor, verifyHistory, type IntegrityReport } from '../../src/integrity/verify.js';
import { eventId } from '../../src/shared/ids.js';
import { TamperingStore, flipOneByte } from './support/tampering-store.js';
import { IntegrityWorld } from './support/world.js';

const sealedEntries = async (store: { readStream: TamperingStore['readStream'] }): Promise<Array<readonly unknown[]>> => {
  const entries: Array<readonly unknown[]> = [];
  for await (const e of store.readStream(INTEGRITY_STREAM)) if (e.type === HISTORY_SEALED) entries.push(...((e.data as { entries: unknown[][] }).entries as Array<readonly unknown[]>));
  return entries;
};

const expectIntact = (report: IntegrityReport): void => {
  expect(report.findings).to.deep.equal([]);
  expect(report.verdict).to.equal('INTACT');
};

describe('Integrity chain', function () {
  this.timeout(30_000);

  describe('the event digest', () => {
    it('serializes as RFC 8785 does (canonicalize): every golden-history event, unicode and numbers included', () => {
      const values: unknown[] = [...goldenHistoryLines().map((l) => JSON.parse(l) as unknown), { n: [1e21, 1e-7, -0, 0.1, 123456789012345680000], s: 'é\u2028\u0000"\\', z: { b: 1, a: [true, null] } }];
      for (const value of values) expect(jcs(value)).to.equal(canonicalJson(value));
    });

    it('digests an event canonicalize would refuse (a lone surrogate) instead of stopping the sealer', async () => {
      const store = new InMemoryEventStore();
      await store.append('signal-odd', [{ id: eventId('odd'), type: 'SignalFired', data: { text: 'half \ud800 a pair' }, metadata: {} }], 'no_stream');
      expect(() => canonicalJson({ text: '\ud800' })).to.throw();
      expect((await sealHistory(store)).eventsSealed).to.equal(1);
      expectIntact(await verifyHistory(store));
    });

    it('changes with any one byte of the stream, revision, type, id, data or metadata', () => {
      const base = { id: eventId('e'), type: 'T', streamId: 's-1', revision: 3n, position: 7n, data: { a: 'x' }, metadata: { m: 1 }, created: new Date(0) };
      const digest = digestEvent(base).full;
      const variants = [{ streamId: 's-2' }, { revision: 4n }, { type: 'U' }, { id: eventId('f') }, { data: { a: 'y' } }, { metadata: { m: 2 } }];
      for (const v of variants) expect(digestEvent({ ...base, ...v }).full, JSON.stringify(Object.keys(v))).to.not.equal(digest);
      expect(digestEvent({ ...base, position: 99n, created: new Date(5) }).full).to.equal(digest); // the store's, not the event's
    });
  });

  describe('a history sealed as it was recorded', () => {
    let world: IntegrityWorld;
    before(async () => {
      world = await IntegrityWorld.recorded();
    });

    it('verifies INTACT: every event of the covered streams read as sealed, none left unsealed', async () => {
      const sealed = await sealHistory(world.store);
      expect(sealed.chainStarted).to.equal(true);
      const report = await verifyHistory(world.store);
      expectIntact(report);
      const covered = (await world.events()).filter((e) => !/^(orchestration-|opx-|correlation-checkpoint)/.test(e.streamId));
      expect(report.eventsRead).to.equal(covered.length);
      expect(report.eventsVerified).to.equal(covered.length);
      expect(report.unsealed).to.equal(0);
      expect(report.chain.head).to.equal(sealed.head);
      expect(sealed.eventsSealed).to.equal(covered.length);
    });

    it('covers every kind of recorded event: signal facts, group streams, candidates, decisions, incidents, human acts', async () => {
      const streams = (await world.events()).map((e) => e.streamId);
      for (const prefix of ['signal-', 'correlation-grp-', 'correlation-clock', 'candidate-', 'incident-']) expect(streams.some((s) => s.startsWith(prefix)), prefix).to.equal(true);
      const sealedStreams = (await sealedEntries(world.store)).map((entry) => entry[0] as string);
      for (const prefix of ['signal-', 'correlation-grp-', 'correlation-clock', 'candidate-', 'incident-']) expect(sealedStreams.some((s) => s.startsWith(prefix)), prefix).to.equal(true);
    });

    it('leaves out the streams that lose events by design (attempt log, checkpoints, snapshots) and the chain itself', async () => {
      const sealedStreams = new Set((await sealedEntries(world.store)).map((entry) => entry[0] as string));
      const excluded = [...sealedStreams].filter((s) => /^(orchestration-|opx-processor-checkpoint|correlation-checkpoint|opx-projection-readmodels|opx-integrity)/.test(s));
      expect(excluded).to.deep.equal([]);
      const attempts = (await world.events()).filter((e) => e.streamId.startsWith('orchestration-'));
      expect(attempts.length).to.be.greaterThan(0);
      const report = await verifyHistory(world.store);
      expect(report.eventsExcluded).to.be.greaterThanOrEqual(attempts.length);
    });
  });

  describe('when a recorded event is changed afterwards', () => {
    /** A fresh sealed world per case: each tampers its own. */
    const sealedWorld = async (): Promise<IntegrityWorld> => {
      const world = await IntegrityWorld.recorded({ groups: 12 });
      await sealHistory(world.store);
      return world;
    };

    const cases: ReadonlyArray<{ readonly title: string; readonly type: string; readonly prefix?: string; readonly part: 'data' | 'metadata'; readonly field?: readonly string[] }> = [
      { title: 'a signal id inside a CandidateCreated\'s metadata (an input)', type: 'CandidateCreated', part: 'metadata', field: ['candidate', 'signalIds'] },
      { title: 'the decision of a PromotionDecided (an output)', type: 'PromotionDecided', part: 'data', field: ['decision'] },
      { title: 'the justification of a ManualPromotionRequested (a human input)', type: 'ManualPromotionRequested', part: 'data', field: ['authority'] },
      { title: 'an IncidentCreated on a candidate stream', type: 'IncidentCreated', part: 'data', field: ['service'] },
      { title: 'an IncidentOpened on an incident stream', type: 'IncidentOpened', part: 'data' },
      { title: 'a human transition on an incident stream', type: 'IncidentStateChanged', part: 'data', field: ['authority'] },
      { title: 'a recorded signal fact', type: 'SignalFired', prefix: 'signal-', part: 'data' },
      { title: 'a correlation group event', type: '', prefix: 'correlation-grp-', part: 'data' },
      { title: 'a correlation clock tick', type: 'CorrelationClockTicked', part: 'data' },
    ];

    for (const c of cases) {
      it(`pinpoints ${c.title}: stream, revision, part and top-level field`, async () => {
        const world = await sealedWorld();
        const target = (await world.events()).find((e) => (c.type === '' || e.type === c.type) && e.streamId.startsWith(c.prefix ?? ''));
        if (target === undefined) throw new Error(`the recorded world has no ${c.type || c.prefix}`);
        const { streamId, revision } = target;
        let path = '';
        world.store.change(streamId, revision, (e) => {
          const source = c.field === undefined ? e[c.part] : pick(e[c.part], c.field);
          const flipped = flipOneByte(source as JsonObject, c.field === undefined ? [] : [...c.field]);
          path = flipped.path;
          return { [c.part]: c.field === undefined ? flipped.value : put(e[c.part], c.field, flipped.value) };
        });
        const report = await verifyHistory(world.store);
        expect(report.verdict).to.equal('TAMPERED');
        expect(report.findingCount).to.equal(1);
        const topField = `${c.part}.${path.split('.')[0] as string}`;
        expect(report.findings[0]).to.deep.include({ kind: 'changed', streamId, revision: revision.toString(), parts: [c.part], fields: [topField] });
        expect(report.findings[0]?.message).to.include(`${streamId} revision ${revision}`).and.include(topField);
      });
    }

    it('pinpoints a changed type and a changed event id', async () => {
      const world = await sealedWorld();
      const decided = await world.first('PromotionDecided');
      const created = await world.first('CandidateCreated');
      world.store.change(decided.streamId, decided.revision, () => ({ type: 'PromotionDecidedV2' }));
      world.store.change(created.streamId, created.revision, () => ({ id: eventId('forged') }));
      const report = await verifyHistory(world.store);
      expect(report.verdict).to.equal('TAMPERED');
      const byStream = new Map(report.findings.map((f) => [`${f.streamId}@${f.revision}`, f]));
      expect(byStream.get(`${decided.streamId}@${decided.revision}`)).to.deep.include({ kind: 'changed', parts: ['type'] });
      expect(byStream.get(`${created.streamId}@${created.revision}`)).to.deep.include({ kind: 'changed', parts: ['id'] });
    });

    it('names a removed top-level field', async () => {
      const world = await sealedWorld();
      const decided = await world.first('PromotionDecided');
      world.store.change(decided.streamId, decided.revision, (e) => {
        const { policyHash: _removed, ...rest } = e.data;
        return { data: rest };
      });
      const report = await verifyHistory(world.store);
      expect(report.findings[0]).to.deep.include({ kind: 'changed', parts: ['data'], streamId: decided.streamId });
      expect(report.findings[0]?.message).to.include('1 top-level field removed');
    });

    it('detects a deleted event, by stream and revision', async () => {
      const world = await sealedWorld();
      const decided = await world.first('PromotionDecided');
      world.store.remove(decided.streamId, decided.revision);
      const report = await verifyHistory(world.store);
      expect(report.verdict).to.equal('TAMPERED');
      expect(report.findingCount).to.equal(1);
      expect(report.findings[0]).to.deep.include({ kind: 'deleted', streamId: decided.streamId, revision: decided.revision.toString() });
    });

    it('detects an event slipped into sealed history', async () => {
      const world = await sealedWorld();
      const created = await world.first('CandidateCreated');
      world.store.slipIn(created.streamId, created.revision, { ...created, streamId: 'candidate-forged', revision: 0n, id: eventId('forged') });
      const report = await verifyHistory(world.store);
      expect(report.verdict).to.equal('TAMPERED');
      expect(report.findings[0]).to.deep.include({ kind: 'added', streamId: 'candidate-forged', revision: '0' });
    });

    it('does not report what a retention-limited stream lost (an expired attempt log entry)', async () => {
      const world = await sealedWorld();
      const attempt = await world.first('OrchestrationAttempted', 'orchestration-');
      world.store.remove(attempt.streamId, attempt.revision);
      expectIntact(await verifyHistory(world.store));
    });
  });

  describe('when the chain itself is tampered with', () => {
    const sealedWorld = async (): Promise<IntegrityWorld> => {
      const world = await IntegrityWorld.recorded({ groups: 12 });
      await sealHistory(world.store, { batchSize: 40 });
      return world;
    };
    const seals = async (world: IntegrityWorld): Promise<RecordedEvent[]> => {
      const all: RecordedEvent[] = [];
      for await (const e of world.store.readStream(INTEGRITY_STREAM)) all.push(e);
      return all;
    };

    it('reports a seal whose entries were edited to match a changed event, by the head its events hash to', async () => {
      const world = await sealedWorld();
      const decided = await world.first('PromotionDecided');
      world.store.change(decided.streamId, decided.revision, (e) => ({ data: { ...e.data, decision: e.data['decision'] === 'DEFER' ? 'PROMOTE' : 'DEFER' } }));
      const forged = digestEvent((await world.events()).find((e) => e.streamId === decided.streamId && e.revision === decided.revision) as RecordedEvent);
      const seal = (await seals(world)).find((s) => (s.data as { entries?: unknown[][] }).entries?.some((entry) => entry[0] === decided.streamId && entry[1] === Number(decided.revision))) as RecordedEvent;
      world.store.change(INTEGRITY_STREAM, seal.revision, (s) => ({
        data: { ...s.data, entries: (s.data as { entries: unknown[][] }).entries.map((entry) => (entry[0] === decided.streamId && entry[1] === Number(decided.revision) ? [...entry.slice(0, 4), forged.data, entry[5]] : entry)) } as JsonObject,
      }));
      const report = await verifyHistory(world.store);
      expect(report.verdict).to.equal('TAMPERED');
      expect(report.findings).to.have.length(1);
      expect(report.findings[0]).to.deep.include({ kind: 'seal', sealRevision: seal.revision.toString() });
    });

    it('reports a seal removed from the middle of the chain, and one that no longer parses', async () => {
      const world = await sealedWorld();
      const all = await seals(world);
      expect(all.length).to.be.greaterThan(3);
      world.store.remove(INTEGRITY_STREAM, 2n);
      const removed = await verifyHistory(world.store);
      expect(removed.verdict).to.equal('TAMPERED');
      expect(removed.findings[0]).to.deep.include({ kind: 'seal', sealRevision: '3' });
      expect(removed.unverifiable).to.be.greaterThan(0);

      const other = await sealedWorld();
      other.store.change(INTEGRITY_STREAM, 2n, (s) => ({ data: { ...s.data, head: 'not a head' } }));
      const unreadable = await verifyHistory(other.store);
      expect(unreadable.verdict).to.equal('TAMPERED');
      expect(unreadable.findings[0]).to.deep.include({ kind: 'seal', sealRevision: '2' });
      expect(unreadable.findings[0]?.message).to.include('head must be 64 hex');
    });

    it('reports a chain whose start was replaced', async () => {
      const world = await sealedWorld();
      world.store.remove(INTEGRITY_STREAM, 0n);
      const report = await verifyHistory(world.store);
      expect(report.verdict).to.equal('TAMPERED');
      expect(report.findings[0]).to.deep.include({ kind: 'seal', sealRevision: '1' });
    });

    it('cannot tell a chain rewritten end to end without an anchor; with the head recorded earlier it can', async () => {
      // Whoever can rewrite the store can rewrite the chain too: an anchor kept elsewhere is what catches it.
      const world = await IntegrityWorld.recorded({ groups: 12 });
      const honest = await sealHistory(world.store);
      const forgedStore = new TamperingStore();
      for await (const e of world.store.readAll()) {
        if (e.streamId === INTEGRITY_STREAM) continue;
        const data = e.type === 'PromotionDecided' ? { ...e.data, reason: 'forged' } : e.data;
        await forgedStore.append(e.streamId, [{ id: e.id, type: e.type, data, metadata: e.metadata }], e.revision === 0n ? 'no_stream' : e.revision - 1n);
      }
      await sealHistory(forgedStore);
      expectIntact(await verifyHistory(forgedStore));
      const anchored = await verifyHistory(forgedStore, { anchor: honest.head });
      expect(anchored.verdict).to.equal('TAMPERED');
      expect(anchored.findings[0]).to.deep.include({ kind: 'anchor' });
      const honestAnchored = await verifyHistory(world.store, { anchor: honest.head });
      expectIntact(honestAnchored);
      expect(honestAnchored.anchor).to.deep.equal({ head: honest.head, found: true });
      await expect(verifyHistory(world.store, { anchor: 'abc' })).to.be.rejectedWith(InvalidAnchor);
    });

    it('refuses to seal onto a chain whose last seal does not parse, naming it', async () => {
      const world = await sealedWorld();
      const last = (await seals(world)).at(-1) as RecordedEvent;
      world.store.change(INTEGRITY_STREAM, last.revision, (s) => ({ data: { ...s.data, entries: [] } }));
      await expect(sealHistory(world.store)).to.be.rejectedWith(IntegrityChainCorrupt, `at revision ${last.revision}`);
    });
  });

  describe('a store written before the chain existed, and events not sealed yet', () => {
    it('reports an unsealed store as UNSEALED, not TAMPERED; once sealed, its earlier events are counted as recorded before the chain', async () => {
      const world = await IntegrityWorld.recorded({ groups: 12 });
      const before = await verifyHistory(world.store);
      expect(before.verdict).to.equal('UNSEALED');
      expect(before.findingCount).to.equal(0);
      expect(before.unsealed).to.equal(before.eventsRead).and.be.greaterThan(0);
      expect(before.chain).to.deep.equal({ startedAt: null, head: null, sealedThrough: null });
      await sealHistory(world.store);
      const after = await verifyHistory(world.store);
      expectIntact(after);
      expect(after.recordedBeforeChain).to.equal(before.eventsRead);
      expect(after.unsealed).to.equal(0);
    });

    it('counts events after the last seal as not sealed yet; the next seal takes them', async () => {
      const world = await IntegrityWorld.recorded({ groups: 12 });
      await sealHistory(world.store);
      const created = await world.first('CandidateCreated');
      await world.store.append('signal-late', [{ id: eventId('late'), type: 'SignalRecorded', data: { late: true }, metadata: {} }], 'no_stream');
      await world.store.append(created.streamId, [{ id: eventId('late-request'), type: 'Note', data: { n: 1 }, metadata: {} }], 'any');
      const tail = await verifyHistory(world.store);
      expectIntact(tail);
      expect(tail.unsealed).to.equal(2);
      const next = await sealHistory(world.store);
      expect(next.eventsSealed).to.equal(2);
      expect((await verifyHistory(world.store)).unsealed).to.equal(0);
    });

    it('starts the chain on an empty store with the genesis head and seals nothing', async () => {
      const store = new InMemoryEventStore();
      const report = await sealHistory(store);
      expect(report).to.deep.equal({ eventsSealed: 0, seals: 0, chainStarted: true, head: GENESIS_HEAD, sealedThrough: null });
      const chain: string[] = [];
      for await (const e of store.readStream(INTEGRITY_STREAM)) chain.push(e.type);
      expect(chain).to.deep.equal([CHAIN_STARTED]);
      expectIntact(await verifyHistory(store));
    });
  });

  describe('sealers at work', () => {
    it('splits history into seals of the batch size, chained', async () => {
      const world = await IntegrityWorld.recorded({ groups: 12 });
      const report = await sealHistory(world.store, { batchSize: 25 });
      expect(report.seals).to.equal(Math.ceil(report.eventsSealed / 25));
      const verified = await verifyHistory(world.store);
      expectIntact(verified);
      expect(verified.seals).to.equal(report.seals);
    });

    it('two batch sealers at once seal every event exactly once', async () => {
      const world = await IntegrityWorld.recorded({ groups: 12 });
      await Promise.all([sealHistory(world.store, { batchSize: 10 }), sealHistory(world.store, { batchSize: 7 }), sealHistory(world.store, { batchSize: 13 })]);
      const entries = await sealedEntries(world.store);
      const keys = entries.map((entry) => `${String(entry[0])}@${String(entry[1])}`);
      expect(new Set(keys).size).to.equal(keys.length);
      const verified = await verifyHistory(world.store);
      expectIntact(verified);
      expect(verified.eventsVerified).to.equal(keys.length);
    });

    it('the live sealer catches up, seals what is appended while it runs, and seals what it holds when stopped', async () => {
      const world = await IntegrityWorld.recorded({ groups: 12 });
      const sealer = new HistorySealer(world.store, { batchSize: 5, maxDelayMs: 10_000 });
      sealer.start();
      await sealer.caughtUp();
      const caughtUp = sealer.status();
      expect(caughtUp.state).to.equal('live');
      expect(caughtUp.eventsSealed).to.be.greaterThan(0);
      for (let i = 0; i < 7; i++) await world.store.append(`signal-live-${i}`, [{ id: eventId(`live-${i}`), type: 'SignalRecorded', data: { i }, metadata: {} }], 'no_stream');
      await until(() => sealer.status().eventsSealed === caughtUp.eventsSealed + 5); // one full batch of 5 sealed at once
      expect(sealer.status().pending).to.equal(2); // the rest waits for its delay, or for stop()
      await sealer.stop();
      expect(sealer.status()).to.deep.include({ state: 'stopped', pending: 0, eventsSealed: caughtUp.eventsSealed + 7 });
      const verified = await verifyHistory(world.store);
      expectIntact(verified);
      expect(verified.unsealed).to.equal(0);
    });

    it('seals a quiet tail after its delay', async () => {
      const store = new InMemoryEventStore();
      const sealer = new HistorySealer(store, { batchSize: 100, maxDelayMs: 20 });
      sealer.start();
      await sealer.caughtUp();
      await store.append('signal-a', [{ id: eventId('a'), type: 'SignalRecorded', data: {}, metadata: {} }], 'no_stream');
      await until(() => sealer.status().eventsSealed === 1);
      await sealer.stop();
      expectIntact(await verifyHistory(store));
    });

    it('two live sealers on one store, with writes while they run, leave one consistent chain', async () => {
      const world = await IntegrityWorld.recorded({ groups: 12 });
      const sealers = [new HistorySealer(world.store, { batchSize: 3, maxDelayMs: 5, retry: { initialMs: 1, maxMs: 5 } }), new HistorySealer(world.store, { batchSize: 4, maxDelayMs: 5, retry: { initialMs: 1, maxMs: 5 } })];
      for (const s of sealers) s.start();
      await Promise.all(sealers.map((s) => s.caughtUp()));
      for (let i = 0; i < 30; i++) await world.store.append(`signal-both-${i}`, [{ id: eventId(`both-${i}`), type: 'SignalRecorded', data: { i }, metadata: {} }], 'no_stream');
      await until(async () => (await verifyHistory(world.store)).unsealed === 0);
      await Promise.all(sealers.map((s) => s.stop()));
      const keys = (await sealedEntries(world.store)).map((entry) => `${String(entry[0])}@${String(entry[1])}`);
      expect(new Set(keys).size).to.equal(keys.length);
      expectIntact(await verifyHistory(world.store));
    });
  });
});

function pick(value: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], value);
}

function put(value: JsonObject, path: readonly string[], replacement: unknown): JsonObject {
  const [head, ...rest] = path;
  if (head === undefined) return replacement as JsonObject;
  return { ...value, [head]: put(value[head] as JsonObject, rest, replacement) };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
