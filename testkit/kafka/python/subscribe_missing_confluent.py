#!/usr/bin/env python3
"""A confluent-kafka consumer with group.protocol=consumer (KIP-848)
subscribes to two topics of which one does not exist yet, as a consumer
started before its producer does. It must be assigned the existing topic's
partitions and read its records; once the other topic is created and
written to, the group must assign it too and the consumer read those
records. Prints one JSON line: what was assigned and read at each stage,
and ok.

  subscribe_missing_confluent.py --bootstrap H:P [--timeout 30]

Run with target/py-venv/kafka/bin/python (scripts/install-kafka-clients)."""

import argparse
import json
import os
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--timeout", type=float, default=30)
    a = p.parse_args()
    run = os.urandom(3).hex()
    present, missing = f"present-{run}", f"missing-{run}"
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    producer = Producer({"bootstrap.servers": a.bootstrap})
    consumer = Consumer({"bootstrap.servers": a.bootstrap, "group.id": f"awaiting-{run}",
                         "group.protocol": "consumer", "auto.offset.reset": "earliest"})
    out = {"ok": False, "errors": []}

    def create_and_fill(topic):
        for f in admin.create_topics([NewTopic(topic, 2, 1)]).values():
            f.result(timeout=a.timeout)
        for i in range(10):
            producer.produce(topic, value=f"{topic}-{i}".encode(), partition=i % 2)
        producer.flush(a.timeout)

    def read_until(topics, want):
        got = set()
        deadline = time.monotonic() + a.timeout
        while time.monotonic() < deadline and len(got) < want:
            m = consumer.poll(0.3)
            if m is None:
                continue
            if m.error():
                out["errors"].append(str(m.error()))
                if m.error().fatal():
                    break
                continue
            if m.topic() in topics:
                got.add(m.value().decode())
        return sorted(got)

    try:
        create_and_fill(present)
        consumer.subscribe([present, missing])
        out["read_before"] = len(read_until({present}, 10))
        out["assigned_before"] = sorted({tp.topic.split("-")[0] for tp in consumer.assignment()})
        create_and_fill(missing)
        out["read_after"] = len(read_until({missing}, 10))
        out["assigned_after"] = sorted({tp.topic.split("-")[0] for tp in consumer.assignment()})
    finally:
        consumer.close()
    out["ok"] = (out.get("read_before") == 10 and out.get("read_after") == 10
                 and out.get("assigned_after") == ["missing", "present"] and not out["errors"])
    print(json.dumps(out, sort_keys=True))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
