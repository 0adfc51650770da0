/**
 * The sidecar: pipelines from a validated config run side by side under a supervisor, with an HTTP
 * endpoint for health, readiness, metrics and (opt-in) publishing. `shutdown()` drains everything
 * within `shutdownTimeout`; `reload()` applies a changed config file, restarting only what changed.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { PulsarWsClientOptions, TlsOptions } from '../index.js';
import type { SidecarConfig } from './config-schema.js';
import { formatProblems, loadConfig, type LoadOptions } from './config.js';
import { startHttpEndpoint, type HttpEndpoint } from './http-endpoint.js';
import { createMetrics, type SidecarMetrics } from './metrics.js';
import { HttpPublisher } from './publish.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

/** A config that parsed but cannot be used (a secret file that cannot be read). */
export class SidecarConfigError extends Error {
  override readonly name = 'SidecarConfigError';
}

async function readConfigFile(key: string, path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw new SidecarConfigError(`${key}: cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The client settings every pipeline shares, with the token and TLS files read. */
export async function clientOptionsOf(config: SidecarConfig): Promise<Omit<PulsarWsClientOptions, 'logger'>> {
  const { url, token, tokenFile, tls } = config.connection;
  const resolvedToken =
    tokenFile === undefined ? token : await readConfigFile('connection.tokenFile', tokenFile);
  let tlsOptions: TlsOptions | undefined;
  if (tls !== undefined) {
    tlsOptions = {
      ...(tls.ca === undefined ? {} : { ca: await readConfigFile('connection.tls.ca', tls.ca) }),
      ...(tls.cert === undefined ? {} : { cert: await readConfigFile('connection.tls.cert', tls.cert) }),
      ...(tls.key === undefined ? {} : { key: await readConfigFile('connection.tls.key', tls.key) }),
      ...(tls.insecure ? { rejectUnauthorized: false } : {}),
    };
  }
  return {
    url,
    ...(resolvedToken === undefined ? {} : { token: resolvedToken }),
    ...(tlsOptions === undefined ? {} : { tls: tlsOptions }),
  };
}

export interface SidecarStartOptions {
  readonly configFile: string;
  readonly config: SidecarConfig;
  /** How the config was loaded, for reloads. */
  readonly load: LoadOptions;
  readonly logger: Logger;
}

export class Sidecar {
  private draining = false;
  private config: SidecarConfig;
  private reloading: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: SidecarStartOptions,
    private readonly metrics: SidecarMetrics,
    private readonly supervisor: Supervisor,
    private readonly publisher: HttpPublisher | undefined,
    private readonly endpoint: HttpEndpoint,
  ) {
    this.config = options.config;
  }

  /** Starts the endpoint and every pipeline. @throws SidecarConfigError, or the endpoint's listen error. */
  static async start(options: SidecarStartOptions): Promise<Sidecar> {
    const { config, logger } = options;
    const client = await clientOptionsOf(config);
    const metrics = createMetrics();
    const supervisor = new Supervisor(supervisorOptions(config, client, metrics, logger));
    const publisher = config.http.publish
      ? new HttpPublisher({
          client,
          logger: logger.child({ component: 'publish' }),
          maxBodyBytes: config.http.publishMaxBodyBytes,
        })
      : undefined;
    const holder: { sidecar?: Sidecar } = {};
    const endpoint = await startHttpEndpoint({
      host: config.http.listen.host,
      port: config.http.listen.port,
      metrics,
      supervisor: () => supervisor,
      publisher: () => publisher,
      draining: () => holder.sidecar?.draining ?? false,
      logger,
    });
    const sidecar = new Sidecar(options, metrics, supervisor, publisher, endpoint);
    holder.sidecar = sidecar;
    supervisor.start(config.pipelines);
    logger.info({ url: endpoint.url, pipelines: Object.keys(config.pipelines) }, 'sidecar started');
    return sidecar;
  }

  /** The HTTP endpoint, e.g. `http://127.0.0.1:9464`. */
  get url(): string {
    return this.endpoint.url;
  }

  /**
   * Reads the config file again and applies it: changed pipelines restart, others keep running.
   * An invalid file changes nothing (its problems are logged).
   */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.applyReload());
    return this.reloading;
  }

  private async applyReload(): Promise<void> {
    const { logger, configFile } = this.options;
    if (this.draining) return;
    const result = await loadConfig(configFile, this.options.load);
    if (!result.ok) {
      logger.error(
        { problems: formatProblems(configFile, result.problems) },
        'reload refused: the config has problems; still running the previous one',
      );
      return;
    }
    const next = result.config;
    let client: Omit<PulsarWsClientOptions, 'logger'>;
    try {
      client = await clientOptionsOf(next);
    } catch (error) {
      logger.error({ err: error }, 'reload refused; still running the previous config');
      return;
    }
    if (JSON.stringify(next.http) !== JSON.stringify(this.config.http)) {
      logger.warn('http settings changed: they apply at the next start, not on reload');
    }
    const changes = await this.supervisor.reload(
      next.pipelines,
      supervisorOptions(next, client, this.metrics, logger),
      this.config.shutdownTimeout,
    );
    this.config = { ...next, http: this.config.http };
    logger.info(changes, 'config reloaded');
  }

  /**
   * Drains: readiness turns 503, intake stops (webhooks and publish answer 503), what was taken is
   * written and acknowledged, sockets close, all within `shutdownTimeout`.
   * @returns whether the timeout cut work (what was left is not acknowledged and comes again).
   */
  async shutdown(): Promise<{ timedOut: boolean }> {
    this.draining = true;
    const { logger } = this.options;
    const timeout = this.config.shutdownTimeout;
    logger.info({ shutdownTimeoutMs: timeout }, 'draining');
    const started = Date.now();
    await this.reloading.catch(() => undefined);
    const publishing = this.publisher?.close();
    const { timedOut } = await this.supervisor.drain(Math.max(0, timeout - (Date.now() - started)));
    // The publisher waits for its requests' acks, each bounded by its own timeout: not past the deadline.
    const left = Math.max(0, timeout - (Date.now() - started));
    const published = await Promise.race([
      publishing?.then(() => true) ?? Promise.resolve(true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), left).unref()),
    ]);
    await this.endpoint.close();
    logger.info({ timedOut: timedOut || !published, ms: Date.now() - started }, 'drained');
    return { timedOut: timedOut || !published };
  }
}

function supervisorOptions(
  config: SidecarConfig,
  client: Omit<PulsarWsClientOptions, 'logger'>,
  metrics: SidecarMetrics,
  logger: Logger,
): SupervisorOptions {
  return { client, metrics, logger, restart: config.restart, stallTimeout: config.stallTimeout };
}
