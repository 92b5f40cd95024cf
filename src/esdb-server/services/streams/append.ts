import type grpc from '@grpc/grpc-js';
import { sharedPb, streamsPb } from '../../proto.js';
import { Exceptions, isMalformed, parseUint64, parseUuid, toRpcError, writableStreamName } from '../../rpc.js';
import type { Gate } from '../../auth/access.js';
import type { CommitQueue } from '../../commit-queue.js';
import type { EventStoreCore, ExpectedRevision, ProposedEvent, WriteOutcome } from '../../store.js';

type AppendReq = InstanceType<typeof streamsPb.AppendReq>;
type AppendResp = InstanceType<typeof streamsPb.AppendResp>;
type ProposedMessagePb =
  | InstanceType<typeof streamsPb.AppendReq.ProposedMessage>
  | InstanceType<typeof streamsPb.BatchAppendReq.ProposedMessage>;

const JSON_CONTENT_TYPE = 'application/json';
const BINARY_CONTENT_TYPE = 'application/octet-stream';

export interface StreamsServiceOptions {
  /** Total bytes of one append (data + metadata + type), EventStoreDB's MaxAppendSize. */
  readonly maxAppendSize: number;
  /** How long a batch append may take to arrive and commit before it is answered Timeout (EventStoreDB's WriteTimeoutMs). */
  readonly writeTimeoutMs: number;
}

/** Turns a client's proposed message into an event to store, enforcing the required metadata. */
export const toProposedEvent = (message: ProposedMessagePb): { event: ProposedEvent; size: number } => {
  const metadata = message.getMetadataMap();
  const type = metadata.get('type');
  if (type === undefined) throw Exceptions.requiredMetadataPropertyMissing('type');
  const contentType = metadata.get('content-type');
  if (contentType === undefined) throw Exceptions.requiredMetadataPropertyMissing('content-type');
  // EventStoreDB's Event refuses both (ArgumentException, answered UNKNOWN there; a clear INVALID_ARGUMENT here)
  if (type.length === 0) throw Exceptions.invalidArgument('Empty eventType provided.');
  const eventId = parseUuid(message.getId(), 'proposed_message.id');
  if (eventId === NIL_UUID) throw Exceptions.invalidArgument('Empty eventId provided.');
  const data = message.getData_asU8();
  const custom = message.getCustomMetadata_asU8();
  return {
    event: {
      eventId,
      type,
      contentType: contentType === JSON_CONTENT_TYPE ? JSON_CONTENT_TYPE : BINARY_CONTENT_TYPE,
      data,
      metadata: custom,
    },
    size: eventSize(type, data, custom),
  };
};

/**
 * An event's size as EventStoreDB counts it against MaxAppendSize (Event.SizeOnDisk): data and
 * metadata bytes plus the type at two bytes per UTF-16 code unit.
 */
export const eventSize = (type: string, data: Uint8Array, metadata: Uint8Array): number => data.byteLength + metadata.byteLength + type.length * 2;

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

interface ExpectedRevisionSource {
  hasRevision?(): boolean;
  getRevision?(): string;
  hasStreamPosition?(): boolean;
  getStreamPosition?(): string;
  hasNoStream(): boolean;
  hasAny(): boolean;
  hasStreamExists(): boolean;
}

export const parseExpectedRevision = (options: ExpectedRevisionSource): ExpectedRevision => {
  if (options.hasAny()) return { kind: 'any' };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  if (options.hasRevision?.() === true) return { kind: 'revision', revision: parseUint64(options.getRevision!(), 'revision') };
  if (options.hasStreamPosition?.() === true)
    return { kind: 'revision', revision: parseUint64(options.getStreamPosition!(), 'stream_position') };
  throw Exceptions.invalidArgument('expected stream revision is required');
};

/** Streams.Append: the classic append, one call per write. */
export class Appends {
  constructor(
    private readonly store: EventStoreCore,
    private readonly commits: CommitQueue,
    private readonly options: StreamsServiceOptions,
    private readonly gate: Gate,
  ) {}

