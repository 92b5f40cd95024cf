import { expect } from 'chai';
import fc from 'fast-check';

import { TOKENS } from '../../src/container/tokens.js';
import type { JsonObject, RecordedEvent } from '../../src/eventstore/event-store.js';
import { HumanActs } from '../../src/operators/human-acts.js';
import { ArrivalIndex } from '../../src/projections/arrival-index.js';
import { LiveReadModels } from '../../src/projections/live-read-models.js';
import { PROJECTED_STREAM_PREFIXES } from '../../src/projections/read-models.js';
import { Facts } from '../correlation/support/signals.js';
import { CorrelationWorld } from '../correlation/support/world.js';

describe(ArrivalIndex.name, () => {
  it('pages a subset newest first, counts it, and places `before` by arrival even after that id left', () => {
    const index = new ArrivalIndex<'a' | 'b'>();
    for (const id of ['i1', 'i2', 'i3', 'i4', 'i5']) index.place(id, 'a');
    index.place('i2', 'b');
    index.place('i4', undefined);

    expect(index.page(['a'], 10)).to.deep.equal({ ids: ['i5', 'i3', 'i1'], more: false });
    expect(index.page(['a'], 2)).to.deep.equal({ ids: ['i5', 'i3'], more: true });
    expect(index.page(['a'], 2, 'i3')).to.deep.equal({ ids: ['i1'], more: false });
    expect(index.page(['a'], 2, 'i4')).to.deep.equal({ ids: ['i3', 'i1'], more: false });
    expect(index.page(['a', 'b'], 10)).to.deep.equal({ ids: ['i5', 'i3', 'i2', 'i1'], more: false });
    expect(index.page(['a'], 10, 'never-seen')).to.deep.equal({ ids: [], more: false });
    expect([index.size(['a']), index.size(['b']), index.size(['a', 'b'])]).to.deep.equal([3, 1, 4]);
    // back into its first subset, in its arrival place
    index.place('i2', 'a');
    expect(index.page(['a'], 10).ids).to.deep.equal(['i5', 'i3', 'i2', 'i1']);
    expect(index.subsetOf('i2')).to.equal('a');
  });

  it('agrees with a filter over arrival order, whatever the moves (property)', () => {
    const subsets = ['x', 'y', 'z'] as const;
    const op = fc.record({ id: fc.integer({ min: 0, max: 30 }), to: fc.constantFrom<'x' | 'y' | 'z' | undefined>('x', 'y', 'z', undefined) });
    const query = fc.record({ of: fc.subarray([...subsets], { minLength: 1 }), limit: fc.integer({ min: 1, max: 12 }), before: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.array(query, { minLength: 1, maxLength: 5 }), (ops, queries) => {
        const index = new ArrivalIndex<'x' | 'y' | 'z'>();
        const arrival: string[] = [];
        const where = new Map<string, string | undefined>();
        for (const { id, to } of ops) {
          const key = `id${id}`;
          index.place(key, to);
          if (to !== undefined && !arrival.includes(key)) arrival.push(key);
          where.set(key, to);
        }
        for (const q of queries) {
          const before = q.before === undefined ? undefined : `id${q.before}`;
          const newestFirst = [...arrival].reverse();
          const from = before === undefined ? 0 : newestFirst.indexOf(before) + 1;
          const matching = before !== undefined && !arrival.includes(before) ? [] : newestFirst.slice(from).filter((id) => (q.of as readonly string[]).includes(where.get(id) ?? ''));
          expect(index.page(q.of, q.limit, before)).to.deep.equal({ ids: matching.slice(0, q.limit), more: matching.length > q.limit });
          expect(index.size(q.of)).to.equal(arrival.filter((id) => (q.of as readonly string[]).includes(where.get(id) ?? '')).length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe(LiveReadModels.name, () => {
  const disk = (service: string) => ({ service, severity: 'SEV3' as const, labels: { alertname: 'DiskFull' }, annotations: { summary: `${service} disk full` } });

  async function projectedHead(world: CorrelationWorld): Promise<bigint> {
    let head = -1n;
    for await (const recorded of world.memory.readAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES })) head = recorded.position;
    return head;
  }

  it('pages the deferred queue and incidents by state from its indexes as rows come, move and leave', async () => {
    // given three deferred warnings and one page, projected live
    const world = CorrelationWorld.create();
    await world.record(Facts.firing('page', 0), ...['a', 'b', 'c'].flatMap((s, i) => [Facts.firing(`d-${s}`, 10 + i, disk(`svc-${s}`)), Facts.firing(`d-${s}`, 20 + i, disk(`svc-${s}`))]));
    await world.settle();
    const models = new LiveReadModels(world.memory, world.logger);
    const seen: string[] = [];
    models.onProjected(() => {
      throw new Error('a listener that fails');
    });
    models.onProjected((recorded) => seen.push(recorded.type));
    models.start();
    try {
      await models.reached(await projectedHead(world));
      const queue = models.deferred({ limit: 2 });
      expect(queue.rows.map((r) => r.service)).to.deep.equal(['svc-c', 'svc-b']);
      expect(queue.total).to.equal(3);
      expect(models.deferred({ limit: 2, before: queue.next! }).rows.map((r) => r.service)).to.deep.equal(['svc-a']);

      // when the newest is promoted and the page's incident acknowledged
      const c = world.container;
      const acts = new HumanActs(world.memory, c.get(TOKENS.CandidateStore), c.get(TOKENS.IncidentManager), c.get(TOKENS.Config).authorityMatrix, world.clock);
      const alice = { name: 'alice', role: 'HUMAN_OPERATOR' as const, authenticatedBy: { principal: 'alice', method: 'bearer' as const } };
      await acts.requestPromotion(alice, queue.rows[0]!.candidateId, 'confirmed');
      await world.orchestrate();
      await models.reached(await projectedHead(world));
      const [newest, oldest] = models.incidents({ limit: 10 }).rows;
      await acts.transition(alice, oldest!.incidentId, 'ACKNOWLEDGE_INCIDENT', '', 0n);
      await models.reached(await projectedHead(world));

      // then the queue lost it, the incidents are by state, newest first
      expect(models.incidents({ limit: 10 }).total).to.equal(2);
      expect(newest?.service).to.equal('svc-c');
      expect(models.deferred({ limit: 10 }).rows.map((r) => r.service)).to.deep.equal(['svc-b', 'svc-a']);
      expect(models.deferred({ limit: 10 }).total).to.equal(2);
      expect(models.incidents({ limit: 10, state: 'OPEN' }).rows.map((r) => r.service)).to.deep.equal(['svc-c']);
      expect(models.incidents({ limit: 10, state: 'ACKNOWLEDGED' }).rows.map((r) => r.service)).to.deep.equal(['checkout']);
      expect(models.incidents({ limit: 10 }).rows.map((r) => r.service)).to.deep.equal(['svc-c', 'checkout']);
      expect(models.incidents({ limit: 1 }).next).to.equal(newest!.incidentId);
      expect(models.incidents({ limit: 10, state: 'CLOSED' })).to.deep.equal({ rows: [], total: 0 });
      // and every event reached the listeners in order, past the one that failed
      expect(seen.length).to.equal(models.projected);
      expect(seen.at(-1)).to.equal('IncidentStateChanged');
      expect(world.logger.entries.some((e) => e.message === 'a read-model listener failed')).to.equal(true);
    } finally {
      await models.stop();
    }
  });

  it('passes over an event whose data is not an object (reported as poison) and keeps projecting', async () => {
    // given a candidate stream holding an event whose data is JSON null, then a deferred warning
    const world = CorrelationWorld.create();
    await world.memory.append('candidate-broken', [{ id: '00000000-0000-4000-8000-000000000001', type: 'CandidateOpened', data: null as unknown as JsonObject, metadata: {} }], 'any');
    await world.record(Facts.firing('d-a', 10, disk('svc-a')), Facts.firing('d-a', 20, disk('svc-a')));
    await world.settle();
    const models = new LiveReadModels(world.memory, world.logger);
    models.start();
    try {
      // when projected live
      await models.reached(await projectedHead(world));
      // then the warning is in the queue, the broken event reported, the subscription never lost
      expect(models.deferred({ limit: 10 }).rows.map((r) => r.service)).to.deep.equal(['svc-a']);
      expect(models.poison.map((p) => p.streamId)).to.deep.equal(['candidate-broken']);
      expect(world.logger.entries.some((e) => e.message.includes('lost their subscription'))).to.equal(false);
    } finally {
      await models.stop();
    }
  });

  it('stops telling a listener once it unsubscribes', async () => {
    const world = CorrelationWorld.create();
    const models = new LiveReadModels(world.memory, world.logger);
    const seen: RecordedEvent[] = [];
    const stop = models.onProjected((recorded) => seen.push(recorded));
    models.start();
    try {
      await world.record(Facts.firing('page', 0));
      await world.settle();
      await models.reached(await projectedHead(world));
      const before = seen.length;
      stop();
      await world.record(Facts.firing('page2', 5, { service: 'search' }));
      await world.settle();
      await models.reached(await projectedHead(world));
      expect(before).to.be.greaterThan(0);
      expect(seen).to.have.length(before);
    } finally {
      await models.stop();
    }
  });
});
