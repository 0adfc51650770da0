/**
 * The sidecar's `POST /publish/{topic}` as configured by the `publish` section: the publisher with
 * its bounds, token and topic allow-list, and its own listener when `publish.listen` is set (else it
 * is served on `http.listen`, beside `/metrics`).
 */
import type { Logger } from 'pino';
import type { PulsarWsClientOptions } from '../index.js';
import type { SidecarConfig } from './config-schema.js';
import { startPublishEndpoint, type HttpEndpoint } from './http-endpoint.js';
import type { SidecarMetrics } from './metrics.js';
import { BearerToken, TopicAllowList } from './publish-access.js';
import { HttpPublisher } from './publish.js';

export class Publishing {
  private listener: HttpEndpoint | undefined;

  private constructor(
    readonly publisher: HttpPublisher,
    private readonly listen: { readonly host: string; readonly port: number } | undefined,
    private readonly logger: Logger,
    private readonly token: BearerToken | undefined,
  ) {}

  /**
   * The publisher, or undefined when publishing is off. Reads the token file.
   * @throws SidecarConfigError when the token file cannot be read or is empty.
   */
  static async create(
    config: SidecarConfig,
    client: Omit<PulsarWsClientOptions, 'logger'>,
    metrics: SidecarMetrics,
    logger: Logger,
  ): Promise<Publishing | undefined> {
    const { publish } = config;
    if (!publish.enabled) return undefined;
    const publishLogger = logger.child({ component: 'publish' });
    const token =
      publish.tokenFile === undefined
        ? undefined
        : await BearerToken.fromFile(publish.tokenFile, publishLogger);
    const publisher = new HttpPublisher({
      client,
      logger: publishLogger,
      maxBodyBytes: publish.maxBodyBytes,
      maxInFlight: publish.maxInFlight,
      maxMessagesInFlight: publish.maxMessagesInFlight,
      maxRequestMessagesInFlight: publish.maxRequestMessagesInFlight,
      bodyTimeoutMs: publish.bodyTimeout,
      ...(token === undefined ? {} : { token }),
      ...(publish.topics === undefined ? {} : { topics: new TopicAllowList(publish.topics) }),
      onResponse: (status) => metrics.publishRequests.inc({ status: String(status) }),
    });
    return new Publishing(publisher, publish.listen, publishLogger, token);
  }

  /**
   * Reads `publish.tokenFile` again now (SIGHUP; requests also make it checked once a second) and
   * logs whether the token changed, never the token. A missing or empty file is logged as a
   * warning, and every request is refused until it holds a token again.
   */
  async rereadToken(): Promise<void> {
    if (this.token === undefined) return;
    const changed = await this.token.reread();
    this.logger.info({ changed }, 'publish token file re-read');
  }

  /** True when `/publish` has a listener of its own (and `http.listen` does not serve it). */
  get ownListener(): boolean {
    return this.listen !== undefined;
  }

  /** Where `/publish/{topic}` is served from its own listener, e.g. `http://10.0.0.5:9465`, once listening. */
  get url(): string | undefined {
    return this.listener?.url;
  }

  /** Starts the own listener, if any. @throws its listen error (address in use, permission). */
  async start(): Promise<void> {
    if (this.listen === undefined) return;
    this.listener = await startPublishEndpoint(
      this.listen.host,
      this.listen.port,
      this.publisher,
      this.logger,
    );
    this.logger.info({ url: this.listener.url }, 'publish listening');
  }

  /** Refuses new requests, waits for those in flight, closes the producers and the own listener. */
  async close(): Promise<void> {
    await this.publisher.close();
    await this.listener?.close();
  }
}
