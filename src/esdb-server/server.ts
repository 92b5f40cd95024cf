import grpc from '@grpc/grpc-js';
import { AccessControl, gateOf, openGate } from './auth/access.js';
import { endpointHost, securityOf } from './auth/embedded-security.js';
import type { UserStore } from './auth/users.js';
import { systemClock, type Clock } from './clock.js';
import type { CommitStats } from './commit-queue.js';
import { silentLog, type ServerLog } from './log.js';
import { persistentGrpc, serverFeaturesGrpc, streamsGrpc } from './proto.js';
import { coalescingInterceptor, guardedImplementation, tolerantService } from './rpc.js';
import { writeEpochInformation } from './services/epoch.js';
import { gossipDefinition, gossipImplementation } from './services/gossip.js';
import { PersistentSubscriptionsService } from './services/persistent.js';
import { serverFeaturesImplementation } from './services/server-features.js';
import { StreamsService } from './services/streams.js';
import type { StorageEngine } from './storage/engine.js';
import { MemoryEngine } from './storage/memory-engine.js';
import { SqliteEngine } from './storage/sqlite-engine.js';
import { EventStoreCore } from './store.js';

/**
 * An embedded server speaking EventStoreDB's gRPC protocol, so the unmodified official client
 * (`@eventstore/db-client`) can talk to it over loopback: Streams (append, batch append, reads,
 * catch-up subscriptions, delete, tombstone), PersistentSubscriptions and ServerFeatures.
 */
export interface EmbeddedServerOptions {
  /** 0 = ephemeral (default). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** SQLite at `<dataDir>/opx-store.sqlite`; omitted = in-memory. */
  dataDir?: string;
  /** Server clock for `created` stamps, `$maxAge` and message timeouts; default: the wall clock. */
  clock?: Clock;
  /** EventStoreDB's MaxAppendSize in bytes; default 1 MiB like EventStoreDB. */
  maxAppendSize?: number;
  /** EventStoreDB's WriteTimeoutMs: a batch append not arrived and committed by then is answered Timeout; default 2,000. */
  writeTimeoutMs?: number;
  /** Open a data dir that lost events it had acknowledged (its WAL lost or cut short), accepting the loss; refused otherwise. */
  acceptDataLoss?: boolean;
  /** SQLite `synchronous` pragma; default FULL (see SqliteEngine). */
  sqliteSynchronous?: 'FULL' | 'NORMAL';
  /** A storage engine of the caller's, used instead of the one `dataDir` selects (tests inject faults with it). */
  engine?: StorageEngine;
  /**
   * How long one client connection (HTTP/2 session) serves new calls before the server asks the
   * client, with a graceful GOAWAY, to open another; calls under way finish on the old one.
   * Default {@link DEFAULT_MAX_CONNECTION_AGE_MS}; 0 = never. See server.ts for why.
   */
  maxConnectionAgeMs?: number;
  /**
   * TLS: the server's certificate chain and private key (PEM), as files or in memory. Goes with
   * `users`: the official client sends credentials only over TLS.
   */
  tls?: EmbeddedServerTls;
  /** Users whose credentials every call must carry, with EventStoreDB's ACLs (see auth/access.ts); goes with `tls`. */
  users?: UserStore;
  /**
   * Plaintext and no authentication, EventStoreDB's `--insecure`: anyone who can reach the port
   * may do anything. Excludes `tls` and `users`.
   *
   * With none of `tls`, `users` and `insecure` (the default) the server makes credentials for this
   * process: a CA and a certificate for loopback, and a user `admin` in `$admins` with a 256-bit
   * secret, all in memory; {@link EmbeddedServer.endpoint} carries what a client in this process
   * needs, and nothing else on the machine can talk to the server.
   */
  insecure?: boolean;
  /** Where the server reports what an operator should see; default: nothing is logged. */
  log?: ServerLog;
}

/** The server's certificate chain and private key (PEM): as files, or in memory. */
export type EmbeddedServerTls =
  | { readonly certFile: string; readonly keyFile: string }
  | { readonly cert: string | Buffer; readonly key: string | Buffer };

export interface EmbeddedServer {
  readonly port: number;
  /**
   * `esdb://127.0.0.1:<port>?tls=false` when insecure; `tls=true` otherwise, to which a client adds
   * the CA (`&tlsCAFile=`) and credentials (`user:pass@`).
   */
  readonly connectionString: string;
  /** How a client in this process reaches the server; with credentials made for this process, they are here. */
  readonly endpoint: EmbeddedServerEndpoint;
  /**
   * How the writes shared commits and fsyncs so far, and where their time went (a data dir's
   * figures; an in-memory server commits without a flush and counts nothing).
   */
  commitStats(): CommitStats;
  close(): Promise<void>;
}

