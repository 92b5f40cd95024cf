import type grpc from '@grpc/grpc-js';
import { persistentGrpc, serverFeaturesGrpc, serverFeaturesPb, streamsGrpc } from '../proto.js';
import type { ServiceHandlers } from '../rpc.js';

/**
 * Advertises what the embedded server implements. The client asks lazily and decides from the
 * answer: BatchAppend is used only when listed; persistent subscriptions to `$all` and the gRPC
 * (not HTTP) info/list/replay calls need the "stream"/"all" features. Feature names follow
 * EventStoreDB's ServerFeatures service.
 */
export const SERVER_VERSION = '24.10.0';

type ServiceDefinition = grpc.ServiceDefinition;

const methodsOf = (service: ServiceDefinition, features: (method: string) => string[]): InstanceType<typeof serverFeaturesPb.SupportedMethod>[] =>
  Object.values(service).map((definition) => {
    const [, serviceName = '', methodName = ''] = definition.path.split('/');
    return new serverFeaturesPb.SupportedMethod()
      .setServiceName(serviceName.toLowerCase())
      .setMethodName(methodName.toLowerCase())
      .setFeaturesList(features(methodName.toLowerCase()));
  });

export const supportedMethods = (): InstanceType<typeof serverFeaturesPb.SupportedMethods> =>
  new serverFeaturesPb.SupportedMethods().setEventStoreServerVersion(SERVER_VERSION).setMethodsList([
    ...methodsOf(streamsGrpc.StreamsService, (m) => (m === 'read' ? ['position', 'events'] : [])),
    ...methodsOf(persistentGrpc.PersistentSubscriptionsService, () => ['stream', 'all']),
    ...methodsOf(serverFeaturesGrpc.ServerFeaturesService, () => []),
  ]);

export const serverFeaturesImplementation = (): ServiceHandlers => {
  const answer = supportedMethods();
  return {
    getSupportedMethods: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, answer),
  };
};
