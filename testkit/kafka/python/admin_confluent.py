#!/usr/bin/env python3
"""Topic administration with confluent-kafka's AdminClient (librdkafka):
CreatePartitions, IncrementalAlterConfigs, DeleteRecords and ListOffsets by
max timestamp, each answer checked, and what the change does to producers
and consumers checked too. Prints "ok <check>" per check; the first failed
check prints "FAILED <check>: <why>" and exits 1. Run with
target/py-venv/kafka/bin/python.

--broker kafka runs only what Apache Kafka answers the same way (the
reference broker, scripts/apache-kafka); --broker stratus (the default) adds
Stratus's own limits. --retention also checks that a shortened retention.ms
is applied by the compactor (give the broker a short compactor interval)."""

import argparse
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ConfigSource, NewPartitions, NewTopic, OffsetSpec, ResourceType)

import scenario_common as sc


class Failed(Exception):
    pass


def check(name, condition, why=""):
    if not condition:
        raise Failed(f"{name}: {why}")
    print(f"ok {name}", flush=True)


class Admin:
    def __init__(self, args):
        self.args = args
        self.client = AdminClient({"bootstrap.servers": args.bootstrap})

    def result(self, futures):
        """The one future's result, or the KafkaError it failed with."""
        (future,) = futures.values()
        try:
            return future.result(timeout=self.args.timeout), None
        except KafkaException as e:
            return None, e.args[0]

    def partitions(self, topic):
        md = self.client.list_topics(topic, timeout=self.args.timeout).topics.get(topic)
        if md is None or md.error is not None:
            return 0
        return len(md.partitions)

    def wait_partitions(self, topic, count):
        deadline = time.monotonic() + self.args.timeout
        while self.partitions(topic) != count:
            if time.monotonic() > deadline:
                raise Failed(f"{topic} never showed {count} partitions")
            time.sleep(0.2)

    def create_topic(self, topic, partitions):
        _, err = self.result(self.client.create_topics([NewTopic(topic, partitions, 1)]))
        if err is not None:
            raise Failed(f"create {topic}: {err}")
        self.wait_partitions(topic, partitions)

    def grow(self, topic, count, validate_only=False):
        return self.result(self.client.create_partitions(
            [NewPartitions(topic, count)], validate_only=validate_only,
            request_timeout=self.args.timeout))

    def alter(self, restype, name, entries, validate_only=False):
        resource = ConfigResource(restype, name, incremental_configs=[
            ConfigEntry(k, v, incremental_operation=op) for k, v, op in entries])
        return self.result(self.client.incremental_alter_configs(
            [resource], validate_only=validate_only, request_timeout=self.args.timeout))

    def config(self, topic, name):
        resource = ConfigResource(ResourceType.TOPIC, topic)
        configs, err = self.result(self.client.describe_configs(
            [resource], request_timeout=self.args.timeout))
        if err is not None:
            raise Failed(f"describe {topic}: {err}")
        return configs[name]

    def offset(self, topic, partition, spec):
        result, err = self.result(self.client.list_offsets(
            {TopicPartition(topic, partition): spec}, request_timeout=self.args.timeout))
        if err is not None:
            raise Failed(f"list offsets {topic}/{partition}: {err}")
        return result.offset, result.timestamp

    def delete_records(self, topic, partition, offset):
        return self.result(self.client.delete_records(
            [TopicPartition(topic, partition, offset)], request_timeout=self.args.timeout))


def produce(args, topic, records, config=None):
    """Produces (partition, key, value, timestamp) records one flush each;
    returns [(partition, offset) or KafkaError] in order."""
    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all", "linger.ms": 0,
                         "partitioner": "murmur2_random", **(config or {})})
    outcomes = [None] * len(records)

    def report(i):
        def cb(err, msg):
            outcomes[i] = err if err is not None else (msg.partition(), msg.offset())
        return cb

    for i, (partition, key, value, timestamp) in enumerate(records):
        kwargs = {"key": key, "value": value, "on_delivery": report(i)}
        if partition is not None:
            kwargs["partition"] = partition
        if timestamp is not None:
            kwargs["timestamp"] = timestamp
        producer.produce(topic, **kwargs)
        producer.flush(args.timeout)
    return outcomes


