import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { AUTH_CHALLENGE, authenticateRequest } from '../http/http-auth.js';
import { hasRole, type Authenticated, type PrincipalDirectory } from '../principals/principals.js';
import { alertmanagerInputs, isAlertmanagerPayload, payloadInfo, type SignalInput } from '../signals/alertmanager.js';
import { jsonDocuments } from '../signals/json-documents.js';
import { documentInputs, valueInputs } from '../signals/signal-input.js';
import type { RecordReport, SignalRecorder } from '../signals/signal-recorder.js';
import type { SourcesConfig } from '../signals/source-mapping.js';
import { OpxError, StoreUnavailable } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { settlesWithin } from '../shared/time-limit.js';
import type { ReceiverMetrics } from './receiver-metrics.js';

export const ALERTMANAGER_ROUTE = '/api/v1/alerts/alertmanager';
export const SIGNALS_ROUTE = '/api/v1/signals';

export interface ReceiverDeps {
  readonly recorder: SignalRecorder;
  readonly sources: SourcesConfig;
  readonly principals: PrincipalDirectory;
  /** No principal needed (`--insecure`): acts are recorded as `anonymous`. */
  readonly insecure: boolean;
  readonly metrics: ReceiverMetrics;
  readonly logger: Logger;
  /** The longest a request waits for the store to acknowledge its appends before answering 503. */
  readonly deadlineMs: number;
}

/** What the receiver answers once every accepted input is durably recorded. */
export interface ReceiverAnswer {
  readonly status: 'recorded';
  readonly received: number;
  readonly accepted: number;
  readonly duplicate: number;
  readonly ignored: number;
  readonly rejected: ReadonlyArray<{ readonly location: string; readonly problems: readonly string[] }>;
  readonly truncatedAlerts: number;
}

type WithWho = FastifyRequest & { opxWho?: Authenticated };
type WithStart = FastifyRequest & { opxStarted?: number };

const ANONYMOUS: Authenticated = { principal: { name: 'anonymous', roles: ['ingest'] }, method: 'env-token' };

/**
 * The receiver's routes, answering as Alertmanager's retry rules need: 200 only after every
 * accepted input is durably appended (acknowledged by the store); 5xx, which Alertmanager
 * retries, when the store is unavailable or slower than the deadline; 4xx, which it drops, only
 * for a body that cannot be read at all or a request that does not authenticate. A bad alert in
 * a good body is rejected alone, listed in the 200 body, logged and counted. The same body posted
 * twice records nothing new.
 */
