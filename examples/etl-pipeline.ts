/**
 * ETL: read a topic from the start to its current end, transform each record, publish the results to
 * another topic. `pipeline()` handles backpressure end to end and fails as a whole on any error.
 *
 *   node examples/etl-pipeline.ts        (uses PULSAR_WS_URL, or starts an embedded broker)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PulsarWsClient, type ConsumerMessage } from 'pulsar-ws-streams';
import { EmbeddedBroker } from 'pulsar-ws-streams/broker';

const dataDir = await mkdtemp(join(tmpdir(), 'pulsar-ws-etl-'));
const broker = process.env.PULSAR_WS_URL ? undefined : await EmbeddedBroker.start({ dataDir, port: 0 });
const client = new PulsarWsClient({ url: process.env.PULSAR_WS_URL ?? broker?.url ?? '' });
const run = Date.now().toString(36);
const orders = `orders-${run}`;
const totals = `order-totals-${run}`;

try {
  // Some input: one JSON order per message, keyed by customer.
  const input = [
    { customer: 'ada', items: [{ price: 3, qty: 2 }] },
    {
      customer: 'bob',
      items: [
        { price: 10, qty: 1 },
        { price: 1, qty: 5 },
      ],
    },
    { customer: 'ada', items: [{ price: 7, qty: 1 }] },
  ];
  await pipeline(
    Readable.from(input.map((order) => ({ payload: JSON.stringify(order), key: order.customer }))),
    client.producer(orders),
  );

  // Extract (reader, up to the end as of now) → transform (total per order) → load (producer).
  const toTotal = new Transform({
    objectMode: true,
    transform(message: ConsumerMessage, _encoding, callback) {
      const order = JSON.parse(message.payload.toString()) as {
        customer: string;
        items: { price: number; qty: number }[];
      };
      const total = order.items.reduce((sum, item) => sum + item.price * item.qty, 0);
      callback(null, {
        payload: JSON.stringify({ customer: order.customer, total }),
        key: order.customer,
        properties: { source: message.messageId },
      });
    },
  });
  await pipeline(
    client.reader(orders, { startMessageId: 'earliest', stopAtEnd: true }),
    toTotal,
    client.producer(totals),
  );

  const results = await client.reader(totals, { startMessageId: 'earliest', stopAtEnd: true }).toArray();
  for (const message of results) console.log(`${message.key}: ${message.payload.toString()}`);
} finally {
  await client.close();
  await broker?.stop();
  await rm(dataDir, { recursive: true, force: true });
}
