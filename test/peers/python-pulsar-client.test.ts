/**
 * Interoperability with an independent peer that speaks Pulsar's binary protocol: the Python
 * `pulsar-client` package. Messages published over the WebSocket API are read intact by it, and the
 * reverse. Needs real Pulsar (the embedded broker has no binary protocol) and `PULSAR_SERVICE_URL`.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessageId } from '../../src/protocol/index.js';
import { pythonModuleMissing, titled } from '../helpers/prerequisites.js';
import { externalTarget, producerUrl, readerUrl, uniqueTopic, useTarget } from '../helpers/target.js';
import { runPythonPeer } from '../helpers/python-peer.js';
import { SocketPool } from '../helpers/ws-client.js';

const PEER = fileURLToPath(new URL('./pulsar_peer.py', import.meta.url));
const serviceUrl = process.env.PULSAR_SERVICE_URL ?? '';
const target = useTarget();
const pool = new SocketPool();
afterEach(() => pool.closeAll());

interface PeerMessage {
  payload: string;
  properties: Record<string, string>;
  key: string | null;
  event_time: number;
  message_id: string;
}

/** Runs the Python peer; resolves with its stdout lines parsed as JSON. */
function peer(args: string[], stdin = ''): Promise<unknown[]> {
  return runPythonPeer(PEER, args, stdin);
}

/** Bytes that are not valid UTF-8, to prove payloads travel as bytes. */
const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x7f]);

const messages = [
  {
    payload: BINARY,
    properties: { a: '1', 'with space': 'ü' },
    key: 'k-0',
    eventTime: '2024-05-01T10:00:00.123Z',
  },
  { payload: Buffer.from('plain text'), properties: {}, key: undefined, eventTime: undefined },
  { payload: Buffer.alloc(0), properties: { empty: '' }, key: 'k-2', eventTime: undefined },
];

// Checked only where it can run, so an embedded-broker run does not probe python3 for nothing.
const pulsarClientMissing =
  externalTarget && serviceUrl !== '' ? pythonModuleMissing('pulsar', 'pulsar-client') : undefined;

describe.skipIf(!externalTarget || serviceUrl === '' || pulsarClientMissing !== undefined)(
  titled('real Pulsar only (binary-protocol Python pulsar-client peer)', pulsarClientMissing),
  () => {
    it('reads what the WebSocket API published: payload bytes, properties, key and event time intact', async () => {
      const topic = uniqueTopic('peer-ws-to-bin');
      const producer = await pool.open(producerUrl(target, topic));
      const ackIds: string[] = [];
      for (const [index, message] of messages.entries()) {
        producer.send({
          payload: message.payload.toString('base64'),
          properties: message.properties,
          context: String(index),
          ...(message.key === undefined ? {} : { key: message.key }),
          ...(message.eventTime === undefined ? {} : { eventTime: message.eventTime }),
        });
        const ack = await producer.next<{ result: string; messageId: string }>();
        expect(ack.result).toBe('ok');
        ackIds.push(ack.messageId);
      }
      const received = (await peer([
        'consume',
        serviceUrl,
        `persistent://public/default/${topic}`,
        String(messages.length),
      ])) as PeerMessage[];
      expect(received).toHaveLength(messages.length);
      received.forEach((got, index) => {
        const sent = messages[index]!;
        expect(Buffer.from(got.payload, 'base64').equals(sent.payload)).toBe(true);
        expect(got.properties).toEqual(sent.properties);
        expect(got.key ?? undefined).toBe(sent.key);
        expect(got.event_time).toBe(sent.eventTime === undefined ? 0 : Date.parse(sent.eventTime));
        const peerId = decodeMessageId(got.message_id);
        const wsId = decodeMessageId(ackIds[index]!);
        expect({ ledgerId: peerId.ledgerId, entryId: peerId.entryId }).toEqual({
          ledgerId: wsId.ledgerId,
          entryId: wsId.entryId,
        });
      });
    });

    it('the WebSocket API reads what the binary client published, intact', async () => {
      const topic = uniqueTopic('peer-bin-to-ws');
      const reader = await pool.open(readerUrl(target, topic, '?messageId=earliest'));
      const input = messages
        .map((message) =>
          JSON.stringify({
            payload: message.payload.toString('base64'),
            properties: message.properties,
            key: message.key ?? null,
            event_time: message.eventTime === undefined ? 0 : Date.parse(message.eventTime),
          }),
        )
        .join('\n');
      const ids = (await peer(['produce', serviceUrl, `persistent://public/default/${topic}`], input)) as {
        message_id: string;
      }[];
      expect(ids).toHaveLength(messages.length);
      for (const [index, sent] of messages.entries()) {
        const got = await reader.next<{
          payload: string;
          properties: Record<string, string>;
          key?: string;
          eventTime?: string;
          messageId: string;
        }>();
        reader.send({ messageId: got.messageId });
        expect(Buffer.from(got.payload, 'base64').equals(sent.payload)).toBe(true);
        expect(got.properties).toEqual(sent.properties);
        expect(got.key).toBe(sent.key);
        if (sent.eventTime === undefined) expect(got).not.toHaveProperty('eventTime');
        else expect(Date.parse(got.eventTime ?? '')).toBe(Date.parse(sent.eventTime));
        const wsId = decodeMessageId(got.messageId);
        const peerId = decodeMessageId(ids[index]!.message_id);
        expect(wsId.entryId).toBe(peerId.entryId);
      }
    });
  },
);