export async function receiverRoutes(app: FastifyInstance, deps: ReceiverDeps): Promise<void> {
  app.addContentTypeParser(['application/x-ndjson', 'application/jsonl', 'text/plain'], { parseAs: 'string' }, (_request, body, done) => done(null, body));

  /** Before the body is read: a request that does not authenticate costs no parsing. */
  const authenticate = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    (request as WithStart).opxStarted = performance.now();
    const found = authenticateRequest(request.headers, deps.principals);
    if (found === undefined && deps.insecure && request.headers.authorization === undefined) {
      (request as WithWho).opxWho = ANONYMOUS;
      return;
    }
    if (found === undefined) {
      await reply.code(401).header('www-authenticate', AUTH_CHALLENGE).send({ error: 'unauthorized', message: 'a bearer token (or basic auth) of a principal with the ingest role is required' });
      return;
    }
    if (!hasRole(found.principal, 'ingest')) {
      await reply.code(403).send({ error: 'forbidden', message: `principal '${found.principal.name}' lacks the ingest role` });
      return;
    }
    (request as WithWho).opxWho = found;
  };
  const who = (request: FastifyRequest): Authenticated => (request as WithWho).opxWho ?? ANONYMOUS;
  const startOf = (request: FastifyRequest): number => (request as WithStart).opxStarted ?? performance.now();

  app.post(ALERTMANAGER_ROUTE, { onRequest: authenticate }, async (request, reply) => {
    const body = request.body;
    if (!isAlertmanagerPayload(body)) {
      return answerError(reply, 400, 'bad_request', 'the body is not an Alertmanager webhook body (version "4" with an alerts array)');
    }
    const info = payloadInfo(body);
    const inputs = alertmanagerInputs(body, deps.sources.alertmanager);
    return record(reply, who(request), inputs, ALERTMANAGER_ROUTE, startOf(request), info.truncatedAlerts > 0 ? { ...info, source: deps.sources.alertmanager.source } : undefined);
  });

  app.post(SIGNALS_ROUTE, { onRequest: authenticate }, async (request, reply) => {
    let inputs: SignalInput[];
    if (typeof request.body === 'string') {
      inputs = [];
      for await (const document of jsonDocuments([request.body])) inputs.push(...documentInputs(document, deps.sources).inputs);
    } else {
      inputs = [...valueInputs(request.body, deps.sources, 'body').inputs];
    }
    return record(reply, who(request), inputs, SIGNALS_ROUTE, startOf(request), undefined);
  });

  async function record(
    reply: FastifyReply,
    who: Authenticated,
    inputs: readonly SignalInput[],
    route: string,
    started: number,
    truncation: { readonly source: string; readonly receiver?: string; readonly groupKey?: string; readonly truncatedAlerts: number } | undefined,
  ): Promise<FastifyReply> {
    const edge = { channel: 'http', principal: who.principal.name };
    const work = (async (): Promise<RecordReport> => {
      if (truncation !== undefined) {
        const { receiver, groupKey } = truncation;
        await deps.recorder.recordTruncation({ source: truncation.source, truncatedAlerts: truncation.truncatedAlerts, ...(receiver === undefined ? {} : { receiver }), ...(groupKey === undefined ? {} : { groupKey }) }, edge);
      }
      return deps.recorder.record(inputs, edge);
    })();
    let report: RecordReport;
    try {
      const answer = await settlesWithin(work, deps.deadlineMs);
      if (!answer.settled) {
        work.catch((error: unknown) => deps.logger.warn({ err: error, route }, 'appends past the deadline failed (the sender retries)'));
        deps.logger.warn({ route, deadlineMs: deps.deadlineMs, inputs: inputs.length }, 'the store did not acknowledge within the deadline: answered 503, the sender retries');
        return answerError(reply.header('retry-after', '1'), 503, 'store_timeout', `the event store did not acknowledge within ${deps.deadlineMs} ms; retry`);
      }
      report = answer.value;
    } catch (error) {
      const unavailable = error instanceof StoreUnavailable || !OpxError.is(error);
      deps.logger.error({ err: error, route }, unavailable ? 'the event store is unavailable: answered 503' : 'recording failed');
      return answerError(reply.header('retry-after', '1'), 503, 'store_unavailable', 'the event store is unavailable; retry');
    }
    const rejected = report.inputs.filter((i) => i.outcome === 'rejected');
    for (const input of report.inputs) deps.metrics.inputs.inc({ source: input.source, outcome: input.outcome });
    if (truncation !== undefined) deps.metrics.truncated.inc({ source: truncation.source }, truncation.truncatedAlerts);
    if (rejected.length > 0) deps.logger.warn({ route, principal: who.principal.name, rejected: rejected.slice(0, 20).map((r) => ({ location: r.location, problems: r.problems })) }, 'inputs rejected (recorded with why)');
    const answer: ReceiverAnswer = {
      status: 'recorded',
      received: report.inputs.length,
      accepted: report.counts.accepted,
      duplicate: report.counts.duplicate,
      ignored: report.counts.ignored,
      rejected: rejected.map((r) => ({ location: r.location, problems: r.problems ?? [] })),
      truncatedAlerts: truncation?.truncatedAlerts ?? 0,
    };
    deps.metrics.ack.observe({ route }, (performance.now() - started) / 1000);
    return reply.code(200).send(answer);
  }
}

function answerError(reply: FastifyReply, code: number, error: string, message: string): FastifyReply {
  return reply.code(code).send({ error, message });
}
