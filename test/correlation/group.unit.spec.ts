import { expect } from 'chai';

import type { GroupEvent, SignalCorrelatedData } from '../../src/correlation/correlation-events.js';
import { groupIdOf } from '../../src/correlation/correlation-events.js';
import { decideClose, decideSignal, evolveGroup, GroupState, titleOf } from '../../src/correlation/group.js';
import type { SignalFact } from '../../src/signals/signal-events.js';
import { at, Facts, Rules } from './support/signals.js';

const META = { $correlationId: 'x', $causationId: 'x', schemaVersion: 1 };

/** given(rule, facts...).when(fact) -> what the group records. */
function given(ruleDocument: object, ...facts: SignalFact[]) {
  const rule = Rules.set([ruleDocument]).rules[0]!;
  const state = new GroupState(groupIdOf(rule.id, rule.version, 'k'), rule, 'k');
  const apply = (fact: SignalFact, late = false) => {
    const decision = decideSignal(state, { fact, signalStream: `signal-${fact.signalId}`, late });
    evolveGroup(state, { type: 'SignalCorrelated', data: decision.event, metadata: META });
    return decision;
  };
  for (const fact of facts) apply(fact);
  return { state, when: apply };
}

describe('a correlation group (decide and evolve)', () => {
  describe('while no candidate is open', () => {
    it('counts a firing below the threshold, and the one that reaches it opens a candidate of the window', () => {
      const { when } = given(Rules.burst, Facts.firing('fp', 10, { severity: 'SEV3' }));
      const opened = when(Facts.firing('fp', 20, { severity: 'SEV2' }));

      expect(opened.event.outcome).to.equal('opened');
      expect(opened.candidate).to.deep.include({ signalCount: 2, createdAt: at(20), severity: 'SEV2', windowStart: at(0), windowEnd: at(300), correlationRuleId: 'burst' });
      expect(opened.candidate?.signalIds).to.deep.equal([`fp@${at(10)}`, `fp@${at(20)}`]);
      expect(opened.event.candidateId).to.equal(opened.candidate?.candidateId);
    });

    it('does not count firings of two windows together, and forgets a window once a later signal on time has passed it', () => {
      const { state, when } = given(Rules.burst, Facts.firing('fp', 290, { severity: 'SEV3' }));
      expect(when(Facts.firing('fp', 310, { severity: 'SEV3' })).event.outcome).to.equal('counted');
      expect([...state.windows.keys()]).to.deep.equal([Date.parse(at(300))]);
    });

    it('still counts a late firing into a window it has not forgotten yet', () => {
      const { when } = given(Rules.burst, Facts.firing('fp', 290, { severity: 'SEV3' }));
      expect(when(Facts.firing('fp', 280, { severity: 'SEV3' }), true).event).to.include({ outcome: 'opened', late: true });
    });

    it('never counts a resolution: a resolved-only alert opens nothing', () => {
      const { when } = given(Rules.page);
      const decision = when(Facts.resolved('fp', 10, 20));
      expect(decision.event.outcome).to.equal('resolved');
      expect(decision.candidate).to.equal(undefined);
    });

    it('records the same signal id twice (another source) as repeated, counting it once', () => {
      const { when } = given(Rules.burst, Facts.firing('fp', 10, { severity: 'SEV3' }));
      expect(when(Facts.firing('fp', 10, { severity: 'SEV3', source: 'file' })).event.outcome).to.equal('repeated');
    });
  });

  describe('while a candidate is open', () => {
    it('attaches a later firing (the next window too) to it instead of opening another', () => {
      const { when } = given(Rules.page, Facts.firing('fp', 10));
      const next = when(Facts.firing('fp', 400));
      expect(next.event).to.include({ outcome: 'attached' });
      expect(next.candidate).to.equal(undefined);
    });

    it('records a resolution on it, and tells when every firing on it has resolved', () => {
      const { state, when } = given(Rules.page, Facts.firing('fp', 10), Facts.firing('fp', 400));
      when(Facts.resolved('fp', 10, 200));
      expect([...(state.episode?.signals.values() ?? [])]).to.deep.equal([true, false]);
      when(Facts.resolved('fp', 400, 500));
      expect([...(state.episode?.signals.values() ?? [])]).to.deep.equal([true, true]);
    });

    it('closes when its incident is resolved, and the next firing opens a new candidate with an id of its own, even in the same window', () => {
      const { state, when } = given(Rules.page, Facts.firing('fp', 10));
      const first = state.episode?.candidateId ?? '';
      const close = decideClose(state, { groupId: state.groupId, candidateId: first, incidentId: 'inc-1', state: 'RESOLVED', closedAt: at(60) });
      expect(close).to.not.equal(undefined);
      evolveGroup(state, { type: 'EpisodeClosed', data: close!, metadata: META });
      const again = when(Facts.firing('fp', 120));

      expect(again.event.outcome).to.equal('opened');
      expect(again.candidate?.candidateId).to.be.a('string').and.not.equal(first);
    });

    it('ignores the close of another candidate (an older one of the group)', () => {
      const { state } = given(Rules.page, Facts.firing('fp', 10));
      expect(decideClose(state, { groupId: state.groupId, candidateId: 'cand-other', incidentId: 'inc-9', state: 'CLOSED', closedAt: at(60) })).to.equal(undefined);
    });
  });

  describe('evolve', () => {
    it('rebuilds the same state from the recorded events as deciding built', () => {
      const facts = [Facts.firing('a', 10, { severity: 'SEV3' }), Facts.firing('b', 20, { severity: 'SEV3' }), Facts.firing('c', 30, { severity: 'SEV3' }), Facts.resolved('a', 10, 40)];
      const recorded: GroupEvent[] = [];
      const rule = Rules.set([Rules.burst]).rules[0]!;
      const live = new GroupState('grp-1', rule, 'k');
      for (const fact of facts) {
        const data: SignalCorrelatedData = decideSignal(live, { fact, signalStream: 's', late: false }).event;
        const event: GroupEvent = { type: 'SignalCorrelated', data, metadata: META };
        evolveGroup(live, event);
        recorded.push(event);
      }
      const rebuilt = new GroupState('grp-1', rule, 'k');
      for (const event of recorded) evolveGroup(rebuilt, event);

      const state = (g: GroupState) => ({ revision: g.revision, episode: g.episode, closedEpisodes: g.closedEpisodes, windows: g.windows });
      expect(state(rebuilt)).to.deep.equal(state(live));
      expect(rebuilt.revision).to.equal(3n);
    });
  });

  describe('the candidate it opens', () => {
    it('carries a human title and the alert context of the firing that opened it', () => {
      const { when } = given(Rules.page);
      const fact = Facts.firing('fp', 10, { labels: { alertname: 'CheckoutDown', env: 'prod' }, annotations: { summary: 'checkout is down', runbook_url: 'https://runbooks/x' }, generatorUrl: 'http://prom/graph' });
      const candidate = when(fact).candidate;
      expect(candidate?.title).to.equal('CheckoutDown: checkout is down');
      expect(candidate?.context).to.deep.equal({ alertname: 'CheckoutDown', summary: 'checkout is down', runbookUrl: 'https://runbooks/x', generatorUrl: 'http://prom/graph', labels: { alertname: 'CheckoutDown', env: 'prod' } });
    });

    it('titles an alert without a summary by its name and service, and a bare signal by severity, service and fingerprint', () => {
      expect(titleOf(Facts.firing('fp', 0, { annotations: {} }))).to.equal('CheckoutDown on checkout');
      expect(titleOf({ ...Facts.firing('fp', 0), labels: {}, annotations: {} })).to.equal('SEV1 checkout: fp');
    });
  });
});
