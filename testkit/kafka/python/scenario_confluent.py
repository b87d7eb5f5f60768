#!/usr/bin/env python3
"""The testkit/kafka scenario with confluent-kafka (librdkafka): create the
topic, produce --count keyed records with headers (idempotent, acks=all,
murmur2 partitioner like the Java client), consume them back, print a JSON
summary line. Run with target/py-venv/kafka/bin/python."""

import argparse
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import scenario_common as sc

CLIENT = "confluent-kafka"


def create_topic(args):
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    futures = admin.create_topics([NewTopic(args.topic, args.partitions, 1)], operation_timeout=args.timeout)
    for f in futures.values():
        try:
            f.result(timeout=args.timeout)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    deadline = time.monotonic() + args.timeout
    while True:
        md = admin.list_topics(args.topic, timeout=args.timeout).topics.get(args.topic)
        if md is not None and md.error is None and md.partitions and \
                all(p.leader >= 0 for p in md.partitions.values()):
            return len(md.partitions)
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {args.topic} has no leaders after {args.timeout}s")
        time.sleep(0.2)


def parse_args():
    """The shared command line, plus the codec the producer compresses with
    (the other clients send uncompressed batches)."""
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--compression", choices=["none", "gzip", "snappy", "lz4", "zstd"], default="none")
    known, rest = extra.parse_known_args()
    args = sc.parse_args(CLIENT, rest)
    args.compression = known.compression
    return args


def produce(args):
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "compression.type": args.compression,
    })
    produced, errors = {}, []

    def report(i):
        def cb(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                produced[i] = (msg.partition(), msg.offset())
        return cb

    for i in range(args.count):
        while True:
            try:
                producer.produce(args.topic, key=sc.key_of(i), value=sc.value_of(args.run, i),
                                 headers=sc.headers_of(args.run, i), on_delivery=report(i))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(args.timeout)
    if left:
        errors.append(f"{left} records undelivered after {args.timeout}s")
    for e in errors[:5]:
        sc.log("produce error:", e)
    return produced, len(errors)


def consume(args, partitions):
    conf = {
        "bootstrap.servers": args.bootstrap,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "group.id": f"scenario-{args.run}",
    }
    consumer = Consumer(conf)
    if args.consume == "group":
        consumer.subscribe([args.topic])
    else:
        consumer.assign([TopicPartition(args.topic, p, confluent_kafka.OFFSET_BEGINNING)
                         for p in range(partitions)])
    consumed, mine = [], 0
    deadline = time.monotonic() + args.timeout
    try:
        while mine < args.count and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is not None:
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        sc.log("consume error:", msg.error())
                    continue
                headers = msg.headers() or []
                if sc.run_of(headers) != args.run:
                    continue
                mine += 1
                consumed.append((msg.partition(), msg.offset(), msg.key(), msg.value(), headers))
        if args.consume == "group" and consumed:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return consumed


def main():
    args = parse_args()
    version = f"{confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]})"
    clock = sc.Clock()
    topic_partitions, produced, errors, consumed, error = 0, {}, 0, [], None
    produce_ms = consume_ms = 0.0
    try:
        topic_partitions = create_topic(args)
        clock.ms()
        produced, errors = produce(args)
        produce_ms = clock.ms()
        consumed = consume(args, topic_partitions)
        consume_ms = clock.ms()
    except Exception as e:  # the summary says what failed
        error = f"{type(e).__name__}: {e}"
    summary = sc.summarize(CLIENT, version, args, topic_partitions, produced, errors,
                           consumed, produce_ms, consume_ms, error=error)
    summary["compression"] = args.compression
    return sc.emit(summary)


if __name__ == "__main__":
    sys.exit(main())
