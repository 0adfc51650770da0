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
    const token = publish.tokenFile === undefined ? undefined : await BearerToken.fromFile(publish.tokenFile);
    const publishLogger = logger.child({ component: 'publish' });
    const publisher = new HttpPublisher({
      client,
      logger: publishLogger,
      maxBodyBytes: publish.maxBodyBytes,
      maxInFlight: publish.maxInFlight,
      maxMessagesInFlight: publish.maxMessagesInFlight,
      maxRequestMessagesInFlight: publish.maxRequestMessagesInFlight,
      ...(token === undefined ? {} : { token }),
      ...(publish.topics === undefined ? {} : { topics: new TopicAllowList(publish.topics) }),
      onResponse: (status) => metrics.publishRequests.inc({ status: String(status) }),
    });
    return new Publishing(publisher, publish.listen, publishLogger);
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
