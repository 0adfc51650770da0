/**
 * One or two example lines per command for its `--help`, kept here beside each other (so they read
 * as one consistent set and the command modules stay as they are) and attached by `withExamples()`.
 */
import type { Argv, CommandBuilder, CommandModule } from 'yargs';

type Example = readonly [command: string, description: string];

export const COMMAND_EXAMPLES: Readonly<Record<string, readonly Example[]>> = {
  broker: [
    ['$0 broker --data-dir ./pulsar-ws-data', 'Serve ws://127.0.0.1:8080 with data in ./pulsar-ws-data'],
    ['$0 broker --port 0 --fsync never', 'A throwaway broker on a free port (the ready line shows it)'],
  ],
  token: [
    ['$0 token create-secret-key --output secret.key', 'A new HS256 key, as Pulsar reads it'],
    ['$0 token create --secret-file secret.key --subject app', 'A token for the role "app"'],
  ],
  // The token subcommands, by their own names.
  create: [
    ['$0 token create --secret-file secret.key --subject app', 'Print a token for the role "app"'],
    [
      '$0 token create --secret-file secret.key --subject ci --expiry-seconds 3600',
      'One that expires in an hour',
    ],
  ],
  'create-secret-key': [
    ['$0 token create-secret-key --output secret.key', 'Write 32 random bytes, mode 600'],
  ],
  keys: [
    [
      '$0 keys create --name app --dir ./keys',
      'An RSA-2048 pair: ./keys/public-key.app and ./keys/private-key.app',
    ],
  ],
  'file-to-topic': [
    [
      "$0 file-to-topic --file 'logs/*.ndjson' --topic events --checkpoint logs.ckpt",
      'Publish files; a restart resumes after the checkpoint',
    ],
    ['$0 file-to-topic --file app.log --topic logs --follow', 'Tail a file, rotation included'],
  ],
  'stdin-to-topic': [['tail -F app.log | $0 stdin-to-topic --topic logs', 'One message per line of stdin']],
  'topic-to-file': [
    [
      '$0 topic-to-file --topic events --subscription archiver --file events.txt',
      'Append a subscription to a file, acknowledging after fsync',
    ],
  ],
  produce: [
    ['$0 produce my-topic -m hello -m world --key k1', 'Publish two messages and wait for their acks'],
    ['seq 10 | $0 produce my-topic', 'Publish the lines of stdin'],
  ],
  consume: [['$0 consume my-topic --subscription me --count 10', 'Print 10 messages, acknowledging each']],
  read: [['$0 read my-topic --start earliest --until-end', 'Print the topic as it is now, no subscription']],
  'webhook-to-topic': [
    [
      '$0 webhook-to-topic --port 8090 --topic events --hmac-secret "$KEY"',
      'Accept signed POSTs; answer 200 once the broker stored them',
    ],
  ],
  'topic-to-s3': [
    [
      '$0 topic-to-s3 --topic events --subscription s3 --bucket archive --gzip',
      'Archive a subscription into gzipped S3 objects',
    ],
    [
      '$0 topic-to-s3 --topic events --subscription s3 --bucket b --endpoint http://127.0.0.1:7070',
      'To an S3-compatible server (path-style)',
    ],
  ],
  sidecar: [
    ['$0 sidecar --config sidecar.yaml', 'Run the pipelines of a config file; /healthz, /readyz, /metrics'],
    [
      '$0 sidecar --config sidecar.yaml --listen 0.0.0.0:9464',
      'Serve the probes and metrics on every address',
    ],
  ],
  lint: [
    ['$0 lint --config sidecar.yaml', 'Report every problem of a sidecar config with its key path and line'],
  ],
};

/** The first word of a yargs command string: `'token <command>'` → `'token'`. */
function nameOf(command: string | readonly string[] | undefined): string {
  const first = typeof command === 'string' ? command : command?.[0];
  return first?.split(' ')[0] ?? '';
}

/** The command with its examples in its `--help` (added to the yargs instance its builder gets). */
export function withExamples<T, U>(module: CommandModule<T, U>): CommandModule<T, U> {
  const examples = COMMAND_EXAMPLES[nameOf(module.command)] ?? [];
  const { builder } = module;
  const addExamples = (yargs: Argv<T>): Argv<T> =>
    examples.reduce((built, [command, description]) => built.example(command, description), yargs);
  if (typeof builder !== 'function') {
    return { ...module, builder: (yargs: Argv<T>) => addExamples(yargs).options(builder ?? {}) as Argv<U> };
  }
  // The union of sync and async builder signatures collapses to one return type when called.
  return { ...module, builder: ((yargs: Argv<T>) => builder(addExamples(yargs))) as CommandBuilder<T, U> };
}
