#!/usr/bin/env python3
"""Produces --count records to an existing topic with an idempotent
confluent-kafka producer (acks=all, retries without end) while the broker may
be killed and restarted under it, then prints one JSON line: every record the
producer was told is delivered, as [index, partition, offset], in delivery
order, plus the errors it reported. Run with target/py-venv/kafka/bin/python.

The caller checks the log afterwards: each delivered record present exactly
once, at its offset, in send order per partition."""

import argparse
import json
import sys
import time

from confluent_kafka import Producer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--pace-ms", type=float, default=1.0, help="pause between records")
    p.add_argument("--timeout", type=float, default=180)
    a = p.parse_args()
    producer = Producer({
        "bootstrap.servers": a.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": 2,
        "message.timeout.ms": int(a.timeout * 1000),
        "reconnect.backoff.max.ms": 500,
    })
    delivered, errors = [], []

    def report(i):
        def cb(err, msg):
            if err is not None:
                errors.append(f"record {i}: {err}")
            else:
                delivered.append([i, msg.partition(), msg.offset()])
        return cb

    for i in range(a.count):
        while True:
            try:
                producer.produce(a.topic, key=f"key-{i % 100}".encode(), value=f"v{i}".encode(),
                                 on_delivery=report(i))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        time.sleep(a.pace_ms / 1000)
    left = producer.flush(a.timeout)
    print(json.dumps({"delivered": delivered, "errors": errors, "undelivered": left}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
