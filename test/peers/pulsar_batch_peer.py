"""Publishes messages as one batched entry with the binary-protocol Python `pulsar-client` (what Java
and Python clients do by default), for the readers' end-of-topic tests.

    python3 pulsar_batch_peer.py SERVICE_URL TOPIC PAYLOAD...   # prints one JSON line per message id

Each line: {"message_id": base64 of the serialized MessageIdData} (ledger, entry, batch index).
"""
import base64
import json
import sys

import pulsar


def main():
    service_url, topic = sys.argv[1:3]
    payloads = sys.argv[3:]
    client = pulsar.Client(service_url)
    try:
        producer = client.create_producer(
            topic,
            batching_enabled=True,
            batching_max_messages=len(payloads),
            batching_max_publish_delay_ms=60000,
        )
        ids = []
        for payload in payloads:
            producer.send_async(payload.encode('utf-8'), lambda _result, msg_id: ids.append(msg_id))
        producer.flush()
        for msg_id in ids:
            print(json.dumps({'message_id': base64.b64encode(msg_id.serialize()).decode('ascii')}), flush=True)
        producer.close()
    finally:
        client.close()


if __name__ == '__main__':
    main()
