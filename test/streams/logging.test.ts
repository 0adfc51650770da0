/** Logging: a child logger per component with the topic, lifecycle at info, and never a token. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createToken } from '../../src/broker/index.js';
import { PulsarWsClient } from '../../src/index.js';
import { uniqueTopic, useAuthTarget } from '../helpers/target.js';

const target = useAuthTarget();

describe('logging', () => {
  it('logs session states per component and topic, and no token in any transport', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const token = await createToken(target.secretKey, 'admin');
    for (const tokenTransport of ['header', 'query'] as const) {
      const client = new PulsarWsClient({ url: target.wsUrl, token, tokenTransport, logger });
      const producer = client.producer(uniqueTopic('log'));
      await new Promise<void>((resolve) => producer.once('state', () => resolve()));
      producer.end('x');
      await new Promise((resolve) => producer.once('close', resolve));
      await client.close();
    }
    const text = JSON.stringify(lines);
    expect(text).not.toContain(token);
    const states = lines.filter((line) => line.msg === 'session connected');
    expect(states).toHaveLength(2);
    expect(states[0]?.component).toBe('producer');
    expect(String(states[0]?.topic)).toMatch(/^persistent:\/\/public\/default\/log-/);
    expect(String(states[1]?.url)).toMatch(/^ws:\/\/.*\/ws\/v2\/producer\//);
  });
});
