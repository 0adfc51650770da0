/**
 * The embedded broker: one HTTP server on one port serving the Pulsar WebSocket API (v1 and v2
 * producer, consumer and reader endpoints) on a durable on-disk store, plus
 * a small admin REST API (see admin.ts).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode, containsEncodedNul } from '../protocol/index.js';
import { AdminApi } from './admin.js';
import { clientMessage } from './client-message.js';
import { BrokerAuth, PermissionStore, TokenAuthenticator } from './auth/index.js';
import {
  HandshakeError,
  prepareSession,
  type HandshakeContext,
  type PreparedSession,
  type Session,
} from './handshake/index.js';
import { rejectUpgrade } from './http-response.js';
import { resolveBrokerOptions, type EmbeddedBrokerOptions, type ResolvedBrokerOptions } from './options.js';
import { batchWritesOn } from '../net/write-batching.js';
import { bytesOf, closeWithInternalError } from './sessions/socket.js';
import { lockDataDir } from './storage/data-dir-lock.js';
import { LedgerIdAllocator } from './storage/ledger-ids.js';
import { isOutOfDescriptors } from './storage/out-of-descriptors.js';
import { NamespaceRegistry } from './namespaces.js';
import { TopicRegistry } from './topics/topic-registry.js';

/** After an idle timeout's close frame, how long the peer has to answer before its socket is dropped. */
const IDLE_CLOSE_GRACE_MS = 1_000;

