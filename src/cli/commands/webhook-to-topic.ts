/**
 * `pulsar-ws webhook-to-topic`: an HTTP server whose POSTs are published to a topic; each caller gets
 * 200 with the message ids once stored. Memory is bounded by requests (`--max-in-flight` bodies of at
 * most `--max-body-bytes`) and by messages (`--max-messages-in-flight`) whatever the bodies hold. Runs until SIGINT/SIGTERM, then stops accepting, lets the
 * requests in flight finish and exits 0.
 */
import { pipeline } from 'node:stream/promises';
import type { CommandModule } from 'yargs';
import { WEBHOOK_DEFAULTS, WebhookSource } from '../../connectors/http-webhook.js';
import { cliLogger, clientFromArgs, withConnectionOptions, type ConnectionArgs } from '../connection.js';
import {
  keyErrorAsUsage,
  producerEncryptionFromArgs,
  withEncryptOptions,
  type EncryptArgs,
} from '../encryption-flags.js';
import { runCommand } from '../run.js';

interface WebhookArgs extends ConnectionArgs, EncryptArgs {
  port: number;
  host: string;
  path: string;
  topic: string;
  secret: string | undefined;
  'secret-header': string;
  'hmac-secret': string | undefined;
  'signature-header': string;
  'key-header': string;
  'property-header-prefix': string;
  'max-body-bytes': number;
  'max-in-flight': number;
  'max-messages-in-flight': number;
  'max-request-messages-in-flight': number;
  'body-timeout': number;
}

export const webhookToTopicCommand: CommandModule<object, WebhookArgs> = {
  command: 'webhook-to-topic',
  describe: 'Publish HTTP POST bodies to a topic (200 with the ids once stored)',
  builder: (yargs) =>
    withEncryptOptions(withConnectionOptions(yargs))
      .option('port', { type: 'number', demandOption: true, describe: 'HTTP port (0: any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
      .option('path', { type: 'string', default: '/', describe: 'Path that accepts POSTs' })
      .option('topic', { type: 'string', demandOption: true, describe: 'Topic (short or full name)' })
      .option('secret', {
        type: 'string',
        describe: 'Shared secret callers send in --secret-header (default: $WEBHOOK_SECRET)',
      })
      .option('secret-header', {
        type: 'string',
        default: 'x-webhook-secret',
        describe: 'Header carrying --secret',
      })
      .option('hmac-secret', {
        type: 'string',
        describe: 'HMAC-SHA256 key; callers send sha256=<hex> in --signature-header',
      })
      .option('signature-header', {
        type: 'string',
        default: 'x-signature-256',
        describe: 'Header carrying the signature of --hmac-secret',
      })
      .option('key-header', {
        type: 'string',
        default: 'x-message-key',
        describe: 'Header holding the message key',
      })
      .option('property-header-prefix', {
        type: 'string',
        default: 'x-property-',
        describe: 'Headers <prefix>name become property name',
      })
      .option('max-body-bytes', {
        type: 'number',
        default: WEBHOOK_DEFAULTS.maxBodyBytes,
        describe: 'Larger bodies get 413 (each request handled holds its body until answered)',
      })
      .option('max-in-flight', {
        type: 'number',
        default: WEBHOOK_DEFAULTS.maxInFlight,
        describe: 'Requests handled at once (then queued, then 429)',
      })
      .option('max-messages-in-flight', {
        type: 'number',
        default: WEBHOOK_DEFAULTS.maxMessagesInFlight,
        describe: 'Messages of all requests handed to the producer and not yet acknowledged',
      })
      .option('max-request-messages-in-flight', {
        type: 'number',
        default: WEBHOOK_DEFAULTS.maxRequestMessagesInFlight,
        describe: 'Messages of one request handed to the producer and not yet acknowledged',
      })
      .option('body-timeout', {
        type: 'number',
        default: WEBHOOK_DEFAULTS.bodyTimeoutMs,
        describe: 'Milliseconds a body may take to arrive once its request is handled; slower ones get 408',
      }),
  handler: async (args) => {
    const logger = cliLogger(args);
    await runCommand(logger, async (signal) => {
      // Keys are read (and bad ones refused) before the port opens.
      const encryption = producerEncryptionFromArgs(args);
      const secret =
        args.secret ?? (process.env.WEBHOOK_SECRET === '' ? undefined : process.env.WEBHOOK_SECRET);
      const webhook = await WebhookSource.listen({
        port: args.port,
        host: args.host,
        path: args.path,
        ...(secret === undefined ? {} : { secret }),
        secretHeader: args['secret-header'].toLowerCase(),
        ...(args['hmac-secret'] === undefined ? {} : { hmacSecret: args['hmac-secret'] }),
        signatureHeader: args['signature-header'].toLowerCase(),
        keyHeader: args['key-header'].toLowerCase(),
        propertyHeaderPrefix: args['property-header-prefix'].toLowerCase(),
        maxBodyBytes: args['max-body-bytes'],
        maxInFlight: args['max-in-flight'],
        maxMessagesInFlight: args['max-messages-in-flight'],
        maxRequestMessagesInFlight: args['max-request-messages-in-flight'],
        bodyTimeoutMs: args['body-timeout'],
        logger,
      });
      const client = clientFromArgs(args, logger);
      // Graceful stop: no new requests, those in flight finish, then the producer drains.
      signal.addEventListener('abort', () => void webhook.close(), { once: true });
      logger.info({ url: webhook.url }, 'webhook listening');
      if (!args.quiet) process.stderr.write(`pulsar-ws webhook-to-topic listening at ${webhook.url}\n`);
      try {
        await pipeline(
          webhook,
          keyErrorAsUsage(() => client.producer(args.topic, encryption)),
        );
      } finally {
        await client.close();
      }
    });
  },
};
