/**
 * Webhook source: an HTTP endpoint whose POSTs are published; the caller gets 200 with the message
 * ids only once the broker stored them. With an HMAC secret, unsigned or wrongly signed calls get 401.
 *
 *   node examples/webhook.ts        (uses PULSAR_WS_URL, or starts an embedded broker)
 */
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PulsarWsClient } from 'pulsar-ws-streams';
import { EmbeddedBroker } from 'pulsar-ws-streams/broker';
import { WebhookSource } from 'pulsar-ws-streams/connectors';

const dir = await mkdtemp(join(tmpdir(), 'pulsar-ws-webhook-'));
const broker = process.env.PULSAR_WS_URL ? undefined : await EmbeddedBroker.start({ dataDir: dir, port: 0 });
const client = new PulsarWsClient({ url: process.env.PULSAR_WS_URL ?? broker?.url ?? '' });
const secret = 'change-me';

try {
  const webhook = await WebhookSource.listen({ port: 0, path: '/events', hmacSecret: secret });
  const running = pipeline(webhook, client.producer(`webhook-${Date.now().toString(36)}`));
  const body = '{"event":"signup","user":"ada"}\n{"event":"login","user":"ada"}\n';
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const signed = await fetch(webhook.url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-ndjson', 'x-signature-256': signature, 'x-message-key': 'ada' },
  });
  console.log(`signed POST: ${signed.status} ${await signed.text()}`);
  const unsigned = await fetch(webhook.url, { method: 'POST', body });
  console.log(`unsigned POST: ${unsigned.status} ${await unsigned.text()}`);
  await webhook.close(); // stops accepting, lets requests in flight finish, ends the pipeline
  await running;
} finally {
  await client.close();
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
}
