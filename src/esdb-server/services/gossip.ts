import type grpc from '@grpc/grpc-js';
import gossipGrpc from '@eventstore/db-client/generated/gossip_grpc_pb.js';
import gossipPb from '@eventstore/db-client/generated/gossip_pb.js';
import { ticksFromMillis, type Clock } from '../clock.js';
import { sharedPb } from '../proto.js';
import type { ServiceHandlers } from '../rpc.js';

/**
 * EventStoreDB's Gossip service for a cluster of one: `Gossip.Read` answers this node as the
 * alive leader. The official client asks it whenever it discovers a node (`esdb+discover://`,
 * several hosts in a connection string, `endpoints`/`discover` settings) and then connects to the
 * member's HTTP endpoint, so the endpoint advertised is the one the client reached this call on
 * (its `:authority`), like EventStoreDB's AdvertiseHostToClientAs: behind a name, a NAT or a
 * wildcard bind the client is told an address it can reach, and TLS names stay the ones it checked.
 */
export const gossipDefinition = gossipGrpc.GossipService as unknown as grpc.ServiceDefinition;

/** host:port, [v6]:port or host (port then 2113, EventStoreDB's default) to an endpoint. */
export const endpointOfAuthority = (authority: string): { address: string; port: number } => {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(authority);
  if (bracketed !== null) return { address: bracketed[1] ?? '', port: Number(bracketed[2] ?? 2113) };
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.indexOf(':') !== colon) return { address: authority, port: 2113 };
  return { address: authority.slice(0, colon), port: Number(authority.slice(colon + 1)) };
};

/** `nodeInstanceId`: this start's id (EventStoreDB draws one per start), as in its epoch record. */
export const gossipImplementation = (clock: Clock, nodeInstanceId: string): ServiceHandlers => {
  const instanceId = new sharedPb.UUID().setString(nodeInstanceId);
  return {
    read: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const { address, port } = endpointOfAuthority(call.getHost());
      const member = new gossipPb.MemberInfo()
        .setInstanceId(instanceId)
        .setTimeStamp(ticksFromMillis(clock.now()).toString())
        .setState(gossipPb.MemberInfo.VNodeState.LEADER)
        .setIsAlive(true)
        .setHttpEndPoint(new gossipPb.EndPoint().setAddress(address).setPort(port));
      callback(null, new gossipPb.ClusterInfo().setMembersList([member]));
    },
  };
};
