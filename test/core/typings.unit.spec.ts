import { expect } from 'chai';

import type { AuthorityContext } from '../../src/authority/authority.js';
import { DECISIONS } from '../../src/candidates/candidate-events.js';
import { TOKENS } from '../../src/container/tokens.js';
import type { IncidentAction } from '../../src/incidents/incident-events.js';
import type { OrchestrationResult } from '../../src/orchestration/incident-orchestrator.js';
import type { OrchestrationEvent } from '../../src/orchestration/orchestration-event.schema.js';
import type { Clock } from '../../src/shared/clock.js';
import { OpxWorld } from './support/world.js';

/**
 * Compile-time tests: each `@ts-expect-error` fails the build if the line it guards compiles,
 * so a typing that widens (e.g. a fourth decision) breaks `tsc`, not just this file's run.
 */
describe('typings', () => {
  it('OrchestrationResult.decision accepts only PROMOTE, DEFER and SUPPRESS', () => {
    const ok: OrchestrationResult[] = DECISIONS.map((decision) => ({ success: true, decision, decisionId: 'd', reason: 'r' }));
    // @ts-expect-error a fourth decision is not a decision
    const escalate: OrchestrationResult = { success: true, decision: 'ESCALATE', decisionId: 'd', reason: 'r' };
    // @ts-expect-error decisionId is required
    const noId: OrchestrationResult = { success: true, decision: 'DEFER', reason: 'r' };

    expect(ok.map((r) => r.decision)).to.deep.equal(['PROMOTE', 'DEFER', 'SUPPRESS']);
    expect([escalate.decision, noId.success]).to.deep.equal(['ESCALATE', true]);
  });

  it('AuthorityContext.authorityType accepts only the three authority types', () => {
    const types: Array<AuthorityContext['authorityType']> = ['AUTO_ENGINE', 'HUMAN_OPERATOR', 'ON_CALL_RESPONDER'];
    // @ts-expect-error ROOT is not an authority type
    const root: AuthorityContext['authorityType'] = 'ROOT';

    expect(types).to.have.length(3);
    expect(root).to.equal('ROOT');
  });

  it('OrchestrationEvent is discriminated by eventType', () => {
    const failed: OrchestrationEvent = { eventType: 'OrchestrationFailed', candidateId: 'c', error: 'e', failedAt: 't' };
    // @ts-expect-error a CandidateDeferred needs deferredAt, not failedAt
    const wrong: OrchestrationEvent = { eventType: 'CandidateDeferred', candidateId: 'c', decisionId: 'd', reason: 'r', failedAt: 't' };

    expect([failed.eventType, wrong.eventType]).to.deep.equal(['OrchestrationFailed', 'CandidateDeferred']);
  });

  it('IncidentAction accepts only the four lifecycle actions', () => {
    const actions: IncidentAction[] = ['ACKNOWLEDGE_INCIDENT', 'MITIGATE_INCIDENT', 'RESOLVE_INCIDENT', 'CLOSE_INCIDENT'];
    // @ts-expect-error CREATE_INCIDENT is an authority action, not a lifecycle transition
    const create: IncidentAction = 'CREATE_INCIDENT';

    expect(actions).to.not.include(create);
  });

  it('container tokens are typed: get(TOKENS.Clock) is a Clock', () => {
    const world = OpxWorld.create();
    const clock: Clock = world.container.get(TOKENS.Clock);
    // @ts-expect-error the Clock token does not give a string
    const notAString: string = world.container.get(TOKENS.Clock);

    expect(clock.now()).to.be.instanceOf(Date);
    expect(notAString).to.equal(clock);
  });

  it('the bus subscriber receives the event type it subscribed to', () => {
    const world = OpxWorld.create();
    const bus = world.container.get(TOKENS.MessageBus);
    const unsubscribe = bus.subscribe('CandidateDeferred', (event) => {
      const at: string = event.deferredAt;
      // @ts-expect-error a CandidateDeferred has no incidentId
      void event.incidentId;
      void at;
    });

    expect(unsubscribe).to.be.a('function');
  });
});
