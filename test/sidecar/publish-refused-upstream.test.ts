/**
 * HTTP intake whose producer the broker refuses (the process's own token may not write the topic):
 * the webhook source and the sidecar's `POST /publish` answer 502 without `Retry-After` (a retry
 * changes nothing until an operator fixes the grants), naming the refusal and never the token; once
 * the role is granted, `/publish` serves the same request. Embedded broker with token auth, or the
 * auth-enabled Pulsar (PULSAR_AUTH_WS_URL).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/broker/index.js';
import { WebhookSource } from '../../src/connectors/http-webhook.js';
import { PulsarWsClient } from '../../src/index.js';
import { killSidecar, startSidecar, until, type SidecarProcess } from '../helpers/sidecar.js';
import { externalAuthTarget, externalTarget, uniqueTopic, useAuthTarget } from '../helpers/target.js';

const target = useAuthTarget();
let dir: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pws-publish-refused-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function grant(role: string, actions: string[]): Promise<void> {
  const response = await fetch(`${target.adminUrl}/admin/v2/namespaces/public/default/permissions/${role}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${target.adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(actions),
  });
  expect(response.status, await response.text()).toBeLessThan(300);
}

async function post(url: string, body: string) {
  const response = await fetch(url, { method: 'POST', body });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as { count?: number; error?: string },
  };
}

describe.skipIf(externalTarget && !externalAuthTarget)('a producer the broker refuses', () => {
  it('webhook source: 502 without Retry-After, naming the refusal and not the token', async () => {
    const role = uniqueTopic('no-grant');
    const token = await createToken(target.secretKey, role);
    const client = new PulsarWsClient({ url: target.wsUrl, token });
    const webhook = await WebhookSource.listen();
    cleanups.push(() => webhook.close());
    // The request is being published before the producer is even asked for: otherwise the refusal
    // can come first and close the server while the request sits in its accept queue (a reset).
    const answered = post(webhook.url, 'refused');
    await until('the request is handed to the stream', () => Promise.resolve(webhook.messagesInFlight > 0));
    // The pipeline fails with the refusal (while the request is answered): caught here at once.
    const failure = pipeline(webhook, client.producer(uniqueTopic('webhook-refused'))).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    cleanups.push(async () => {
      await failure;
      await client.close();
    });
    const answer = await answered;
    expect(answer).toMatchObject({ status: 502, retryAfter: null });
    expect(answer.body.error).toMatch(
      /^the broker refused this server's producer: authorization failed for /,
    );
    expect(answer.body.error).not.toContain(token);
    expect((await failure)?.message).toMatch(/authorization failed/);
  });

  it("sidecar POST /publish: 502 without Retry-After while the sidecar's role may not produce; 200 once granted", async () => {
    const role = uniqueTopic('publisher');
    const token = await createToken(target.secretKey, role);
    // The pipeline consumes: the role may do that from the start, and produce only once granted.
    await grant(role, ['consume']);
    const config = join(dir, `${role}.yaml`);
    await writeFile(
      config,
      `connection: { url: ${target.wsUrl}, token: ${token} }
http: { listen: 127.0.0.1:0 }
publish: { enabled: true }
pipelines:
  hold:
    source: { type: topic, topic: ${uniqueTopic('unused')}, subscription: s }
    sink: { type: stdout }
`,
    );
    const sidecar: SidecarProcess = await startSidecar(config);
    cleanups.push(() => killSidecar(sidecar));
    const url = `${sidecar.url}/publish/${uniqueTopic('publish-refused')}`;
    const refused = await post(url, 'refused');
    expect(refused).toMatchObject({ status: 502, retryAfter: null });
    expect(refused.body.error).toMatch(
      /^the broker refused this server's producer: authorization failed for /,
    );
    expect(refused.body.error).not.toContain(token);
    await grant(role, ['consume', 'produce']);
    const stored = await until('the granted role publishes', async () => {
      const answer = await post(url, 'stored');
      return answer.status === 200 ? answer : undefined;
    });
    expect(stored.body.count).toBe(1);
  });
});
