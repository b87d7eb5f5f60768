#!/usr/bin/env python3
"""The testkit/kafka scenario with aiokafka (asyncio): create the topic,
produce --count keyed records with headers (idempotent, acks=all; its default
partitioner is murmur2), consume them back, print a JSON summary line.
Run with target/py-venv/kafka/bin/python."""

import asyncio
import sys
import time

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

import scenario_common as sc

CLIENT = "aiokafka"


async def create_topic(args):
    admin = AIOKafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=int(args.timeout * 1000))
    await admin.start()
    try:
        try:
            await admin.create_topics([NewTopic(args.topic, args.partitions, 1)])
        except TopicAlreadyExistsError:
            pass
        deadline = time.monotonic() + args.timeout
        while True:
            md = (await admin.describe_topics([args.topic]))[0]
            parts = md.get("partitions") or []
            if md.get("error_code") == 0 and parts and all(p["leader"] >= 0 for p in parts):
                return len(parts)
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {args.topic} has no leaders after {args.timeout}s")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def produce(args):
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=5)
    await producer.start()
    futures = []
    try:
        for i in range(args.count):
            headers = [(k, v.encode()) for k, v in sc.headers_of(args.run, i)]
            futures.append((i, await producer.send(args.topic, key=sc.key_of(i).encode(),
                                                   value=sc.value_of(args.run, i).encode(),
                                                   headers=headers)))
        await producer.flush()
        produced, errors = {}, 0
        for i, f in futures:
            try:
                md = await asyncio.wait_for(f, args.timeout)
                produced[i] = (md.partition, md.offset)
            except Exception as e:
                errors += 1
                if errors <= 5:
                    sc.log("produce error:", e)
    finally:
        await producer.stop()
    return produced, errors


def group_of(args):
    """A group only when the run consumes as one: an assigning consumer
    without a group needs no coordinator, as with the other clients."""
    return f"scenario-{args.run}" if args.consume == "group" else None


async def consume(args, partitions):
    consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, group_id=group_of(args),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    consumed, mine = [], 0
    try:
        if args.consume == "group":
            consumer.subscribe([args.topic])
        else:
            tps = [TopicPartition(args.topic, p) for p in range(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + args.timeout
        while mine < args.count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for r in records:
                    headers = list(r.headers or [])
                    if sc.run_of(headers) != args.run:
                        continue
                    mine += 1
                    consumed.append((tp.partition, r.offset, r.key, r.value, headers))
        if args.consume == "group" and consumed:
            await consumer.commit()
    finally:
        await consumer.stop()
    return consumed


async def run(args):
    clock = sc.Clock()
    topic_partitions, produced, errors, consumed, error = 0, {}, 0, [], None
    produce_ms = consume_ms = 0.0
    try:
        topic_partitions = await create_topic(args)
        clock.ms()
        produced, errors = await produce(args)
        produce_ms = clock.ms()
        consumed = await consume(args, topic_partitions)
        consume_ms = clock.ms()
    except Exception as e:  # the summary says what failed
        error = f"{type(e).__name__}: {e}"
    return sc.summarize(CLIENT, aiokafka.__version__, args, topic_partitions, produced, errors,
                        consumed, produce_ms, consume_ms, error=error)


def main():
    args = sc.parse_args(CLIENT)
    return sc.emit(asyncio.run(run(args)))


if __name__ == "__main__":
    sys.exit(main())
