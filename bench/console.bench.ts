/**
 * Issue 15 figures: the console's first page of the deferred queue and of the incidents list,
 * served by `opx serve`'s HTTP app over real sockets, with 100,000 incidents and 10,000 deferred
 * candidates in the store (BENCH_INCIDENTS / BENCH_DEFERRED to scale). Requests are the page's
 * own, with a signed-in session cookie. Prints p50/p99; asserts nothing.
 * `node dist/bench/console.bench.js`
 */
import 'reflect-metadata';

import { request, Agent } from 'node:http';

import { Registry } from 'prom-client';

import { ConsoleIndex } from '../src/console/console-api.js';
import { OperatorConsole } from '../src/console/operator-console.js';
import { loadConfig } from '../src/container/config.js';
import { createOpxContainer } from '../src/container/modules.js';
import { TOKENS } from '../src/container/tokens.js';
import type { Candidate } from '../src/correlation/correlator.js';
import type { InMemoryEventStore } from '../src/eventstore/in-memory-event-store.js';
import { buildHttpApp } from '../src/http/http-app.js';
import { AuditService } from '../src/operators/audit-service.js';
import { HumanActs } from '../src/operators/human-acts.js';
import { operatorApi } from '../src/operators/operator-api.js';
import { newToken, PrincipalDirectory } from '../src/principals/principals.js';
import { LiveReadModels } from '../src/projections/live-read-models.js';
import { PROJECTED_STREAM_PREFIXES } from '../src/projections/read-models.js';
import { ingestCandidates, processCandidateInputs } from '../src/runtime/in-process.js';
import { FixedClock } from '../src/shared/clock.js';
import { silentLogger } from '../src/shared/logger.js';
import { describeMachineSpeed } from './machine-speed.js';

const INCIDENTS = Number(process.env['BENCH_INCIDENTS'] ?? 100_000);
const DEFERRED = Number(process.env['BENCH_DEFERRED'] ?? 10_000);
const ACKNOWLEDGED = 1_000;
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 1_000);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const T0 = Date.parse('2026-03-01T00:00:00.000Z');

/** A candidate as live correlation records it (title and alert context); SEV1 is promoted, SEV2 of two signals deferred. */
function candidate(i: number, deferred: boolean): Candidate {
  const service = `svc-${i % 97}`;
  const at = new Date(T0 + i * 1000).toISOString();
  return {
    candidateId: `cand-bench-${i.toString().padStart(7, '0')}`,
    correlationRuleId: 'service-fingerprint-burst',
    correlationRuleVersion: '1.0.0',
    policyId: 'standard-promotion',
    policyVersion: '1.0.0',
    severity: deferred ? 'SEV2' : 'SEV1',
    service,
    signalCount: 2,
    createdAt: at,
    groupKey: `service=${service}|fingerprint=fp-${i}`,
    windowStart: at,
    windowEnd: new Date(T0 + i * 1000 + 300_000).toISOString(),
    signalIds: [`sig-${i}-a`, `sig-${i}-b`],
    title: `HighErrorRate: ${service} error rate above 5%`,
    context: { alertname: 'HighErrorRate', summary: `${service} error rate above 5%`, runbookUrl: `https://runbooks.example/${service}`, labels: { alertname: 'HighErrorRate', service } },
  };
}

