import type grpc from '@grpc/grpc-js';
import type { streamsPb } from '../proto.js';
import type { ServiceHandlers } from '../rpc.js';
import { openGate, type Gate } from '../auth/access.js';
import { CommitQueue, type CommitStats } from '../commit-queue.js';
import type { EventStoreCore } from '../store.js';
import { Appends, type StreamsServiceOptions } from './streams/append.js';
import { BatchAppends } from './streams/batch-append.js';
import { Deletes } from './streams/delete.js';
import { StreamReads } from './streams/reads.js';

type ReadReq = InstanceType<typeof streamsPb.ReadReq>;
type ReadResp = InstanceType<typeof streamsPb.ReadResp>;
type AppendReq = InstanceType<typeof streamsPb.AppendReq>;
type AppendResp = InstanceType<typeof streamsPb.AppendResp>;
type BatchAppendReq = InstanceType<typeof streamsPb.BatchAppendReq>;
type BatchAppendResp = InstanceType<typeof streamsPb.BatchAppendResp>;
type DeleteReq = InstanceType<typeof streamsPb.DeleteReq>;
type DeleteResp = InstanceType<typeof streamsPb.DeleteResp>;
type TombstoneReq = InstanceType<typeof streamsPb.TombstoneReq>;
type TombstoneResp = InstanceType<typeof streamsPb.TombstoneResp>;

/**
 * The Streams gRPC service: Read (reads and catch-up subscriptions), Append, BatchAppend, Delete,
 * Tombstone, one file per RPC under ./streams. The writes share one commit queue (group commit).
 */
export class StreamsService {
  readonly #reads: StreamReads;
  readonly #appends: Appends;
  readonly #batchAppends: BatchAppends;
  readonly #deletes: Deletes;
  readonly #commits: CommitQueue;

  constructor(store: EventStoreCore, options: StreamsServiceOptions, gate: Gate = openGate) {
    const commits = new CommitQueue(store.engine);
    this.#commits = commits;
    this.#reads = new StreamReads(store, gate);
    this.#appends = new Appends(store, commits, options, gate);
    this.#batchAppends = new BatchAppends(store, commits, options, gate);
    this.#deletes = new Deletes(store, commits, gate);
  }

  /** How the writes shared commits so far (see {@link CommitStats}). */
  commitStats(): CommitStats {
    return this.#commits.stats();
  }

  implementation(): ServiceHandlers {
    return {
      read: (call: grpc.ServerWritableStream<ReadReq, ReadResp | Uint8Array>) => this.#reads.read(call),
      append: (call: grpc.ServerReadableStream<AppendReq, AppendResp>, callback: grpc.sendUnaryData<AppendResp>) =>
        this.#appends.append(call, callback),
      batchAppend: (call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => this.#batchAppends.batchAppend(call),
      delete: (call: grpc.ServerUnaryCall<DeleteReq, DeleteResp>, callback: grpc.sendUnaryData<DeleteResp>) =>
        this.#deletes.delete(call.request, false, callback, call.metadata),
      tombstone: (call: grpc.ServerUnaryCall<TombstoneReq, TombstoneResp>, callback: grpc.sendUnaryData<TombstoneResp>) =>
        this.#deletes.delete(call.request, true, callback, call.metadata),
    };
  }
}
