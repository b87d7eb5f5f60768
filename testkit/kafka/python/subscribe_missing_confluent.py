#!/usr/bin/env python3
"""A confluent-kafka consumer with group.protocol=consumer (KIP-848)
subscribes to two topics of which one does not exist yet, as a consumer
started before its producer does. It must be assigned the existing topic's
partitions and read its records; once the other topic is created and
written to, the group must assign it too and the consumer read those
records. With --pattern it subscribes by regular expression instead
(`^sub-RUN-.*`, resolved by the broker), and a topic the expression does
not match must never be assigned. Prints one JSON line: what was assigned
and read at each stage, and ok.

  subscribe_missing_confluent.py --bootstrap H:P [--pattern] [--timeout 30]

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
    p.add_argument("--pattern", action="store_true",
                   help="subscribe by regular expression, not by the topics' names")
    a = p.parse_args()
    run = os.urandom(3).hex()
    present, missing, other = f"sub-{run}-present", f"sub-{run}-missing", f"other-{run}"
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

    def assigned():
        return sorted({tp.topic.split("-")[-1] for tp in consumer.assignment()})

    try:
        create_and_fill(present)
        create_and_fill(other)
        consumer.subscribe([f"^sub-{run}-.*"] if a.pattern else [present, missing])
        out["read_before"] = len(read_until({present}, 10))
        out["assigned_before"] = assigned()
        create_and_fill(missing)
        out["read_after"] = len(read_until({missing}, 10))
        out["assigned_after"] = assigned()
    finally:
        consumer.close()
    out["ok"] = (out.get("read_before") == 10 and out.get("read_after") == 10
                 and out.get("assigned_before") == ["present"]
                 and out.get("assigned_after") == ["missing", "present"] and not out["errors"])
    print(json.dumps(out, sort_keys=True))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