/** The position of the last event the read models take in (the attempt log's are not theirs). */
async function projectedHead(store: InMemoryEventStore): Promise<bigint> {
  let head = -1n;
  for await (const recorded of store.readAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES })) head = recorded.position;
  return head;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function main(): Promise<void> {
  console.log(describeMachineSpeed());
  const config = loadConfig();
  const container = createOpxContainer({ config });
  const store = container.get(TOKENS.EventStore) as InMemoryEventStore;

  // The store: every 11th candidate deferred, the rest promoted (an incident each).
  let t = performance.now();
  const total = INCIDENTS + DEFERRED;
  const batch: Candidate[] = [];
  const made = { incidents: 0, deferred: 0 };
  for (let i = 0; i < total; i++) {
    // Spread evenly: exactly DEFERRED of them deferred.
    const defer = Math.floor(((i + 1) * DEFERRED) / total) > Math.floor((i * DEFERRED) / total);
    batch.push(candidate(i, defer));
    if (defer) made.deferred++;
    else made.incidents++;
    if (batch.length === 5_000) await ingestCandidates(batch.splice(0), container.get(TOKENS.CandidateStore));
  }
  await ingestCandidates(batch, container.get(TOKENS.CandidateStore));
  await processCandidateInputs(store, container.get(TOKENS.HandlerContext));
  const acts = new HumanActs(store, container.get(TOKENS.CandidateStore), container.get(TOKENS.IncidentManager), config.authorityMatrix, new FixedClock('2026-06-01T00:00:00.000Z'));
  console.log(`store: ${fmt(store.size)} events (${fmt(made.incidents)} incidents, ${fmt(made.deferred)} deferred candidates) made in ${fmt(performance.now() - t)} ms`);

  // The read models, as serve keeps them: caught up from the whole store.
  t = performance.now();
  const readModels = new LiveReadModels(store, silentLogger);
  const index = new ConsoleIndex(readModels);
  readModels.start();
  await readModels.reached(await projectedHead(store));
  console.log(`read models caught up with ${fmt(readModels.projected)} events in ${fmt(performance.now() - t)} ms`);

  // The oldest incidents acknowledged: a state filter whose rows sit far back in arrival order.
  const oldest = readModels.incidents({ limit: ACKNOWLEDGED, before: readModels.incidents({ limit: INCIDENTS - ACKNOWLEDGED }).next ?? '' }).rows;
  const operator = { name: 'bench', role: 'HUMAN_OPERATOR' as const, authenticatedBy: { principal: 'bench', method: 'bearer' as const } };
  for (const row of oldest) await acts.transition(operator, row.incidentId, 'ACKNOWLEDGE_INCIDENT', '', 0n);
  await readModels.reached(await projectedHead(store));

  const token = newToken();
  const principals = PrincipalDirectory.empty().with('bench', ['HUMAN_OPERATOR'], token);
  const audits = new AuditService({ config, store, logger: silentLogger });
  const operatorConsole = new OperatorConsole({ readModels, index, audits, principals, matrix: config.authorityMatrix, secure: false, logger: silentLogger });
  const app = await buildHttpApp({ logger: silentLogger, registry: new Registry(), ready: async () => true }, [
    operatorConsole.routes,
    (instance) =>
      operatorApi(instance, {
        acts,
        explain: { reader: store, candidates: container.get(TOKENS.CandidateStore), incidents: container.get(TOKENS.IncidentManager), attempts: container.get(TOKENS.OrchestrationStore), policies: config.policies, matrix: config.authorityMatrix },
        readModels,
        principals,
        matrix: config.authorityMatrix,
        logger: silentLogger,
        authenticate: operatorConsole.authenticate,
        extend: operatorConsole.extend,
      }),
  ]);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  const call = (method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, agent, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      });
      req.on('error', reject);
      req.end(body);
    });

  const signIn = await call('POST', '/console/session', { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}` }, JSON.stringify({ token }));
  const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string;

  const pages: Array<[string, string]> = [
    ['deferred queue, first page (25 rows)', '/api/v1/console/deferred?limit=25'],
    ['incidents, first page (25 rows)', '/api/v1/incidents?limit=25'],
    ['incidents OPEN, first page', '/api/v1/incidents?limit=25&state=OPEN'],
    [`incidents ACKNOWLEDGED (the ${fmt(ACKNOWLEDGED)} oldest), first page`, '/api/v1/incidents?limit=25&state=ACKNOWLEDGED'],
    ['incidents, a page from the middle (before=)', `/api/v1/incidents?limit=25&before=${encodeURIComponent(readModels.incidents({ limit: Math.floor(INCIDENTS / 2) }).next ?? '')}`],
    ['the page\'s change poll (/console/version)', '/api/v1/console/version'],
  ];
  console.log(`\nserved over HTTP (loopback, keep-alive, one client, session cookie), ${fmt(REQUESTS)} requests each after 100 to warm up:`);
  for (const [what, path] of pages) {
    for (let i = 0; i < 100; i++) await call('GET', path, { cookie });
    const times: number[] = [];
    let rows = 0;
    let totalRows = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const started = performance.now();
      const answer = await call('GET', path, { cookie });
      times.push(performance.now() - started);
      if (answer.status !== 200) throw new Error(`${path}: ${answer.status} ${answer.body}`);
      if (i === 0 && answer.body.startsWith('{"rows"')) {
        const page = JSON.parse(answer.body) as { rows: unknown[]; total: number };
        rows = page.rows.length;
        totalRows = page.total;
      }
    }
    times.sort((a, b) => a - b);
    const shape = rows === 0 ? '' : ` (${rows} rows of ${fmt(totalRows)})`;
    console.log(`  ${what}${shape}: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms, max ${(times.at(-1) as number).toFixed(2)} ms`);
  }
  agent.destroy();
  await app.close();
  await readModels.stop();
  console.log(`\n${describeMachineSpeed()}`);
}

await main();
