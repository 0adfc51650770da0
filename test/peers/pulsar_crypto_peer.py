"""An encrypting binary-protocol peer for the encryption interop tests: Python `pulsar-client` with
its RSA CryptoKeyReader (which uses one key pair whatever the key name).

    python3 pulsar_crypto_peer.py produce SERVICE_URL TOPIC KEY_NAME PUBLIC_PEM PRIVATE_PEM COMPRESSION
        # reads JSON lines (payload base64, properties, key) from stdin and sends them as ONE batch,
        # compressed (NONE, ZLIB, LZ4, ZSTD, SNAPPY) and encrypted for KEY_NAME; prints one id line
    python3 pulsar_crypto_peer.py consume SERVICE_URL TOPIC COUNT PUBLIC_PEM PRIVATE_PEM
        # decrypts (cryptoFailureAction FAIL) and prints one JSON line per message
"""
import base64
import json
import sys

import pulsar

COMPRESSION = {
    'NONE': pulsar.CompressionType.NONE,
    'ZLIB': pulsar.CompressionType.ZLib,
    'LZ4': pulsar.CompressionType.LZ4,
    'ZSTD': pulsar.CompressionType.ZSTD,
    'SNAPPY': pulsar.CompressionType.SNAPPY,
}


def produce(client, topic, key_name, public_pem, private_pem, compression):
    reader = pulsar.CryptoKeyReader(public_pem, private_pem)
    messages = [json.loads(line) for line in sys.stdin if line.strip()]
    producer = client.create_producer(
        topic,
        encryption_key=key_name,
        crypto_key_reader=reader,
        compression_type=COMPRESSION[compression],
        batching_enabled=True,
        batching_max_messages=len(messages),
        batching_max_publish_delay_ms=60000,
    )
    sent = []
    for message in messages:
        kwargs = {'properties': message.get('properties') or {}}
        if message.get('key') is not None:
            kwargs['partition_key'] = message['key']
        producer.send_async(base64.b64decode(message['payload']), lambda res, msg_id: sent.append('ok' if res == pulsar.Result.Ok else str(res)), **kwargs)
    producer.flush()
    producer.close()
    print(json.dumps({'sent': len(sent), 'results': sorted(set(sent))}), flush=True)


def consume(client, topic, count, public_pem, private_pem):
    reader = pulsar.CryptoKeyReader(public_pem, private_pem)
    consumer = client.subscribe(topic, 'python-crypto-peer', initial_position=pulsar.InitialPosition.Earliest,
                                crypto_key_reader=reader)
    for _ in range(count):
        msg = consumer.receive(timeout_millis=30000)
        print(json.dumps({
            'payload': base64.b64encode(msg.data()).decode('ascii'),
            'properties': msg.properties(),
            'key': msg.partition_key() or None,
        }), flush=True)
        consumer.acknowledge(msg)
    consumer.close()


def main():
    mode, service_url, topic = sys.argv[1:4]
    client = pulsar.Client(service_url)
    try:
        if mode == 'produce':
            produce(client, topic, *sys.argv[4:8])
        elif mode == 'consume':
            consume(client, topic, int(sys.argv[4]), sys.argv[5], sys.argv[6])
        else:
            raise SystemExit('unknown mode ' + mode)
    finally:
        client.close()


if __name__ == '__main__':
    main()
