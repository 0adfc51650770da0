/**
 * The `publish` section of the sidecar's config (`POST /publish/{topic}`, see publish.ts), and the
 * checks it needs beyond types: reachable from outside loopback only with a token file, and a port
 * of its own when it has its own listener.
 */
import * as z from 'zod';
import { httpIntakeBounds, listenAddress, positiveInt, topicName } from './config-fields.js';
import { isLoopbackHost } from './publish-access.js';

export const publishSchema = z.strictObject({
  enabled: z.boolean().default(false).describe('Serve POST /publish/{topic}'),
  listen: listenAddress(
    'A listener of its own for POST /publish, host:port (default: on http.listen, beside /metrics)',
  ).optional(),
  tokenFile: z
    .string()
    .optional()
    .describe(
      'File holding the token callers send as Authorization: Bearer TOKEN (re-read when it changes); required unless POST /publish listens on loopback only',
    ),
  topics: z
    .array(topicName)
    .min(1)
    .optional()
    .describe('The only topics POST /publish may publish to (others get 403; default: any)'),
  maxInFlight: positiveInt('Requests handled at once; more get 429').default(64),
  ...httpIntakeBounds,
});

export type PublishConfig = z.output<typeof publishSchema>;

/**
 * `/publish` reachable from outside needs a token; its own listener needs a port of its own.
 * Registers that port in `ports` (port → key) for the webhooks' check.
 */
export function checkPublish(
  config: { http: { listen: { host: string; port: number } }; publish: PublishConfig },
  ports: Map<string, string>,
  context: z.core.$RefinementCtx,
): void {
  const { publish } = config;
  if (!publish.enabled) return;
  const listen = publish.listen ?? config.http.listen;
  if (publish.tokenFile === undefined && !isLoopbackHost(listen.host)) {
    context.addIssue({
      code: 'custom',
      path: ['publish', 'tokenFile'],
      message: `required: POST /publish listens on ${listen.host}, which is not loopback only, so callers must send a bearer token (or listen on 127.0.0.1)`,
    });
  }
  if (publish.listen === undefined || publish.listen.port === 0) return;
  const owner = ports.get(`${publish.listen.port}`);
  if (owner !== undefined) {
    context.addIssue({
      code: 'custom',
      path: ['publish', 'listen'],
      message: `port ${publish.listen.port} is taken by ${owner}`,
    });
  }
  ports.set(`${publish.listen.port}`, 'publish.listen');
}
