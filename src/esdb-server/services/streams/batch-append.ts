import grpc from '@grpc/grpc-js';
import { anyPb, codePb, emptyPb, sharedPb, statusPb, streamsPb } from '../../proto.js';
import { Exceptions, guard, isMalformed, parseUuid, toRpcError, writableStreamName } from '../../rpc.js';
import type { Gate } from '../../auth/access.js';
import type { CommitQueue } from '../../commit-queue.js';
import type { EventStoreCore, ExpectedRevision, ProposedEvent, WriteOutcome } from '../../store.js';
import { parseExpectedRevision, toProposedEvent, type StreamsServiceOptions } from './append.js';

type BatchAppendReq = InstanceType<typeof streamsPb.BatchAppendReq>;
type BatchAppendResp = InstanceType<typeof streamsPb.BatchAppendResp>;

/** Writes a call may have begun and not finished (EventStoreDB sets no number; each would hold up to MaxAppendSize). */
const MAX_PENDING_WRITES_PER_CALL = 64;

/** Streams.BatchAppend: many writes over one duplex call, each named by its correlation id. */
export class BatchAppends {
  constructor(
    private readonly store: EventStoreCore,
    private readonly commits: CommitQueue,
    private readonly options: StreamsServiceOptions,
    private readonly gate: Gate,
  ) {}