def consume_offsets(args, topic, partition, count):
    """The offsets of the first `count` records of a partition from its beginning."""
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": f"admin-{topic}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, partition, confluent_kafka.OFFSET_BEGINNING)])
    offsets, deadline = [], time.monotonic() + args.timeout
    try:
        while len(offsets) < count and time.monotonic() < deadline:
            for msg in consumer.consume(count, 0.5):
                if msg.error() is None:
                    offsets.append(msg.offset())
    finally:
        consumer.close()
    return offsets


def code_of(err):
    return None if err is None else err.code()


def source_of(entry):
    """A described config's source, as the enum's value (the C layer may give an int)."""
    return getattr(entry.source, "value", entry.source)


def partitions_check(args, admin, topic):
    check("grow validate_only", admin.grow(topic, 4, validate_only=True)[1] is None)
    check("validate_only adds nothing", admin.partitions(topic) == 2)
    _, err = admin.grow(topic, 4)
    check("grow to 4", err is None, err)
    admin.wait_partitions(topic, 4)
    _, err = admin.grow(topic, 3)
    check("fewer partitions refused", code_of(err) == KafkaError.INVALID_PARTITIONS and
          "would not be an increase" in err.str(), err)
    _, err = admin.grow(topic, 4)
    check("the same count refused", code_of(err) == KafkaError.INVALID_PARTITIONS and
          "already has 4 partition(s)" in err.str(), err)
    # A new producer partitions keys over the new count, and the new
    # partitions take records and serve them back.
    keys = [f"key-{i}" for i in range(40)]
    outcomes = produce(args, topic, [(None, k.encode(), b"v", None) for k in keys])
    check("keyed records delivered", all(isinstance(o, tuple) for o in outcomes), outcomes)
    placed = [p for p, _ in outcomes]
    check("keys hash over 4 partitions",
          placed == [sc.murmur2_partition(k, 4) for k in keys] and max(placed) >= 2, placed)
    on_three = sum(1 for p in placed if p == 3)
    check("a new partition reads back", consume_offsets(args, topic, 3, on_three) ==
          list(range(on_three)))


def configs_check(args, admin, topic):
    SET, DELETE, APPEND = AlterConfigOpType.SET, AlterConfigOpType.DELETE, AlterConfigOpType.APPEND
    TOPIC, BROKER = ResourceType.TOPIC, ResourceType.BROKER
    _, err = admin.alter(TOPIC, topic, [("retention.ms", "3600000", SET),
                                        ("max.message.bytes", "2000", SET)])
    check("set retention.ms and max.message.bytes", err is None, err)
    retention = admin.config(topic, "retention.ms")
    check("retention.ms described", retention.value == "3600000" and
          source_of(retention) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and
          not retention.is_read_only, retention)
    _, err = admin.alter(TOPIC, topic, [("retention.bytes", "1048576", SET)], validate_only=True)
    check("set validate_only", err is None, err)
    check("validate_only changes nothing", admin.config(topic, "retention.bytes").value == "-1")
    (too_large,) = produce(args, topic, [(0, None, b"x" * 5000, None)])
    check("max.message.bytes applies", code_of(too_large) == KafkaError.MSG_SIZE_TOO_LARGE,
          too_large)
    _, err = admin.alter(TOPIC, topic, [("max.message.bytes", None, DELETE)])
    check("delete max.message.bytes", err is None, err)
    check("back to its default",
          source_of(admin.config(topic, "max.message.bytes")) == ConfigSource.DEFAULT_CONFIG.value)
    (fits,) = produce(args, topic, [(0, None, b"x" * 5000, None)])
    check("the default applies again", isinstance(fits, tuple), fits)
    _, err = admin.alter(TOPIC, topic, [("retention.ms", "1", APPEND)])
    check("append to a non-list refused", code_of(err) == KafkaError.INVALID_CONFIG, err)
    _, err = admin.alter(TOPIC, topic, [("no.such.config", "1", SET)])
    check("unknown config refused", code_of(err) == KafkaError.INVALID_CONFIG, err)
    _, err = admin.alter(TOPIC, topic, [("retention.ms", "soon", SET)])
    check("bad value refused", code_of(err) == KafkaError.INVALID_CONFIG, err)
    check("refusals change nothing", admin.config(topic, "retention.ms").value == "3600000")
    if args.broker == "stratus":
        _, err = admin.alter(TOPIC, topic, [("min.insync.replicas", "2", SET)])
        check("unimplemented config refused by name", code_of(err) == KafkaError.INVALID_CONFIG
              and "min.insync.replicas" in err.str(), err)
        _, err = admin.alter(TOPIC, topic, [("retention.ms", "0", SET)])
        check("out of range refused by the create path's check",
              code_of(err) == KafkaError.INVALID_CONFIG and "retention.ms" in err.str(), err)
        _, err = admin.alter(TOPIC, topic, [("cleanup.policy", "compact", APPEND)])
        check("delete,compact refused", code_of(err) == KafkaError.INVALID_CONFIG, err)
        broker = str(next(iter(admin.client.list_topics(timeout=args.timeout).brokers)))
        _, err = admin.alter(BROKER, broker, [("log.retention.ms", "1000", SET)])
        check("broker configs refused", code_of(err) == KafkaError.INVALID_CONFIG and
              "config file" in err.str(), err)