export class EmbeddedBroker {
  private readonly sockets = new Set<WebSocket>();
  private readonly pendingHandshakes = new Set<Promise<void>>();
  private readonly admin: AdminApi;
  private readonly handshakeContext: HandshakeContext;
  private producerCounter = 0;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly options: ResolvedBrokerOptions,
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    private readonly topics: TopicRegistry,
    namespaces: NamespaceRegistry,
    auth: BrokerAuth | undefined,
    private readonly unlock: () => Promise<void>,
  ) {
    this.admin = new AdminApi(namespaces, topics, auth, options.logger.child({ component: 'admin' }));
    this.handshakeContext = {
      options,
      topics,
      namespaces,
      auth,
      logger: options.logger,
      // Pulsar names unnamed producers `<cluster>-<broker>-<n>`.
      nextProducerName: () => `${options.clusterName}-0-${this.producerCounter++}`,
    };
  }

  /** Starts a broker; resolves once it accepts connections. */
  static async start(input: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const options = resolveBrokerOptions(input);
    await mkdir(options.dataDir, { recursive: true });
    const unlock = await lockDataDir(options.dataDir);
    try {
      const ledgerIds = await LedgerIdAllocator.open(options.dataDir);
      const namespaces = await NamespaceRegistry.open(options.dataDir);
      const auth =
        options.authTokenSecretFile === undefined
          ? undefined
          : new BrokerAuth(
              await TokenAuthenticator.fromSecretFile(options.authTokenSecretFile),
              await PermissionStore.open(
                options.dataDir,
                options.superUserRoles,
                options.authPermissionsFile,
              ),
            );
      const topics = new TopicRegistry(ledgerIds, {
        dataDir: options.dataDir,
        fsync: options.fsync === 'always',
        maxSegmentBytes: options.maxSegmentBytes,
        maxEntriesPerSegment: options.maxEntriesPerSegment,
        cacheBytesPerTopic: options.cacheBytesPerTopic,
        deduplicationEnabled: (topic) =>
          namespaces.deduplicationOf(`${topic.tenant}/${topic.namespace}`) ?? options.deduplication,
        deduplicationProducerInactivityTimeoutMillis:
          options.deduplicationProducerInactivityTimeoutMinutes * 60_000,
        retention: (topic) =>
          namespaces.retentionOf(`${topic.tenant}/${topic.namespace}`) ?? {
            retentionTimeInMinutes: options.defaultRetentionTimeInMinutes,
            retentionSizeInMB: options.defaultRetentionSizeInMB,
          },
        topicIdleTimeoutMillis: options.topicIdleTimeoutMillis,
        maxOpenTopics: options.maxOpenTopics,
        retentionCheckIntervalMillis: options.retentionCheckIntervalMillis,
        logger: options.logger,
      });
      await topics.loadPartitionMetadata();
      const wss = new WebSocketServer({
        noServer: true,
        maxPayload: options.maxTextFrameSize,
        perMessageDeflate: options.perMessageDeflate,
      });
      const http = await createHttpServer(options);
      const broker = new EmbeddedBroker(options, http, wss, topics, namespaces, auth, unlock);
      http.on('request', (request: IncomingMessage, response: ServerResponse) =>
        broker.onRequest(request, response),
      );
      http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
        broker.onUpgrade(request, socket, head),
      );
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(options.port, options.host, () => {
          http.off('error', reject);
          // After listening, errors are per connection (e.g. EMFILE on accept): log them, keep serving.
          http.on('error', (error) => options.logger.error({ err: error }, 'server error'));
          resolve();
        });
      });
      options.logger.info(
        { url: broker.url, dataDir: options.dataDir, fsync: options.fsync, auth: auth !== undefined },
        'broker started',
      );
      return broker;
    } catch (error) {
      await unlock();
      throw error;
    }
  }

  /** The bound port (useful with `port: 0`). */
  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  private get hostForUrl(): string {
    return this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
  }

  private get secure(): boolean {
    return this.options.tlsCertFile !== undefined;
  }

  /** WebSocket service URL, e.g. `ws://127.0.0.1:8080` (`wss://` with TLS). */
  get url(): string {
    return `${this.secure ? 'wss' : 'ws'}://${this.hostForUrl}:${this.port}`;
  }

  /** HTTP URL of the same server (admin API), `https://` with TLS. */
  get httpUrl(): string {
    return `${this.secure ? 'https' : 'http'}://${this.hostForUrl}:${this.port}`;
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (containsEncodedNul(path)) {
      // Jetty's answer, before any handler.
      response
        .writeHead(400, { 'Content-Type': 'text/html;charset=iso-8859-1' })
        .end('<h1>Bad Message 400</h1><pre>reason: Bad Request</pre>');
      return;
    }
    if (this.admin.handle(request, response)) return;
    response
      .writeHead(404, { 'Content-Type': 'text/plain' })
      .end(`No endpoint at ${request.method} ${path}\n`);
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error) => this.options.logger.debug({ err: error }, 'socket error during handshake'));
    if (this.stopping !== undefined) {
      rejectUpgrade(socket, 503, 'Broker is shutting down');
      return;
    }
    if (containsEncodedNul((request.url ?? '/').split('?')[0] ?? '/')) {
      rejectUpgrade(socket, 400, 'Bad Request');
      return;
    }
    const handshake = this.handshake(request, socket, head)
      .catch((error: unknown) => {
        // A failure after the upgrade started (e.g. in a session constructor): nothing to answer with.
        this.options.logger.error({ err: error }, 'failed to set up a connection');
        socket.destroy();
      })
      .finally(() => this.pendingHandshakes.delete(handshake));
    this.pendingHandshakes.add(handshake);
  }

  private async handshake(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let prepared;
    let release: () => void;
    try {
      // The topics the handshake opens stay open until its session is attached or abandoned.
      ({ result: prepared, release } = await this.topics.withLease(() =>
        prepareSession(request, this.handshakeContext),
      ));
    } catch (error) {
      // Out of file descriptors is the broker's momentary trouble, not the client's: 503, try later.
      const status = isOutOfDescriptors(error) ? 503 : error instanceof HandshakeError ? error.status : 500;
      if (!(error instanceof HandshakeError)) this.options.logger.error({ err: error }, 'handshake failed');
      this.options.logger.debug({ status, reason: (error as Error).message }, 'refused handshake');
      rejectUpgrade(socket, status, clientMessage(error));
      return;
    }
    try {
      this.upgrade(request, socket, head, prepared);
    } finally {
      release();
    }
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, prepared: PreparedSession): void {
    let attached = false;
    if (!socket.destroyed && this.stopping === undefined) {
      // Completes synchronously when no verifyClient is set, so `attached` is known right after.
      this.wss.handleUpgrade(request, socket, head, (ws) => {
        attached = true;
        batchWritesOn(ws, socket);
        this.keepAlive(ws, socket);
        this.bind(ws, prepared.attach(ws));
      });
    }
    if (!attached) {
      prepared.abandon();
      socket.destroy();
    }
  }

  /**
   * Jetty's idle timeout counts traffic both ways, as a socket timeout does; server pings (when on)
   * are traffic too, so they keep a quiet session open (docs/protocol.md §8.3).
   */
  private keepAlive(ws: WebSocket, socket: Duplex): void {
    const { idleTimeoutMillis, pingIntervalMillis } = this.options;
    if (idleTimeoutMillis > 0 && socket instanceof Socket) {
      socket.setTimeout(idleTimeoutMillis);
      socket.on('timeout', () => {
        ws.close(
          CloseCode.GoingAway,
          `java.util.concurrent.TimeoutException: Idle timeout expired: ${idleTimeoutMillis}/${idleTimeoutMillis} ms`,
        );
        // A peer silent this long may be gone without a trace (a dropped NAT entry): like Jetty, do not
        // wait for its close frame (ws would hold the session 30 s more), so an Exclusive subscription
        // or a producer name is free for the client's next connection.
        setTimeout(() => ws.terminate(), IDLE_CLOSE_GRACE_MS).unref();
      });
    }
    if (pingIntervalMillis > 0) {
      const timer = setInterval(() => ws.ping('PING'), pingIntervalMillis);
      ws.once('close', () => clearInterval(timer));
    }
  }

  private bind(ws: WebSocket, session: Session): void {
    this.sockets.add(ws);
    ws.on('message', (data, isBinary) => {
      // Pulsar's handlers take text frames only; binary frames are ignored.
      if (isBinary) return;
      try {
        session.handleFrame(bytesOf(data));
      } catch (error) {
        this.options.logger.error({ err: error }, 'unhandled error in frame handler');
        closeWithInternalError(ws, clientMessage(error));
      }
    });
    ws.on('error', (error) => this.options.logger.debug({ err: error }, 'websocket error'));
    ws.on('close', () => {
      this.sockets.delete(ws);
      session.close();
    });
    session.start();
  }

  /** Closes every connection (1001), waits for pending writes, flushes cursors and closes files. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.options.logger.info('broker stopping');
    const httpClosed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    await Promise.allSettled(this.pendingHandshakes);
    const socketsClosed = [...this.sockets].map((ws) => new Promise((resolve) => ws.once('close', resolve)));
    for (const ws of this.sockets) ws.close(CloseCode.GoingAway, 'Broker shutting down');
    // Give clients a moment to answer the close frame, then cut whatever is left.
    await Promise.race([Promise.all(socketsClosed), delay(CLOSE_GRACE_MILLIS)]);
    for (const ws of this.sockets) ws.terminate();
    this.http.closeAllConnections();
    await httpClosed;
    await this.topics.close();
    await this.unlock();
    this.options.logger.info('broker stopped');
  }
}

const CLOSE_GRACE_MILLIS = 1000;

/** Plain HTTP, or HTTPS when a certificate is configured (client certificates when a CA is). */
async function createHttpServer(options: ResolvedBrokerOptions): Promise<Server> {
  if (options.tlsCertFile === undefined || options.tlsKeyFile === undefined) return createServer();
  const [cert, key, ca] = await Promise.all([
    readFile(options.tlsCertFile),
    readFile(options.tlsKeyFile),
    options.tlsTrustCertsFile === undefined ? undefined : readFile(options.tlsTrustCertsFile),
  ]);
  return createHttpsServer({
    cert,
    key,
    ...(ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: true }),
  });
}
