import type grpc from '@grpc/grpc-js';
import { sharedPb, streamsPb } from '../../proto.js';
import { Exceptions, isMalformed, toRpcError, writableStreamName } from '../../rpc.js';
import type { Gate } from '../../auth/access.js';
import type { CommitQueue } from '../../commit-queue.js';
import { expectedVersionNumber, isMetastream, type EventStoreCore, type ExpectedRevision, type WriteOutcome } from '../../store.js';
import { parseExpectedRevision } from './append.js';

type DeleteReq = InstanceType<typeof streamsPb.DeleteReq>;
type DeleteResp = InstanceType<typeof streamsPb.DeleteResp>;
type TombstoneReq = InstanceType<typeof streamsPb.TombstoneReq>;
type TombstoneResp = InstanceType<typeof streamsPb.TombstoneResp>;

/** Streams.Delete (soft delete) and Streams.Tombstone (hard delete). */
export class Deletes {
  constructor(
    private readonly store: EventStoreCore,
    private readonly commits: CommitQueue,
    private readonly gate: Gate,
  ) {}

  delete(
    request: DeleteReq | TombstoneReq,
    hard: boolean,
    callback: grpc.sendUnaryData<DeleteResp & TombstoneResp>,
    metadata: grpc.Metadata,
  ): void {
    try {
      const raw: unknown = request;
      if (isMalformed(raw)) throw Exceptions.invalidArgument(`Malformed request: ${raw.reason}`);
      const options = request.getOptions();
      if (options === undefined) throw Exceptions.invalidArgument("'options' is required");
      const streamName = writableStreamName(options.getStreamIdentifier());
      // EventStoreDB's ACL check has no delete action for a metastream: denied, even to admins
      if (isMetastream(streamName)) throw Exceptions.accessDenied();
      this.gate.stream(metadata, 'delete', streamName);
      const expected = parseExpectedRevision(options);
      this.commits.run(() => this.store.delete(streamName, expected, hard)).then(
        (outcome) => this.#deleteResp(streamName, expected, hard, outcome, callback),
        (error: unknown) => callback(toRpcError(error).toStatus()),
      );
    } catch (error) {
      callback(toRpcError(error).toStatus());
    }
  }

  #deleteResp(
    streamName: string,
    expected: ExpectedRevision,
    hard: boolean,
    outcome: WriteOutcome,
    callback: grpc.sendUnaryData<DeleteResp & TombstoneResp>,
  ): void {
    try {
      switch (outcome.kind) {
        case 'stream_deleted':
          throw Exceptions.streamDeleted(streamName);
        case 'wrong_expected_version':
          throw Exceptions.wrongExpectedVersion(
            'Delete',
            streamName,
            expectedVersionNumber(expected),
            outcome.currentRevision,
          );
        case 'success': {
          const Resp = hard ? streamsPb.TombstoneResp : streamsPb.DeleteResp;
          const response = new Resp();
          if (outcome.position === undefined) response.setNoPosition(new sharedPb.Empty());
          else {
            const position = new Resp.Position()
              .setCommitPosition(outcome.position.toString())
              .setPreparePosition(outcome.position.toString());
            (response as { setPosition(p: unknown): unknown }).setPosition(position);
          }
          callback(null, response);
          return;
        }
        default: {
          const never: never = outcome;
          return never;
        }
      }
    } catch (error) {
      callback(toRpcError(error).toStatus());
    }
  }
}