  append(call: grpc.ServerReadableStream<AppendReq, AppendResp>, callback: grpc.sendUnaryData<AppendResp>): void {
    let done = false;
    let streamName: string | undefined;
    let expected: ExpectedRevision | undefined;
    const events: ProposedEvent[] = [];
    let size = 0;
    const finish = (error: unknown, response?: AppendResp): void => {
      if (done) return;
      done = true;
      if (error !== undefined) callback(toRpcError(error).toStatus());
      else callback(null, response);
    };
    call.on('data', (request: unknown) => {
      if (done) return;
      try {
        if (isMalformed(request)) throw Exceptions.invalidArgument(`Malformed AppendReq: ${request.reason}`);
        const req = request as AppendReq;
        const { ContentCase } = streamsPb.AppendReq;
        if (streamName === undefined) {
          if (req.getContentCase() !== ContentCase.OPTIONS)
            throw Exceptions.invalidArgument('the first AppendReq must carry options');
          const options = req.getOptions()!;
          streamName = writableStreamName(options.getStreamIdentifier());
          this.gate.stream(call.metadata, 'write', streamName);
          expected = parseExpectedRevision(options);
          return;
        }
        if (req.getContentCase() !== ContentCase.PROPOSED_MESSAGE)
          throw Exceptions.invalidArgument('AppendReq after the options must carry a proposed message');
        const proposed = toProposedEvent(req.getProposedMessage()!);
        size += proposed.size;
        if (size > this.options.maxAppendSize) throw Exceptions.maximumAppendSizeExceeded(this.options.maxAppendSize);
        events.push(proposed.event);
      } catch (error) {
        finish(error);
      }
    });
    call.on('end', () => {
      if (done) return;
      try {
        if (streamName === undefined || expected === undefined)
          throw Exceptions.invalidArgument('AppendReq options are required');
        const [name, expectedRevision] = [streamName, expected];
        this.commits
          .run(() => this.store.append(name, expectedRevision, events))
          .then(
            (outcome) => finish(undefined, this.#appendResp(name, expectedRevision, outcome)),
            (error: unknown) => finish(error),
          )
          .catch((error: unknown) => finish(error));
      } catch (error) {
        finish(error);
      }
    });
    call.on('error', () => {
      done = true;
    });
    call.on('cancelled', () => {
      done = true;
    });
  }

  #appendResp(streamName: string, expected: ExpectedRevision, outcome: WriteOutcome): AppendResp {
    const response = new streamsPb.AppendResp();
    switch (outcome.kind) {
      case 'stream_deleted':
        throw Exceptions.streamDeleted(streamName);
      case 'success': {
        const success = new streamsPb.AppendResp.Success();
        if (outcome.currentRevision < 0n) success.setNoStream(new sharedPb.Empty());
        else success.setCurrentRevision(outcome.currentRevision.toString());
        if (outcome.position === undefined) success.setNoPosition(new sharedPb.Empty());
        else
          success.setPosition(
            new streamsPb.AppendResp.Position()
              .setCommitPosition(outcome.position.toString())
              .setPreparePosition(outcome.position.toString()),
          );
        return response.setSuccess(success);
      }
      case 'wrong_expected_version': {
        const wev = new streamsPb.AppendResp.WrongExpectedVersion();
        switch (expected.kind) {
          case 'any':
            wev.setExpectedAny(new sharedPb.Empty());
            break;
          case 'stream_exists':
            wev.setExpectedStreamExists(new sharedPb.Empty());
            break;
          case 'no_stream':
            wev.setExpectedNoStream(new sharedPb.Empty());
            break;
          case 'revision':
            wev.setExpectedRevision(expected.revision.toString());
            break;
          default: {
            const never: never = expected;
            return never;
          }
        }
        if (outcome.currentRevision < 0n) wev.setCurrentNoStream(new sharedPb.Empty());
        else wev.setCurrentRevision(outcome.currentRevision.toString());
        return response.setWrongExpectedVersion(wev);
      }
      default: {
        const never: never = outcome;
        return never;
      }
    }
  }
}