def records_check(args, admin, topic):
    base = int(time.time() * 1000) - 60_000
    # Offsets 0..7; the largest timestamp twice, first at offset 3.
    stamps = [0, 1, 2, 1000, 3, 4, 1000, 5]
    outcomes = produce(args, topic, [(1, None, f"r{i}".encode(), base + s)
                                     for i, s in enumerate(stamps)])
    check("timestamped records delivered", [o[1] for o in outcomes] == list(range(8)), outcomes)
    check("max timestamp", admin.offset(topic, 1, OffsetSpec.max_timestamp()) == (3, base + 1000))
    check("max timestamp of an empty partition",
          admin.offset(topic, 0, OffsetSpec.max_timestamp())[0] == -1)
    low, err = admin.delete_records(topic, 1, 4)
    check("delete records before 4", err is None and low.low_watermark == 4, err or low)
    check("earliest follows", admin.offset(topic, 1, OffsetSpec.earliest())[0] == 4)
    check("records below are gone", consume_offsets(args, topic, 1, 4) == [4, 5, 6, 7])
    # Stratus answers among the readable records; Kafka from whole segments,
    # so it still names the deleted record at 3.
    check("max timestamp among what is left",
          admin.offset(topic, 1, OffsetSpec.max_timestamp()) ==
          ((6 if args.broker == "stratus" else 3), base + 1000))
    low, err = admin.delete_records(topic, 1, 2)
    check("never backwards", err is None and low.low_watermark == 4, err or low)
    _, err = admin.delete_records(topic, 1, 100)
    check("past the high watermark refused", code_of(err) == KafkaError.OFFSET_OUT_OF_RANGE, err)
    low, err = admin.delete_records(topic, 1, confluent_kafka.OFFSET_END)
    check("delete everything written", err is None and low.low_watermark == 8, err or low)
    check("earliest is the end", admin.offset(topic, 1, OffsetSpec.earliest())[0] == 8)
    if args.broker == "stratus":
        check("no readable record, no max timestamp",
              admin.offset(topic, 1, OffsetSpec.max_timestamp())[0] == -1)


def retention_check(args, admin, topic):
    admin.create_topic(topic, 1)
    aged = int(time.time() * 1000) - 2 * 24 * 3600 * 1000
    produce(args, topic, [(0, None, f"old{i}".encode(), aged) for i in range(5)])
    time.sleep(3)
    check("kept under the default retention", admin.offset(topic, 0, OffsetSpec.earliest())[0] == 0)
    _, err = admin.alter(ResourceType.TOPIC, topic,
                         [("retention.ms", str(24 * 3600 * 1000), AlterConfigOpType.SET)])
    check("shorten retention.ms", err is None, err)
    deadline = time.monotonic() + args.timeout
    while admin.offset(topic, 0, OffsetSpec.earliest())[0] != 5:
        if time.monotonic() > deadline:
            raise Failed(f"retention never removed the records of {topic}")
        time.sleep(0.5)
    check("the compactor applies the new retention", True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", default=f"admin-{int(time.time())}")
    p.add_argument("--broker", choices=["stratus", "kafka"], default="stratus")
    p.add_argument("--retention", action="store_true")
    p.add_argument("--timeout", type=float, default=30)
    args = p.parse_args()
    admin = Admin(args)
    try:
        admin.create_topic(args.topic, 2)
        records_check(args, admin, args.topic)
        partitions_check(args, admin, args.topic)
        configs_check(args, admin, args.topic)
        if args.retention:
            retention_check(args, admin, f"{args.topic}-aged")
    except Failed as e:
        print(f"FAILED {e}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
