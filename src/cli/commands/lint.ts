/**
 * `pulsar-ws lint --config FILE`: validates a sidecar config (with `${VAR}` interpolated from the
 * environment) and reports every problem as `FILE:LINE: key.path: message`; exit 1 on problems.
 */
import type { CommandModule } from 'yargs';
import { formatPath } from '../../sidecar/config.js';
import { formatProblems, loadConfig } from '../../sidecar/config.js';

interface LintArgs {
  config: string;
  format: 'text' | 'json';
}

export const lintCommand: CommandModule<object, LintArgs> = {
  command: 'lint',
  describe:
    'Check a sidecar config file; report every problem with its key path and line (exit 1 on problems)',
  builder: (yargs) =>
    yargs
      .option('config', { type: 'string', demandOption: true, describe: 'Config file (YAML or JSON)' })
      .option('format', {
        type: 'string',
        choices: ['text', 'json'] as const,
        default: 'text' as const,
        describe: 'text: FILE:LINE: key.path: message; json: an array of {path, line, message}',
      }),
  handler: async (args) => {
    const result = await loadConfig(args.config, { env: process.env });
    if (args.format === 'json') {
      const problems = result.ok
        ? []
        : result.problems.map((problem) => ({
            path: formatPath(problem.path),
            line: problem.line ?? null,
            message: problem.message,
          }));
      process.stdout.write(`${JSON.stringify(problems, null, 2)}\n`);
    } else if (result.ok) {
      const count = Object.keys(result.config.pipelines).length;
      process.stdout.write(`${args.config}: ok (${count} pipeline${count === 1 ? '' : 's'})\n`);
    } else {
      const count = result.problems.length;
      process.stdout.write(`${formatProblems(args.config, result.problems)}\n`);
      process.stderr.write(`pulsar-ws: ${count} problem${count === 1 ? '' : 's'} in ${args.config}\n`);
    }
    process.exitCode = result.ok ? 0 : 1;
  },
};
