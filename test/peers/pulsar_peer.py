"""A binary-protocol peer for the interoperability tests: the Python `pulsar-client` package.

    python3 pulsar_peer.py consume SERVICE_URL TOPIC COUNT   # prints one JSON line per message
    python3 pulsar_peer.py produce SERVICE_URL TOPIC         # reads JSON lines from stdin, prints ids

Messages are JSON objects: payload (base64), properties, key, event_time (epoch ms), message_id (base64
of the serialized MessageIdData).
"""
import base64
import json
import sys

import pulsar


def consume(client, topic, count):
    consumer = client.subscribe(topic, 'python-peer', initial_position=pulsar.InitialPosition.Earliest)
    for _ in range(count):
        msg = consumer.receive(timeout_millis=30000)
        print(json.dumps({
            'payload': base64.b64encode(msg.data()).decode('ascii'),
            'properties': msg.properties(),
            'key': msg.partition_key() or None,
            'event_time': msg.event_timestamp(),
            'message_id': base64.b64encode(msg.message_id().serialize()).decode('ascii'),
        }), flush=True)
        consumer.acknowledge(msg)
    consumer.close()


def produce(client, topic):
    producer = client.create_producer(topic, batching_enabled=False)
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        kwargs = {'properties': message.get('properties') or {}}
        if message.get('key') is not None:
            kwargs['partition_key'] = message['key']
        if message.get('event_time'):
            kwargs['event_timestamp'] = message['event_time']
        msg_id = producer.send(base64.b64decode(message['payload']), **kwargs)
        print(json.dumps({'message_id': base64.b64encode(msg_id.serialize()).decode('ascii')}), flush=True)
    producer.close()


def main():
    mode, service_url, topic = sys.argv[1:4]
    client = pulsar.Client(service_url)
    try:
        if mode == 'consume':
            consume(client, topic, int(sys.argv[4]))
        elif mode == 'produce':
            produce(client, topic)
        else:
            raise SystemExit('unknown mode ' + mode)
    finally:
        client.close()


if __name__ == '__main__':
    main()
