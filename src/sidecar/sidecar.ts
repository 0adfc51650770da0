/**
 * The sidecar: pipelines from a validated config run side by side under a supervisor, with an HTTP
 * endpoint for health, readiness, metrics and (opt-in) publishing. `shutdown()` drains everything
 * within `shutdownTimeout`; `reload()` applies a changed config file, restarting only what changed,
 * and re-reads the token file (sessions read it again at every (re)connect: rotating it restarts
 * nothing).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { checkedToken } from '../client/token.js';
import type { PulsarWsClientOptions, TlsOptions } from '../index.js';
import { SidecarConfigError } from './config-error.js';
import type { SidecarConfig } from './config-schema.js';
import { formatProblems, loadConfig, type LoadOptions } from './config.js';
import { startHttpEndpoint, type HttpEndpoint } from './http-endpoint.js';
import { createMetrics, type SidecarMetrics } from './metrics.js';
import { Publishing } from './publishing.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

export { SidecarConfigError } from './config-error.js';

async function readConfigFile(key: string, path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw new SidecarConfigError(`${key}: cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The token of `connection.tokenFile` as it is now. @throws SidecarConfigError naming the key and file */
async function readTokenFile(path: string): Promise<string> {
  const text = await readConfigFile('connection.tokenFile', path);
  try {
    return checkedToken(text, path);
  } catch (error) {
    throw new SidecarConfigError(`connection.tokenFile: ${(error as Error).message}`, { cause: error });
  }
}

/** A digest of a token, to tell in the log whether a re-read file changed without logging the token. */
function fingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

interface ConnectionSettings {
  readonly client: Omit<PulsarWsClientOptions, 'logger'>;
  /** What the token file held when it was read (a digest), to log whether a reload changed it. */
  readonly tokenFileDigest: string | undefined;
}

/**
 * The client settings every pipeline shares, with the TLS files read. A token file is read here to
 * refuse a missing or empty one at once, and passed on as a file: the client reads it again before
 * every connection attempt, so a rotated token is used from each session's next (re)connect on
 * without restarting anything (Pulsar checks a token only at the handshake). A new *path* is a
 * changed connection, which restarts the pipelines on a reload.
 */
async function connectionOf(config: SidecarConfig): Promise<ConnectionSettings> {
  const { url, token, tokenFile, tls } = config.connection;
  const tokenFileDigest = tokenFile === undefined ? undefined : fingerprint(await readTokenFile(tokenFile));
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
    client: {
      url,
      ...(token === undefined ? {} : { token }),
      ...(tokenFile === undefined ? {} : { tokenFile }),
      ...(tlsOptions === undefined ? {} : { tls: tlsOptions }),
    },
    tokenFileDigest,
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
  private tokenFileDigest: string | undefined;

  private constructor(
    private readonly options: SidecarStartOptions,
    private readonly metrics: SidecarMetrics,
    private readonly supervisor: Supervisor,
    private readonly publishing: Publishing | undefined,
    private readonly endpoint: HttpEndpoint,
  ) {
    this.config = options.config;
  }

  /** Starts the endpoint and every pipeline. @throws SidecarConfigError, or the endpoint's listen error. */
  static async start(options: SidecarStartOptions): Promise<Sidecar> {
    const { config, logger } = options;
    const { client, tokenFileDigest } = await connectionOf(config);
    const metrics = createMetrics();
    const supervisor = new Supervisor(supervisorOptions(config, client, metrics, logger));
    const publishing = await Publishing.create(config, client, metrics, logger);
    const holder: { sidecar?: Sidecar } = {};
    const endpoint = await startHttpEndpoint({
      host: config.http.listen.host,
      port: config.http.listen.port,
      metrics,
      supervisor: () => supervisor,
      // With a listener of its own, /publish is not served beside /metrics.
      publisher: () => (publishing?.ownListener === true ? undefined : publishing?.publisher),
      publishElsewhere: publishing?.ownListener === true,
      draining: () => holder.sidecar?.draining ?? false,
      logger,
    });
    try {
      await publishing?.start();
    } catch (error) {
      await endpoint.close();
      throw error;
    }
    const sidecar = new Sidecar(options, metrics, supervisor, publishing, endpoint);
    sidecar.tokenFileDigest = tokenFileDigest;
    holder.sidecar = sidecar;
    supervisor.start(config.pipelines);
    logger.info({ url: endpoint.url, pipelines: Object.keys(config.pipelines) }, 'sidecar started');
    return sidecar;
  }

  /** The HTTP endpoint, e.g. `http://127.0.0.1:9464`. */
  get url(): string {
    return this.endpoint.url;
  }

  /** The own listener of `POST /publish` (`publish.listen`), e.g. `http://10.0.0.5:9465`. */
  get publishUrl(): string | undefined {
    return this.publishing?.url;
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
    // Whatever becomes of the config, SIGHUP re-reads the /publish token file (a rotation revoking a token).
    await this.publishing?.rereadToken();
    const result = await loadConfig(configFile, this.options.load);
    if (!result.ok) {
      logger.error(
        { problems: formatProblems(configFile, result.problems) },
        'reload refused: the config has problems; still running the previous one',
      );
      return;
    }
    const next = result.config;
    let connection: ConnectionSettings;
    try {
      connection = await connectionOf(next);
    } catch (error) {
      logger.error({ err: error }, 'reload refused; still running the previous config');
      return;
    }
    const { client, tokenFileDigest } = connection;
    const { tokenFile } = next.connection;
    if (tokenFile !== undefined) {
      // Sessions read the file at every (re)connect anyway; the reload checks it and says so.
      logger.info(
        { tokenFile, changed: tokenFileDigest !== this.tokenFileDigest },
        'token file re-read: every session uses it from its next (re)connect on',
      );
    }
    this.tokenFileDigest = tokenFileDigest;
    if (
      JSON.stringify(next.http) !== JSON.stringify(this.config.http) ||
      JSON.stringify(next.publish) !== JSON.stringify(this.config.publish)
    ) {
      logger.warn('http and publish settings changed: they apply at the next start, not on reload');
    }
    const changes = await this.supervisor.reload(
      next.pipelines,
      supervisorOptions(next, client, this.metrics, logger),
      this.config.shutdownTimeout,
    );
    this.config = { ...next, http: this.config.http, publish: this.config.publish };
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
    const publishing = this.publishing?.close();
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
