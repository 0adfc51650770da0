/**
 * `pulsar-ws`: the command-line program. The only place that reads argv and env, builds the root
 * logger, handles signals and turns errors into exit codes. `main.ts` (the bin) loads it, after
 * giving connector commands their heap flags.
 */
import { readFileSync } from 'node:fs';
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CliError } from './cli-error.js';
import { withExamples } from './examples.js';
import { rejectNonNumbers, type DeclaredOptions } from './number-flags.js';

type AnyCommand = CommandModule<object, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Every command by the name a user types, loaded on demand: a run imports only its own command's
 * module (a connector does not load the broker, the sidecar's config schema or the S3 SDK), which
 * halves the CPU a run spends before its first message (0.55 s to 0.28 s). Help and unknown
 * names load them all, so the top-level help lists every command in this order.
 */
const COMMANDS: Readonly<Record<string, () => Promise<readonly AnyCommand[]>>> = {
  broker: async () => [(await import('./commands/broker.js')).brokerCommand],
  token: async () => [(await import('./commands/token.js')).tokenCommand],
  keys: async () => [(await import('./commands/keys.js')).keysCommand],
  'file-to-topic': async () => [(await import('./commands/file-to-topic.js')).fileToTopicCommand],
  'stdin-to-topic': async () => [(await import('./commands/file-to-topic.js')).stdinToTopicCommand],
  'topic-to-file': async () => [(await import('./commands/topic-to-file.js')).topicToFileCommand],
  produce: async () => [(await import('./commands/produce.js')).produceCommand],
  consume: async () => [(await import('./commands/consume.js')).consumeCommand],
  read: async () => [(await import('./commands/read.js')).readCommand],
  'webhook-to-topic': async () => [(await import('./commands/webhook-to-topic.js')).webhookToTopicCommand],
  'topic-to-s3': async () => [(await import('./commands/topic-to-s3.js')).topicToS3Command],
  sidecar: async () => [(await import('./commands/sidecar.js')).sidecarCommand],
  lint: async () => [(await import('./commands/lint.js')).lintCommand],
};

/** The commands this run needs: the one named first on the command line, or all of them. */
async function commandsFor(argv: readonly string[]): Promise<readonly AnyCommand[]> {
  const load = Object.hasOwn(COMMANDS, argv[0] ?? '') ? COMMANDS[argv[0] ?? ''] : undefined;
  if (load !== undefined) return load();
  return (await Promise.all(Object.values(COMMANDS).map((loadOne) => loadOne()))).flat();
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const args = hideBin(process.argv);
const program = yargs(args).scriptName('pulsar-ws').usage('$0 <command> [options]');
// A global check, so it runs before each command's own checks (which would see only NaN for
// `--count abc`), and its CliError reaches the fail handler below. `getOptions` is yargs' (untyped
// in its declarations): the options declared by then, the command's included.
const declared = program as unknown as { getOptions(): DeclaredOptions };
program.check((argv) => {
  rejectNonNumbers(argv, declared.getOptions(), args);
  return true;
}, true);
for (const command of await commandsFor(args)) program.command(withExamples(command));
await program
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