  batchAppend(call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>): void {
    interface Pending {
      readonly streamName: string;
      readonly identifier: InstanceType<typeof sharedPb.StreamIdentifier>;
      readonly expected: ExpectedRevision;
      readonly events: ProposedEvent[];
      size: number;
      timer: NodeJS.Timeout | undefined;
    }
    const pending = new Map<string, Pending>();
    let closed = false;
    const send = (response: BatchAppendResp): void => {
      if (!closed && !call.cancelled) call.write(response);
    };
    const statusWithDetails = (code: number, message: string, typeName: string, details: Uint8Array): unknown => {
      const any = new anyPb.Any();
      any.pack(details, typeName);
      return new statusPb.Status().setCode(code).setMessage(message).setDetails(any);
    };
    const errorResp = (
      correlation: InstanceType<typeof sharedPb.UUID>,
      identifier: InstanceType<typeof sharedPb.StreamIdentifier> | undefined,
      status: unknown,
    ): BatchAppendResp => {
      const response = new streamsPb.BatchAppendResp().setCorrelationId(correlation);
      if (identifier !== undefined) response.setStreamIdentifier(identifier);
      return response.setError(status as InstanceType<typeof statusPb.Status>);
    };
    const badRequest = (message: string): unknown =>
      statusWithDetails(
        codePb.Code.INVALID_ARGUMENT,
        'BadRequest',
        'event_store.client.BadRequest',
        new sharedPb.BadRequest().setMessage(message).serializeBinary(),
      );

    const timeoutResp = (correlation: InstanceType<typeof sharedPb.UUID>, identifier: InstanceType<typeof sharedPb.StreamIdentifier> | undefined): BatchAppendResp =>
      errorResp(correlation, identifier, statusWithDetails(codePb.Code.DEADLINE_EXCEEDED, 'Timeout', 'event_store.client.Timeout', new sharedPb.Timeout().serializeBinary()));
    const clearTimers = (): void => {
      for (const entry of pending.values()) clearTimeout(entry.timer);
      pending.clear();
    };

    const failCall = (error: unknown): void => {
      if (closed) return;
      closed = true;
      call.emit('error', toRpcError(error).toStatus());
    };
    call.on('data', guard(failCall, (request: unknown) => {
      if (closed) return;
      if (isMalformed(request)) {
        closed = true;
        call.emit('error', Exceptions.invalidArgument(`Malformed BatchAppendReq: ${request.reason}`).toStatus());
        return;
      }
      const req = request as BatchAppendReq;
      const correlation = req.getCorrelationId();
      let key: string;
      try {
        key = parseUuid(correlation, 'correlation_id');
      } catch (error) {
        closed = true;
        call.emit('error', toRpcError(error).toStatus());
        return;
      }
      const correlationId = correlation!;
      let entry = pending.get(key);
      try {
        if (req.hasOptions() && entry === undefined) {
          const options = req.getOptions()!;
          const identifier = options.getStreamIdentifier();
          const streamName = writableStreamName(identifier);
          this.gate.stream(call.metadata, 'write', streamName);
          const expected = parseExpectedRevision(options);
          // the client's deadline is wall-clock time, whatever clock the server stamps events with
          const now = Date.now();
          const deadline = options.getDeadline();
          const requested = deadline === undefined ? Number.POSITIVE_INFINITY : deadline.getSeconds() * 1000 + Math.floor(deadline.getNanos() / 1e6) - now;
          const timeoutMs = Math.min(requested, this.options.writeTimeoutMs);
          if (!(timeoutMs > 0)) {
            send(timeoutResp(correlationId, identifier));
            return;
          }
          if (pending.size >= MAX_PENDING_WRITES_PER_CALL)
            throw Exceptions.invalidArgument(`${MAX_PENDING_WRITES_PER_CALL} batch appends are already incomplete on this call`);
          const created: Pending = { streamName, identifier: identifier!, expected, events: [], size: 0, timer: undefined };
          // an incomplete write that waits past its deadline is answered Timeout and forgotten, as EventStoreDB does
          created.timer = setTimeout(() => {
            if (pending.get(key) !== created) return;
            pending.delete(key);
            send(timeoutResp(correlationId, created.identifier));
          }, timeoutMs);
          created.timer.unref();
          entry = created;
          pending.set(key, created);
        }
        if (entry === undefined) return;
        for (const message of req.getProposedMessagesList()) {
          const proposed = toProposedEvent(message);
          entry.size += proposed.size;
          entry.events.push(proposed.event);
        }
        if (entry.size > this.options.maxAppendSize) {
          pending.delete(key);
          clearTimeout(entry.timer);
          const details = new sharedPb.MaximumAppendSizeExceeded().setMaxappendsize(this.options.maxAppendSize);
          send(
            errorResp(
              correlationId,
              entry.identifier,
              statusWithDetails(
                codePb.Code.INVALID_ARGUMENT,
                'MaximumAppendSizeExceeded',
                'event_store.client.MaximumAppendSizeExceeded',
                details.serializeBinary(),
              ),
            ),
          );
          return;
        }
        if (!req.getIsFinal()) return;
        pending.delete(key);
        clearTimeout(entry.timer);
        const write = entry;
        this.commits
          .run(() => this.store.append(write.streamName, write.expected, write.events))
          .then(
            (outcome) => send(this.#batchAppendResp(correlationId, write.identifier, write.expected, outcome, statusWithDetails)),
            (error: unknown) => send(errorResp(correlationId, write.identifier, badRequest(toRpcError(error).details))),
          )
          .catch(failCall);
      } catch (error) {
        if (entry !== undefined) clearTimeout(entry.timer);
        pending.delete(key);
        const rpc = toRpcError(error);
        const status =
          rpc.code === grpc.status.PERMISSION_DENIED || rpc.code === grpc.status.UNAUTHENTICATED
            ? statusWithDetails(codePb.Code.PERMISSION_DENIED, 'AccessDenied', 'event_store.client.AccessDenied', new sharedPb.AccessDenied().serializeBinary())
            : badRequest(rpc.details);
        send(errorResp(correlationId, entry?.identifier ?? req.getOptions()?.getStreamIdentifier(), status));
      }
    }));
    call.on('end', () => {
      clearTimers();
      if (closed) return;
      closed = true;
      call.end();
    });
    call.on('error', () => {
      closed = true;
      clearTimers();
    });
    call.on('cancelled', () => {
      closed = true;
      clearTimers();
      pending.clear();
    });
  }

  #batchAppendResp(
    correlation: InstanceType<typeof sharedPb.UUID>,
    identifier: InstanceType<typeof sharedPb.StreamIdentifier>,
    expected: ExpectedRevision,
    outcome: WriteOutcome,
    statusWithDetails: (code: number, message: string, typeName: string, details: Uint8Array) => unknown,
  ): BatchAppendResp {
    const response = new streamsPb.BatchAppendResp().setCorrelationId(correlation).setStreamIdentifier(identifier);
    switch (outcome.kind) {
      case 'success': {
        const success = new streamsPb.BatchAppendResp.Success();
        if (outcome.currentRevision < 0n) success.setNoStream(new emptyPb.Empty());
        else success.setCurrentRevision(outcome.currentRevision.toString());
        if (outcome.position === undefined) success.setNoPosition(new emptyPb.Empty());
        else
          success.setPosition(
            new sharedPb.AllStreamPosition()
              .setCommitPosition(outcome.position.toString())
              .setPreparePosition(outcome.position.toString()),
          );
        return response.setSuccess(success);
      }
      case 'wrong_expected_version': {
        const details = new sharedPb.WrongExpectedVersion();
        if (outcome.currentRevision < 0n) details.setCurrentNoStream(new emptyPb.Empty());
        else details.setCurrentStreamRevision(outcome.currentRevision.toString());
        switch (expected.kind) {
          case 'any':
            details.setExpectedAny(new emptyPb.Empty());
            break;
          case 'stream_exists':
            details.setExpectedStreamExists(new emptyPb.Empty());
            break;
          case 'no_stream':
            details.setExpectedNoStream(new emptyPb.Empty());
            break;
          case 'revision':
            details.setExpectedStreamPosition(expected.revision.toString());
            break;
          default: {
            const never: never = expected;
            return never;
          }
        }
        return response.setError(
          statusWithDetails(
            codePb.Code.ALREADY_EXISTS,
            'WrongExpectedVersion',
            'event_store.client.WrongExpectedVersion',
            details.serializeBinary(),
          ) as InstanceType<typeof statusPb.Status>,
        );
      }
      case 'stream_deleted':
        return response.setError(
          statusWithDetails(
            codePb.Code.NOT_FOUND,
            'StreamDeleted',
            'event_store.client.StreamDeleted',
            new sharedPb.StreamDeleted().setStreamIdentifier(identifier).serializeBinary(),
          ) as InstanceType<typeof statusPb.Status>,
        );
      default: {
        const never: never = outcome;
        return never;
      }
    }
  }
}
