import { randomUUID } from 'node:crypto';
import type grpc from '@grpc/grpc-js';
import type { Consumer, Delivery, NackAction, SubscriptionGroup } from '../../persistent/group.js';
import { persistentPb } from '../../proto.js';
import { Exceptions, isMalformed, parseUuid, toRpcError } from '../../rpc.js';
import { encodeReadEventResp } from '../../wire/read-resp-encoder.js';
import type { Gate } from '../../auth/access.js';
import type { Clock } from '../../clock.js';
import type { GroupRegistry } from './registry.js';
import { requireGroupName, sourceOf } from './requests.js';
import { ConsumerTimings } from './timings.js';

type ReadReq = InstanceType<typeof persistentPb.ReadReq>;
type ReadResp = InstanceType<typeof persistentPb.ReadResp>;

/** What GetInfo reports of a connection beyond the group's view of it. */
export interface ConsumerDetails {
  /** The user the call authenticated as ('' without credentials). */
  readonly username: string;
  /** Present when the group has extraStatistics on. */
  readonly timings: ConsumerTimings | undefined;
}

/** The user name in a call's basic credentials (the gate has checked them), '' without any. */
export const usernameOf = (metadata: grpc.Metadata): string => {
  const header = metadata.get('authorization')[0];
  if (typeof header !== 'string' || !header.startsWith('Basic ')) return '';
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? decoded : decoded.slice(0, colon);
};

/** PersistentSubscriptions.Read: a consumer joins a group, receives deliveries, acks and nacks them. */
export class GroupConsumers {
  readonly #details = new WeakMap<Consumer, ConsumerDetails>();

  constructor(
    private readonly groups: GroupRegistry,
    private readonly gate: Gate,
    private readonly clock: Clock,
  ) {}

  detailsOf(consumer: Consumer): ConsumerDetails | undefined {
    return this.#details.get(consumer);
  }

  read(call: grpc.ServerDuplexStream<ReadReq, ReadResp | Uint8Array>): void {
    let consumer: Consumer | undefined;
    let group: SubscriptionGroup | undefined;
    let structured = false;
    let ended = false;
    const fail = (error: unknown): void => {
      if (ended) return;
      ended = true;
      if (consumer !== undefined) group?.removeConsumer(consumer);
      call.emit('error', toRpcError(error).toStatus());
    };
    const leave = (): void => {
      if (consumer !== undefined) group?.removeConsumer(consumer);
      consumer = undefined;
    };
    call.on('data', (request: unknown) => {
      if (ended) return;
      try {
        if (isMalformed(request)) throw Exceptions.invalidArgument(`Malformed ReadReq: ${request.reason}`);
        const req = request as ReadReq;
        const { ContentCase } = persistentPb.ReadReq;
        if (group === undefined) {
          if (req.getContentCase() !== ContentCase.OPTIONS)
            throw Exceptions.invalidArgument('the first ReadReq must carry options');
          const options = req.getOptions()!;
          const source = sourceOf(options);
          const name = requireGroupName(options.getGroupName());
          this.gate.stream(call.metadata, 'read', source);
          const found = this.groups.existing(source, name);
          const max = found.settings.maxSubscriberCount;
          if (max > 0 && found.consumers.length >= max) throw Exceptions.maximumSubscribersReached(source, name);
          structured =
            options.getUuidOption()?.getContentCase() === persistentPb.ReadReq.Options.UUIDOption.ContentCase.STRUCTURED;
          group = found;
          const metadataName = call.metadata.get('connection-name')[0];
          const timings = found.settings.extraStatistics ? new ConsumerTimings(this.clock) : undefined;
          const joined: Consumer = {
            id: randomUUID(),
            connectionName: typeof metadataName === 'string' ? metadataName : '<unknown>',
            from: call.getPeer(),
            bufferSize: Math.max(1, options.getBufferSize()),
            inFlight: 0,
            blocked: false,
            totalItems: 0,
            send: (delivery) => {
              if (ended || call.cancelled) return;
              const sent = delivery.link ?? delivery.event;
              if (timings !== undefined && sent !== undefined) timings.start(sent.eventId);
              // Flow control: a consumer that does not read holds what its connection buffers, not
              // what its buffer size asks for (2^31-1 pushed a whole stream into memory).
              if (call.write(this.#toReadResp(delivery, structured))) return;
              joined.blocked = true;
              call.once('drain', () => {
                joined.blocked = false;
                found.guarded(() => found.pump());
              });
            },
            drop: (error) => {
              consumer = undefined;
              fail(error);
            },
          };
          consumer = joined;
          this.#details.set(joined, { username: usernameOf(call.metadata), timings });
          call.write(
            new persistentPb.ReadResp().setSubscriptionConfirmation(
              new persistentPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(`${source}::${name}`),
            ),
          );
          found.addConsumer(consumer);
          return;
        }
        if (consumer === undefined) return;
        switch (req.getContentCase()) {
          case ContentCase.ACK: {
            const ids = req.getAck()!.getIdsList().map((id) => parseUuid(id, 'ack.ids'));
            this.#completed(consumer, ids);
            group.ack(consumer, ids);
            return;
          }
          case ContentCase.NACK: {
            const nack = req.getNack()!;
            const ids = nack.getIdsList().map((id) => parseUuid(id, 'nack.ids'));
            this.#completed(consumer, ids);
            group.nack(
              consumer,
              ids,
              this.#nackAction(nack.getAction()),
              nack.getReason(),
            );
            return;
          }
          default:
            throw Exceptions.invalidArgument('ReadReq must carry ack or nack after the options');
        }
      } catch (error) {
        fail(error);
      }
    });
    call.on('end', () => {
      leave();
      if (!ended) {
        ended = true;
        call.end();
      }
    });
    call.on('cancelled', () => {
      ended = true;
      leave();
    });
    call.on('error', () => {
      ended = true;
      leave();
    });
  }

  #completed(consumer: Consumer, ids: readonly string[]): void {
    const timings = this.#details.get(consumer)?.timings;
    if (timings !== undefined) for (const id of ids) timings.end(id);
  }

  #nackAction(action: ReturnType<InstanceType<typeof persistentPb.ReadReq.Nack>['getAction']>): NackAction {
    const { Action } = persistentPb.ReadReq.Nack;
    switch (action) {
      case Action.UNKNOWN:
        return 'unknown';
      case Action.PARK:
        return 'park';
      case Action.RETRY:
        return 'retry';
      case Action.SKIP:
        return 'skip';
      case Action.STOP:
        return 'stop';
      default:
        throw Exceptions.invalidArgument(`'${String(action)}' is not a valid nack action`);
    }
  }

  /** A delivery as the wire bytes of its ReadResp (see wire/read-resp-encoder.ts): the delivery's position and retry count. */
  #toReadResp(delivery: Delivery, structured: boolean): Uint8Array {
    return encodeReadEventResp(delivery.event, delivery.link, structured, delivery.position, { recordedPosition: delivery.position, retryCount: delivery.retryCount });
  }
}
