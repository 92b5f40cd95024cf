/**
 * A CommonJS host: the package is ESM, loaded through Node's require(esm) (unflagged on every
 * Node the package supports: ^20.19.0 || >=22.12.0), as is Inversify 8. The package test
 * type-checks this file strict (TypeScript compiles its imports to require()) and runs it.
 */
import 'reflect-metadata';

import { Container } from 'inversify';
import { TOKENS, auditReplay, inMemoryEventStoreModule, loadConfig, orchestrationModule, type Candidate, type OrchestrationEvent } from '@opx/incident-orchestration';

async function main(): Promise<void> {
  const config = loadConfig();
  const container = new Container();
  container.load(orchestrationModule({ config }), inMemoryEventStoreModule());
  const heard: OrchestrationEvent[] = [];
  container.get(TOKENS.MessageBus).subscribe('IncidentCreated', (event) => void heard.push(event));

  const candidate: Candidate = {
    candidateId: 'cand-cjs-host',
    correlationRuleId: 'service-fingerprint-burst',
    correlationRuleVersion: '1.0.0',
    policyId: 'standard-promotion',
    policyVersion: '1.0.0',
    severity: 'SEV1',
    service: 'auth',
    signalCount: 2,
    createdAt: '2026-03-01T00:00:20.000Z',
    groupKey: 'service=auth|fingerprint=auth:HighErrorRate',
    windowStart: '2026-03-01T00:00:00.000Z',
    windowEnd: '2026-03-01T00:05:00.000Z',
    signalIds: ['sig-a', 'sig-b'],
  };
  await container.get(TOKENS.Candidates).create(candidate);
  const { candidateId, correlationRuleId, correlationRuleVersion, signalCount, severity, service, createdAt } = candidate;
  await container.get(TOKENS.CandidateHandlers).handleCandidateCreated({ eventType: 'CandidateCreated', candidateId, correlationRuleId, correlationRuleVersion, signalCount, severity, service, createdAt });

  const replay = await auditReplay(container.get(TOKENS.EventStore), config);
  console.log(JSON.stringify({ moduleSystem: typeof require === 'function' ? 'commonjs' : 'esm', heard: heard.map((e) => `${e.eventType}:${e.candidateId}`), replay: replay.verdict }));
}

void main();
