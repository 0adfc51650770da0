/**
 * `pulsar-ws`: the command-line program. The only place that reads argv and env, builds the root
 * logger, handles signals and turns errors into exit codes. `main.ts` (the bin) loads it, after
 * giving connector commands their heap flags.
 */
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { brokerCommand } from './commands/broker.js';
import { fileToTopicCommand, stdinToTopicCommand } from './commands/file-to-topic.js';
import { keysCommand } from './commands/keys.js';
import { consumeCommand } from './commands/consume.js';
import { produceCommand } from './commands/produce.js';
import { readCommand } from './commands/read.js';
import { tokenCommand } from './commands/token.js';
import { webhookToTopicCommand } from './commands/webhook-to-topic.js';
import { topicToFileCommand } from './commands/topic-to-file.js';
import { topicToS3Command } from './commands/topic-to-s3.js';
import { lintCommand } from './commands/lint.js';
import { sidecarCommand } from './commands/sidecar.js';
import { CliError } from './cli-error.js';
import { withExamples } from './examples.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

await yargs(hideBin(process.argv))
  .scriptName('pulsar-ws')
  .usage('$0 <command> [options]')
  .command(withExamples(brokerCommand))
  .command(withExamples(tokenCommand))
  .command(withExamples(keysCommand))
  .command(withExamples(fileToTopicCommand))
  .command(withExamples(stdinToTopicCommand))
  .command(withExamples(topicToFileCommand))
  .command(withExamples(produceCommand))
  .command(withExamples(consumeCommand))
  .command(withExamples(readCommand))
  .command(withExamples(webhookToTopicCommand))
  .command(withExamples(topicToS3Command))
  .command(withExamples(sidecarCommand))
  .command(withExamples(lintCommand))
  .completion('completion', 'Print a bash/zsh completion script: pulsar-ws completion >> ~/.bashrc')
  .example('$0 broker', 'Start the embedded broker on ws://127.0.0.1:8080')
  .example('$0 <command> --help', "A command's flags, defaults and examples")
  .demandCommand(1, 'Name a command; see --help.')
  .strict()
  .version(packageVersion())
  .help()
  .alias('h', 'help')
  .wrap(Math.min(110, process.stdout.columns || 110))
  .fail((message, error, parser) => {
    if (error instanceof CliError) {
      process.stderr.write(`pulsar-ws: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    if (error !== undefined && error !== null) throw error;
    parser.showHelp((help) => process.stderr.write(`${help}\n\n`));
    process.stderr.write(`pulsar-ws: ${message}\n`);
    process.exit(2);
  })
  .parseAsync();
