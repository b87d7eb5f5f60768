#!/usr/bin/env python3
"""The testkit/kafka scenario with kafka-python (pure Python): create the
topic, produce --count keyed records with headers (idempotent, acks=all; its
default partitioner is murmur2), consume them back, print a JSON summary line.
Run with target/py-venv/kafka/bin/python."""

import sys
import time

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

import scenario_common as sc

CLIENT = "kafka-python"


def ms(args):
    return int(args.timeout * 1000)


def create_topic(args):
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=ms(args),
                             bootstrap_timeout_ms=ms(args))
    try:
        admin.create_topics([NewTopic(args.topic, args.partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()
    probe = KafkaConsumer(bootstrap_servers=args.bootstrap, bootstrap_timeout_ms=ms(args))
    try:
        deadline = time.monotonic() + args.timeout
        while True:
            parts = probe.partitions_for_topic(args.topic)
            if parts:
                return len(parts)
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {args.topic} not in metadata after {args.timeout}s")
            time.sleep(0.2)
    finally:
        probe.close()


def produce(args):
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", enable_idempotence=True,
                             linger_ms=5, bootstrap_timeout_ms=ms(args))
    futures = []
    for i in range(args.count):
        headers = [(k, v.encode()) for k, v in sc.headers_of(args.run, i)]
        futures.append((i, producer.send(args.topic, key=sc.key_of(i).encode(),
                                         value=sc.value_of(args.run, i).encode(), headers=headers)))
    producer.flush(timeout=args.timeout)
    produced, errors = {}, 0
    for i, f in futures:
        try:
            md = f.get(timeout=args.timeout)
            produced[i] = (md.partition, md.offset)
        except Exception as e:
            errors += 1
            if errors <= 5:
                sc.log("produce error:", e)
    producer.close()
    return produced, errors


def group_of(args):
    """A group only when the run consumes as one: an assigning consumer
    without a group needs no coordinator, as with the other clients."""
    return f"scenario-{args.run}" if args.consume == "group" else None


def consume(args, partitions):
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, group_id=group_of(args),
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             bootstrap_timeout_ms=ms(args))
    if args.consume == "group":
        consumer.subscribe([args.topic])
    else:
        tps = [TopicPartition(args.topic, p) for p in range(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
    consumed, mine = [], 0
    deadline = time.monotonic() + args.timeout
    try:
        while mine < args.count and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    headers = list(r.headers or [])
                    if sc.run_of(headers) != args.run:
                        continue
                    mine += 1
                    consumed.append((tp.partition, r.offset, r.key, r.value, headers))
        if args.consume == "group" and consumed:
            consumer.commit()
    finally:
        consumer.close()
    return consumed


def main():
    args = sc.parse_args(CLIENT)
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
    return sc.emit(sc.summarize(CLIENT, kafka.__version__, args, topic_partitions, produced, errors,
                                consumed, produce_ms, consume_ms, error=error))


if __name__ == "__main__":
    sys.exit(main())
