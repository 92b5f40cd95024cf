import type grpc from '@grpc/grpc-js';
import type { Clock } from '../clock.js';
import { openGate, type Gate } from '../auth/access.js';
import { silentLog, type ServerLog } from '../log.js';
import { SubscriptionGroup } from '../persistent/group.js';
import { deserializeDefinition, type GroupDefinition } from '../persistent/settings.js';
import { persistentPb, sharedPb } from '../proto.js';
import type { ServiceHandlers } from '../rpc.js';
import type { EventStoreCore } from '../store.js';
import { GroupConsumers } from './persistent/consumers.js';
import { GroupManagement } from './persistent/management.js';
import { groupKey, GroupRegistry } from './persistent/registry.js';
import { unary } from './persistent/requests.js';
import { usernameOf } from './persistent/consumers.js';
import { writeCheckpointEvent, writeSubscriptionConfig } from './persistent/system-streams.js';

type CreateReq = InstanceType<typeof persistentPb.CreateReq>;
type UpdateReq = InstanceType<typeof persistentPb.UpdateReq>;
type DeleteReq = InstanceType<typeof persistentPb.DeleteReq>;
type GetInfoReq = InstanceType<typeof persistentPb.GetInfoReq>;
type ListReq = InstanceType<typeof persistentPb.ListReq>;
type ReplayParkedReq = InstanceType<typeof persistentPb.ReplayParkedReq>;
type ReadReq = InstanceType<typeof persistentPb.ReadReq>;
type ReadResp = InstanceType<typeof persistentPb.ReadResp>;

const TICK_MS = 50;

/** The PersistentSubscriptions gRPC service and the registry of groups (management, consumers: ./persistent). */
export class PersistentSubscriptionsService {
  readonly #groups = new GroupRegistry();
  readonly #management: GroupManagement;
  readonly #consumers: GroupConsumers;
  #ticker: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #pumpScheduled = false;

  constructor(
    private readonly store: EventStoreCore,
    private readonly clock: Clock,
    private readonly log: ServerLog = silentLog,
    private readonly gate: Gate = openGate,
  ) {
    this.#consumers = new GroupConsumers(this.#groups, gate, clock);
    this.#management = new GroupManagement(
      store,
      this.#groups,
      (source, group, definition, checkpoint) => this.#newGroup(source, group, definition, checkpoint),
      (consumer) => this.#consumers.detailsOf(consumer),
    );
  }

  /** Loads the groups and checkpoints saved by the engine and starts ticking. */
  start(): void {
    const checkpoints = new Map(
      this.store.engine.loadCheckpoints().map((c) => [groupKey(c.source, c.group), BigInt(c.checkpoint)] as const),
    );
    for (const record of this.store.engine.loadGroups()) {
      const key = groupKey(record.source, record.group);
      this.#groups.add(this.#newGroup(record.source, record.group, deserializeDefinition(record.settings), checkpoints.get(key)));
    }
    this.#unsubscribe = this.store.onAppend(() => this.#schedulePump());
    this.#ticker = setInterval(() => {
      for (const group of this.#groups.values()) group.tick();
    }, TICK_MS);
    this.#ticker.unref();
  }

  /** Flushes checkpoints and stops timers (graceful shutdown). */
  stop(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const group of this.#groups.values()) group.stop();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      for (const group of this.#groups.values()) group.guarded(() => group.pump());
    });
  }

  #newGroup(source: string, group: string, definition: GroupDefinition, checkpoint: bigint | undefined): SubscriptionGroup {
    const save = (value: bigint): void => {
      this.store.engine.saveCheckpoint({ source, group, checkpoint: value.toString() });
      writeCheckpointEvent(this.store, source, group, value);
    };
    return new SubscriptionGroup(source, group, definition, checkpoint, this.store, this.clock, save, this.log);
  }

  /** After a create, update or delete: the configuration as EventStoreDB records it. */
  #configChanged(call: { readonly metadata: grpc.Metadata }): void {
    writeSubscriptionConfig(this.store, this.#groups.values(), usernameOf(call.metadata), this.clock.now());
  }

  implementation(): ServiceHandlers {
    const management = this.#management;
    return {
      create: unary((request: CreateReq, call) => {
        this.gate.manage(call.metadata);
        management.create(request);
        this.#configChanged(call);
        return new persistentPb.CreateResp();
      }),
      update: unary((request: UpdateReq, call) => {
        this.gate.manage(call.metadata);
        management.update(request);
        this.#configChanged(call);
        return new persistentPb.UpdateResp();
      }),
      delete: unary((request: DeleteReq, call) => {
        this.gate.manage(call.metadata);
        management.delete(request);
        this.#configChanged(call);
        return new persistentPb.DeleteResp();
      }),
      getInfo: unary((request: GetInfoReq, call) => {
        this.gate.authenticated(call.metadata);
        return management.getInfo(request);
      }),
      list: unary((request: ListReq, call) => {
        this.gate.authenticated(call.metadata);
        return management.list(request);
      }),
      replayParked: unary((request: ReplayParkedReq, call) => {
        this.gate.manage(call.metadata);
        management.replayParked(request);
        return new persistentPb.ReplayParkedResp();
      }),
      restartSubsystem: unary((_request: unknown, call) => {
        this.gate.manage(call.metadata);
        for (const group of this.#groups.values()) group.flushCheckpoint();
        return new sharedPb.Empty();
      }),
      read: (call: grpc.ServerDuplexStream<ReadReq, ReadResp | Uint8Array>) => this.#consumers.read(call),
    };
  }
}