/** What `EsdbEventStore.fromEndpoint` takes (see the `insecure` option). */
export interface EmbeddedServerEndpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** The CA the server's certificate chains to (PEM), when the server made it. */
  readonly rootCertificate?: string;
  /** The process's own user, when the server made it. */
  readonly credentials?: { readonly username: string; readonly password: string };
}

export const DEFAULT_MAX_APPEND_SIZE = 1024 * 1024;
export const DEFAULT_WRITE_TIMEOUT_MS = 2_000;

/**
 * Node's HTTP/2 server (nghttp2's rapid-reset protection: a burst of 1,000 RST_STREAM frames, then
 * 33 a second) closes a session with error 2, failing every call on it, when a client cancels
 * calls faster than that; EventStoreDB's Kestrel does not, and Node 20 has no option to raise the
 * limit. maxConnectionAgeMs = 1,000 bounds the resets one session sees to ~1,000 at any rate below
 * ~1,000 a second (the adapter itself no longer cancels reads that end by themselves). Off by
 * default: the worker's long-lived subscriptions do not yet survive the server asking the client
 * to move to a new session.
 */
export const DEFAULT_MAX_CONNECTION_AGE_MS = 0;

const bind = (server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> =>
  new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) =>
      error ? reject(error) : resolve(port),
    );
  });

export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const host = options.host ?? '127.0.0.1';
  const security = securityOf(options, host);
  const clock = options.clock ?? systemClock;
  const engine: StorageEngine =
    options.engine ??
    (options.dataDir === undefined
      ? new MemoryEngine()
      : new SqliteEngine(options.dataDir, {
          ...(options.sqliteSynchronous === undefined ? {} : { synchronous: options.sqliteSynchronous }),
          ...(options.acceptDataLoss === true ? { acceptDataLoss: true } : {}),
        }));
  const store = new EventStoreCore(engine, clock);
  const epoch = writeEpochInformation(store, clock);
  const log = options.log ?? silentLog;
  const gate = security.users === undefined ? openGate : gateOf(new AccessControl(security.users, store));
  const persistent = new PersistentSubscriptionsService(store, clock, log, gate);
  const streams = new StreamsService(store, {
    maxAppendSize: options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE,
    writeTimeoutMs: options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS,
  }, gate);

  const maxConnectionAgeMs = options.maxConnectionAgeMs ?? DEFAULT_MAX_CONNECTION_AGE_MS;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 17 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
    ...(maxConnectionAgeMs > 0 ? { 'grpc.max_connection_age_ms': maxConnectionAgeMs } : {}),
    // messages written in one event-loop turn share socket writes (see CoalescingCall)
    interceptors: [coalescingInterceptor],
  });
  server.addService(
    tolerantService(streamsGrpc.StreamsService as unknown as grpc.ServiceDefinition),
    guardedImplementation('Streams', streams.implementation(), log),
  );
  server.addService(
    tolerantService(persistentGrpc.PersistentSubscriptionsService as unknown as grpc.ServiceDefinition),
    guardedImplementation('PersistentSubscriptions', persistent.implementation(), log),
  );
  server.addService(tolerantService(gossipDefinition), guardedImplementation('Gossip', gossipImplementation(clock, epoch.instanceId), log));
  server.addService(
    tolerantService(serverFeaturesGrpc.ServerFeaturesService as unknown as grpc.ServiceDefinition),
    guardedImplementation('ServerFeatures', serverFeaturesImplementation(), log),
  );

  let port: number;
  try {
    const credentials =
      security.tls === undefined
        ? grpc.ServerCredentials.createInsecure()
        : grpc.ServerCredentials.createSsl(null, [{ cert_chain: security.tls.cert, private_key: security.tls.key }], false);
    port = await bind(server, `${host.includes(':') ? `[${host}]` : host}:${options.port ?? 0}`, credentials);
  } catch (error) {
    persistent.stop();
    engine.close();
    throw error;
  }
  persistent.start();

  let closing: Promise<void> | undefined;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const tls = security.tls !== undefined;
  return {
    port,
    connectionString: `esdb://${urlHost}:${port}?tls=${tls}`,
    endpoint: {
      host: endpointHost(host, tls),
      port,
      tls,
      ...(security.process === undefined ? {} : security.process),
    },
    commitStats: () => streams.commitStats(),
    close(): Promise<void> {
      closing ??= (async () => {
        persistent.stop();
        server.forceShutdown();
        await new Promise((resolve) => setImmediate(resolve));
        engine.close();
      })();
      return closing;
    },
  };
}
