/**
 * `pulsar-ws sidecar --config FILE`: runs the config's pipelines side by side, with /healthz,
 * /readyz, /metrics (and opt-in POST /publish/{topic}) on `http.listen`. SIGTERM/SIGINT drain within
 * `shutdownTimeout` (exit 0, or 3 when the timeout cut work); a second signal exits at once (130).
 * SIGHUP reloads the config and re-reads the token file (which every session also reads again at each
 * (re)connect). An invalid config is refused with the lint report (exit 2).
 */
import type { CommandModule } from 'yargs';
import { formatProblems, loadConfig, type ConfigOverrides } from '../../sidecar/config.js';
import { LOG_LEVELS } from '../../sidecar/config-schema.js';
import { Sidecar, SidecarConfigError } from '../../sidecar/sidecar.js';
import { CliError } from '../cli-error.js';
import { createCliLogger } from '../logger.js';

interface SidecarArgs {
  config: string;
  url: string | undefined;
  token: string | undefined;
  'token-file': string | undefined;
  listen: string | undefined;
  'shutdown-timeout': string | undefined;
  'log-level': string | undefined;
}

/** Exit code when the shutdown timeout cut the drain short (what was left comes again). */
export const EXIT_SHUTDOWN_TIMEOUT = 3;

function flagsOf(args: SidecarArgs): ConfigOverrides {
  return {
    ...(args.url === undefined ? {} : { url: args.url }),
    ...(args.token === undefined ? {} : { token: args.token }),
    ...(args['token-file'] === undefined ? {} : { tokenFile: args['token-file'] }),
    ...(args.listen === undefined ? {} : { listen: args.listen }),
    ...(args['shutdown-timeout'] === undefined ? {} : { shutdownTimeout: args['shutdown-timeout'] }),
    ...(args['log-level'] === undefined ? {} : { logLevel: args['log-level'] }),
  };
}

export const sidecarCommand: CommandModule<object, SidecarArgs> = {
  command: 'sidecar',
  describe: 'Run the pipelines of a config file, with health, readiness and Prometheus metrics over HTTP',
  builder: (yargs) =>
    yargs
      .option('config', { type: 'string', demandOption: true, describe: 'Config file (YAML or JSON)' })
      .option('url', { type: 'string', describe: 'Overrides connection.url (and $PULSAR_WS_URL)' })
      .option('token', { type: 'string', describe: 'Overrides connection.token (and $PULSAR_TOKEN)' })
      .option('token-file', {
        type: 'string',
        describe: 'Overrides connection.tokenFile (read again at every (re)connect and on SIGHUP)',
      })
      .option('listen', { type: 'string', describe: 'Overrides http.listen (host:port)' })
      .option('shutdown-timeout', { type: 'string', describe: 'Overrides shutdownTimeout (e.g. 30s)' })
      .option('log-level', { type: 'string', choices: LOG_LEVELS, describe: 'Overrides logLevel' })
      .conflicts('token', 'token-file'),
  handler: async (args) => {
    const load = { env: process.env, flags: flagsOf(args) };
    const result = await loadConfig(args.config, load);
    if (!result.ok) {
      process.stderr.write(`${formatProblems(args.config, result.problems)}\n`);
      throw new CliError(`${result.problems.length} problem(s) in ${args.config}; not starting`, 2);
    }
    const logger = createCliLogger(result.config.logLevel);
    let sidecar: Sidecar;
    try {
      sidecar = await Sidecar.start({ configFile: args.config, config: result.config, load, logger });
    } catch (error) {
      throw new CliError((error as Error).message, error instanceof SidecarConfigError ? 2 : 1, {
        cause: error,
      });
    }
    process.stderr.write(`pulsar-ws sidecar serving ${sidecar.url} (/healthz /readyz /metrics)\n`);
    if (sidecar.publishUrl !== undefined) {
      process.stderr.write(`pulsar-ws sidecar publishing at ${sidecar.publishUrl}/publish/{topic}\n`);
    }
    await new Promise<void>((resolve) => {
      let signals = 0;
      const onStop = (signal: NodeJS.Signals): void => {
        signals += 1;
        if (signals > 1) {
          logger.warn({ signal }, 'second signal: exiting at once; what is in flight comes again');
          process.exit(130);
        }
        logger.info({ signal }, 'draining; send the signal again to exit at once');
        sidecar.shutdown().then(
          ({ timedOut }) => {
            process.exitCode = timedOut ? EXIT_SHUTDOWN_TIMEOUT : 0;
            resolve();
          },
          (error: unknown) => {
            logger.error({ err: error }, 'drain failed');
            process.exitCode = 1;
            resolve();
          },
        );
      };
      const onReload = (): void => {
        logger.info('SIGHUP: reloading the config and re-reading the token file');
        void sidecar.reload().catch((error: unknown) => logger.error({ err: error }, 'reload failed'));
      };
      process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onReload);
    });
    // Streams that do not let go (a stuck socket) must not keep a drained process alive.
    process.exit();
  },
};
