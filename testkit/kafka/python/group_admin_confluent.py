#!/usr/bin/env python3
"""Consumer-group administration with confluent-kafka's AdminClient
(librdkafka; kafka-python's KafkaAdminClient for OffsetDelete, which
confluent-kafka does not expose), what `kafka-consumer-groups` does: list groups, describe one,
list its committed offsets with lag, reset them to an offset, delete one
partition's offset (refused while a member subscribes to the topic), and
delete the group. Prints "ok <check>" per check; the first failed check
prints "FAILED <check>: <why>" and exits 1. Run with
target/py-venv/kafka/bin/python.

  group_admin_confluent.py --bootstrap HOST:PORT [--topic T]
"""

import argparse
import sys
import time

from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic
import kafka
import kafka.errors

RECORDS = 20


class Failed(Exception):
    pass


def check(name, condition, why=""):
    if not condition:
        raise Failed(f"{name}: {why}")
    print(f"ok {name}", flush=True)


def result(futures, timeout=30):
    """The one result of an admin call's futures (a dict of one entry)."""
    (future,) = futures.values() if isinstance(futures, dict) else [futures]
    return future.result(timeout=timeout)


def committed(admin, group, topic):
    listed = result(admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)]))
    return {tp.partition: tp.offset for tp in listed.topic_partitions if tp.topic == topic}


def delete_offsets(deleter, group, topic, partition):
    """OffsetDelete of one partition: its error class (NoError when deleted)."""
    tp = kafka.TopicPartition(topic, partition)
    return deleter.delete_group_offsets(group, [tp])[tp]


def member(args, group, topic):
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "session.timeout.ms": 6000})
    consumer.subscribe([topic])
    return consumer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", default=f"group-admin-{int(time.time())}")
    args = p.parse_args()
    topic, group = args.topic, f"{args.topic}-group"
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    deleter = kafka.KafkaAdminClient(bootstrap_servers=args.bootstrap)
    try:
        result(admin.create_topics([NewTopic(topic, 2, 1)]))
        producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all"})
        for i in range(RECORDS):
            producer.produce(topic, value=f"v{i}".encode(), partition=i % 2)
        check("produce", producer.flush(30) == 0)

        # A member reads everything and commits.
        consumer = member(args, group, topic)
        read, deadline = 0, time.monotonic() + 30
        while read < RECORDS and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                read += 1
        consumer.commit(asynchronous=False)
        check("consume", read == RECORDS, f"read {read}")

        listed = result(admin.list_consumer_groups()).valid
        check("list groups", group in {g.group_id for g in listed},
              f"{[g.group_id for g in listed]}")
        described = result(admin.describe_consumer_groups([group]))
        check("describe a live group", len(described.members) == 1
              and described.members[0].assignment.topic_partitions,
              f"{described}")

        # Deleting the offsets of a topic a live member subscribes to.
        outcome = delete_offsets(deleter, group, topic, 1)
        check("delete offsets of a subscribed topic is refused",
              outcome is kafka.errors.GroupSubscribedToTopicError, f"{outcome}")
        consumer.close()

        check("committed offsets", committed(admin, group, topic) == {0: RECORDS // 2, 1: RECORDS // 2},
              f"{committed(admin, group, topic)}")

        # Reset (as kafka-consumer-groups --reset-offsets --to-offset 3).
        result(admin.alter_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 3)])]))
        check("reset to an offset", committed(admin, group, topic).get(0) == 3,
              f"{committed(admin, group, topic)}")

        # A restarted member starts where the reset put it.
        consumer = member(args, group, topic)
        first, deadline = {}, time.monotonic() + 30
        while len(first) < 2 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                first.setdefault(msg.partition(), msg.offset())
        consumer.close()
        check("consumption resumes at the reset offset", first.get(0) == 3, f"{first}")

        outcome = delete_offsets(deleter, group, topic, 1)
        check("delete one partition's offset", outcome is kafka.errors.NoError, f"{outcome}")
        left = committed(admin, group, topic)
        check("only that offset is gone", left.get(1, -1001) < 0 and left.get(0) == 3, f"{left}")

        result(admin.delete_consumer_groups([group]))
        listed = result(admin.list_consumer_groups()).valid
        check("delete the group", group not in {g.group_id for g in listed},
              f"{[g.group_id for g in listed]}")
    except Failed as e:
        print(f"FAILED {e}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
