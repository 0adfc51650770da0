/**
 * Runs a command's work with signal handling and exit codes: SIGINT/SIGTERM abort the work (pipelines
 * stop, nothing unwritten is acknowledged), a second signal exits at once; invalid input exits 2,
 * runtime failures 1, each reported as one line naming what is at fault.
 */
import type { Logger } from 'pino';
import { InvalidArgumentError, PulsarWsError } from '../errors.js';
import { CliError } from './cli-error.js';

export async function runCommand(
  logger: Logger,
  work: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) process.exit(130);
    logger.info({ signal }, 'stopping; send the signal again to exit at once');
    controller.abort();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    await work(controller.signal);
  } catch (error) {
    if (controller.signal.aborted && (error as Error).name === 'AbortError') return;
    if (error instanceof CliError) throw error;
    if (error instanceof InvalidArgumentError) throw new CliError(error.message, 2, { cause: error });
    const message =
      error instanceof PulsarWsError ? `${error.message} (${error.code})` : (error as Error).message;
    throw new CliError(message, 1, { cause: error });
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
