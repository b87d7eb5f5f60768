#!/usr/bin/env python3
"""One fixed sequence of Kafka client operations, run with confluent-kafka
(librdkafka) against one broker, printing what the client observed as one
JSON object: step name -> outcome. Outcomes hold only what a client sees and
two conforming brokers must agree on (error names, offsets, record contents,
config values), never topic names, ids or times, so the outcomes of two
brokers compare with ==. compare.py runs it against Apache Kafka and
Stratus and compares.

  target/py-venv/kafka/bin/python testkit/kafka/diff/scenario.py --bootstrap HOST:PORT

The broker must have auto topic creation off (Stratus's default; Apache
Kafka started with auto.create.topics.enable=false)."""

import argparse
import json
import os
import sys
import time

import raw_groups
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ConfigSource, NewPartitions, NewTopic, OffsetSpec, ResourceType)

TIMEOUT = 20.0
BASE_TS = 1_700_000_000_000
# Topic settings whose values and sources are compared.
# (max.message.bytes's default has a step of its own.)
CONFIGS = ["retention.ms", "retention.bytes", "cleanup.policy", "max.message.bytes"]


def error_name(e):
    """The Kafka error a client call failed with, by name."""
    if isinstance(e, KafkaException) and e.args and isinstance(e.args[0], KafkaError):
        return e.args[0].name()
    if isinstance(e, KafkaError):
        return e.name()
    return f"{type(e).__name__}"


def timestamp_of(message):
    """A timestamp the scenario set, as it was read; "now" for one the
    producer stamped (its value differs from run to run)."""
    ts = message.timestamp()[1]
    return ts if BASE_TS <= ts < BASE_TS + 1_000_000 else "now"


def outcome(future):
    try:
        future.result(timeout=TIMEOUT)
        return "ok"
    except Exception as e:  # the error is the observation
        return error_name(e)


class Scenario:
    def __init__(self, bootstrap, run):
        self.bootstrap = bootstrap
        self.run = run
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.observed = {}

    def topic(self, name):
        return f"diff-{self.run}-{name}"

    def step(self, name, fn):
        try:
            self.observed[name] = fn()
        except Exception as e:  # a step that cannot finish is an outcome too
            self.observed[name] = {"failed": error_name(e), "detail": str(e)[:200]}

    # ---- admin ------------------------------------------------------------

    def create(self, name, partitions, config=None, validate_only=False):
        t = NewTopic(self.topic(name), partitions, 1, config=config or {})
        f = self.admin.create_topics([t], operation_timeout=TIMEOUT, validate_only=validate_only)
        return outcome(f[self.topic(name)])

    def partitions_of(self, name):
        deadline = time.monotonic() + TIMEOUT
        while True:
            md = self.admin.list_topics(self.topic(name), timeout=TIMEOUT).topics.get(self.topic(name))
            if md is not None and md.error is not None:
                return md.error.name()
            if md is not None and md.partitions and all(p.leader >= 0 for p in md.partitions.values()):
                return len(md.partitions)
            if time.monotonic() > deadline:
                return "no leaders"
            time.sleep(0.2)

    def settled(self, read, done):
        """What `read()` returns once `done` holds of it, or its last answer
        after the timeout. Apache Kafka applies a topic change to the
        metadata its brokers answer from a moment after acknowledging it (a
        new topic's configs, more partitions, an altered config); Stratus at
        once. A client that reads back must allow for the slower one."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                got = read()
                if done(got) or time.monotonic() > deadline:
                    return got
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def wait_for_end(self, name, partition, end):
        """Waits until the partition's latest offset reaches `end` (or the
        timeout passes: the steps after it then show the difference)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                if self.list_offset(name, partition, OffsetSpec.latest()) >= end:
                    return
            except Exception:  # not yet listable: try again
                pass
            time.sleep(0.1)

    def describe(self, name):
        res = ConfigResource(ResourceType.TOPIC, self.topic(name))
        entries = self.admin.describe_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)
        return {k: {"value": "default" if k == "max.message.bytes" and entries[k].is_default else entries[k].value, "source": ConfigSource(entries[k].source).name,
                    "default": entries[k].is_default} for k in CONFIGS if k in entries} | \
            {"missing": [k for k in CONFIGS if k not in entries]}

    def alter(self, name, key, value, op=AlterConfigOpType.SET):
        res = ConfigResource(ResourceType.TOPIC, self.topic(name),
                             incremental_configs=[ConfigEntry(key, value, incremental_operation=op)])
        return outcome(self.admin.incremental_alter_configs([res], request_timeout=TIMEOUT)[res])

    def list_offset(self, name, partition, spec):
        tp = TopicPartition(self.topic(name), partition)
        r = self.admin.list_offsets({tp: spec}, request_timeout=TIMEOUT)[tp].result(timeout=TIMEOUT)
        return r.offset

    # ---- produce ----------------------------------------------------------

    def produce(self, name, partition, values, settings=None, timestamps=None, key=b"k"):
        """Delivery outcomes in send order: the offset, or the error name."""
        p = Producer({"bootstrap.servers": self.bootstrap, "message.timeout.ms": 10000,
                      **(settings or {})})
        got = [None] * len(values)

        def report(i):
            def cb(err, msg):
                got[i] = err.name() if err is not None else msg.offset()
            return cb

        for i, v in enumerate(values):
            kw = {"timestamp": timestamps[i]} if timestamps else {}
            p.produce(self.topic(name), value=v, key=key, partition=partition,
                      headers=[("i", str(i).encode())], on_delivery=report(i), **kw)
        left = p.flush(TIMEOUT)
        return got if left == 0 else {"undelivered": left, "got": got}

    # ---- fetch ------------------------------------------------------------

    def consumer(self, **settings):
        return Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"diff-{self.run}",
                         "enable.auto.commit": False, "enable.partition.eof": True,
                         "auto.offset.reset": "error", **settings})

    def fetch(self, name, partition, offset, limit=1000):
        """Records read from `offset` to the end (offset, key, value, headers,
        timestamp), or the error that ended the read."""
        c = self.consumer()
        c.assign([TopicPartition(self.topic(name), partition, offset)])
        out = []
        deadline = time.monotonic() + TIMEOUT
        try:
            while time.monotonic() < deadline and len(out) < limit:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error() is not None:
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        return {"records": out, "end": m.offset()}
                    return {"records": out, "error": m.error().name()}
                out.append([m.offset(), m.key().decode(), m.value().decode(),
                            [[k, v.decode()] for k, v in (m.headers() or [])], timestamp_of(m)])
            return {"records": out, "error": "timed out"}
        finally:
            c.close()

    def offsets_for_times(self, name, partition, ts):
        c = self.consumer()
        try:
            r = c.offsets_for_times([TopicPartition(self.topic(name), partition, ts)], timeout=TIMEOUT)
            return r[0].offset if r[0].error is None else r[0].error.name()
        finally:
            c.close()


def run(s):
    # Topics.
    s.step("create", lambda: [s.create("main", 3), s.partitions_of("main")])
    s.step("create_existing", lambda: s.create("main", 3))
    s.step("create_invalid_name", lambda: outcome(s.admin.create_topics(
        [NewTopic("bad/name", 1, 1)], operation_timeout=TIMEOUT)["bad/name"]))
    s.step("create_zero_partitions", lambda: s.create("zero", 0))
    s.step("create_validate_only", lambda: [s.create("dry", 2, validate_only=True),
                                            s.topic("dry") in s.admin.list_topics(timeout=TIMEOUT).topics])
    s.step("metadata_unknown_topic", lambda: s.partitions_of("missing"))

    # Produce with each acks setting, then read back. acks=0 goes second:
    # Apache Kafka drops (unanswered, so unreported) an acks=0 produce that
    # reaches a partition it has listed but not yet opened, as on a topic
    # just created. Nothing orders that unanswered produce before the next
    # producer's, which comes over another connection: wait until its
    # records are in the log.
    for n, acks in enumerate(["1", "0", "all"]):
        values = [f"acks{acks}-{i}".encode() for i in range(10)]
        s.step(f"produce_acks_{acks}", lambda v=values, a=acks: s.produce("main", 0, v, {"acks": a}))
        s.wait_for_end("main", 0, 10 * (n + 1))
    s.step("produce_idempotent", lambda: s.produce(
        "main", 0, [f"idem-{i}".encode() for i in range(10)], {"enable.idempotence": True}))
    s.step("list_earliest_latest", lambda: [s.list_offset("main", 0, OffsetSpec.earliest()),
                                            s.list_offset("main", 0, OffsetSpec.latest())])
    s.step("fetch_all", lambda: s.fetch("main", 0, 0))
    s.step("fetch_at_end", lambda: s.fetch("main", 0, 40))
    s.step("fetch_past_end", lambda: s.fetch("main", 0, 50))

    # One batch of ten records, read from its middle.
    s.step("produce_one_batch", lambda: s.produce(
        "main", 1, [f"batch-{i}".encode() for i in range(10)], {"linger.ms": 200}))
    s.step("fetch_inside_batch", lambda: s.fetch("main", 1, 5))

    # Timestamps.
    stamps = [BASE_TS + 1000, BASE_TS + 3000, BASE_TS + 2000]
    s.step("produce_timestamped", lambda: s.produce(
        "main", 2, [b"t1", b"t3", b"t2"], timestamps=stamps))
    s.step("offsets_for_times", lambda: [s.offsets_for_times("main", 2, BASE_TS),
                                         s.offsets_for_times("main", 2, BASE_TS + 2500),
                                         s.offsets_for_times("main", 2, BASE_TS + 9000)])
    s.step("list_offsets_by_timestamp", lambda: s.list_offset(
        "main", 2, OffsetSpec.for_timestamp(BASE_TS + 1500)))
    s.step("list_offsets_max_timestamp", lambda: s.list_offset("main", 2, OffsetSpec.max_timestamp()))

    # Configs.
    s.step("describe_defaults", lambda: s.describe("main"))
    s.step("default_max_message_bytes", lambda: s.admin.describe_configs(
        [ConfigResource(ResourceType.TOPIC, s.topic("main"))], request_timeout=TIMEOUT
    )[ConfigResource(ResourceType.TOPIC, s.topic("main"))].result(timeout=TIMEOUT)["max.message.bytes"].value)
    def retention_is(name, value):
        return lambda: s.settled(lambda: s.describe(name),
                                 lambda d: d.get("retention.ms", {}).get("value") == value)
    s.step("create_with_config", lambda: [s.create("configured", 1, {"retention.ms": "3600000"}),
                                          retention_is("configured", "3600000")()])
    s.step("alter_config", lambda: [s.alter("main", "retention.ms", "7200000"),
                                    retention_is("main", "7200000")()])
    s.step("alter_unknown_config", lambda: s.alter("main", "no.such.config", "1"))
    s.step("alter_delete_config", lambda: [s.alter("main", "retention.ms", None, AlterConfigOpType.DELETE),
                                           s.settled(lambda: s.describe("main")["retention.ms"],
                                                     lambda r: r["default"])])

    # Partitions.
    s.step("create_partitions", lambda: [outcome(s.admin.create_partitions(
        [NewPartitions(s.topic("main"), 5)], operation_timeout=TIMEOUT)[s.topic("main")]),
        s.settled(lambda: s.partitions_of("main"), lambda n: n == 5)])
    s.step("create_partitions_fewer", lambda: outcome(s.admin.create_partitions(
        [NewPartitions(s.topic("main"), 2)], operation_timeout=TIMEOUT)[s.topic("main")]))

    # A batch larger than the topic's max.message.bytes.
    s.step("oversized_batch", lambda: [
        s.create("small", 1, {"max.message.bytes": "2000"}),
        s.settled(lambda: s.describe("small")["max.message.bytes"]["value"], lambda v: v == "2000"),
        s.produce("small", 0, [b"x" * 5000])])

    # Deleting records moves the log start; below it is out of range.
    def delete_records():
        tp = TopicPartition(s.topic("main"), 0, 10)
        r = s.admin.delete_records([tp], request_timeout=TIMEOUT)
        low = list(r.values())[0].result(timeout=TIMEOUT).low_watermark
        return [low, s.list_offset("main", 0, OffsetSpec.earliest()), s.fetch("main", 0, 5)]
    s.step("delete_records", delete_records)

    # Deletion.
    s.step("delete_topic", lambda: outcome(s.admin.delete_topics(
        [s.topic("configured")], operation_timeout=TIMEOUT)[s.topic("configured")]))
    s.step("delete_missing_topic", lambda: outcome(s.admin.delete_topics(
        [s.topic("configured")], operation_timeout=TIMEOUT)[s.topic("configured")]))
    s.step("produce_unknown_topic", lambda: s.produce("never", 0, [b"x"], {"message.timeout.ms": 3000}))


    # Consumer groups (the classic protocol).
    def subscriber(group, assignor):
        c = s.consumer(**{"group.id": group, "partition.assignment.strategy": assignor,
                          "auto.offset.reset": "earliest", "enable.partition.eof": False,
                          "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
        c.subscribe([s.topic("main")])
        deadline = time.monotonic() + TIMEOUT
        while not c.assignment() and time.monotonic() < deadline:
            c.poll(0.2)
        return c

    def join_errors(c, seconds):
        """Errors the consumer reports while polling for `seconds`."""
        seen = set()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and m.error() is not None:
                seen.add(m.error().name())
        return sorted(seen)

    group = f"diff-{s.run}-group"
    members = []

    def simple_commit():
        c = s.consumer(**{"group.id": f"{group}-simple"})
        try:
            c.commit(offsets=[TopicPartition(s.topic("main"), 0, 5, "meta\u00e9")], asynchronous=False)
            got = c.committed([TopicPartition(s.topic("main"), 0), TopicPartition(s.topic("main"), 1)],
                              timeout=TIMEOUT)
            return [[t.offset, t.metadata] for t in got]
        finally:
            c.close()
    s.step("group_commit_without_members", simple_commit)

    def join():
        members.append(subscriber(group, "range"))
        return len(members[0].assignment())
    s.step("group_join", join)

    def describe_group():
        (f,) = s.admin.describe_consumer_groups([group]).values()
        d = f.result(timeout=TIMEOUT)
        return [d.state.name, d.partition_assignor, d.is_simple_consumer_group,
                [len(m.assignment.topic_partitions) for m in d.members]]
    s.step("group_describe", lambda: s.settled(describe_group, lambda d: d[0] == "STABLE"))

    def mismatched():
        c = s.consumer(**{"group.id": group, "partition.assignment.strategy": "roundrobin"})
        c.subscribe([s.topic("main")])
        try:
            return join_errors(c, 5)
        finally:
            c.close()
    s.step("group_join_mismatched_protocol", mismatched)

    def commit_to_active_group():
        c = s.consumer(**{"group.id": group})
        try:
            c.commit(offsets=[TopicPartition(s.topic("main"), 0, 1)], asynchronous=False)
            return "ok"
        except KafkaException as e:
            return error_name(e)
        finally:
            c.close()
    s.step("group_commit_without_member_to_active_group", commit_to_active_group)

    s.step("group_delete_non_empty", lambda: outcome(
        s.admin.delete_consumer_groups([group], request_timeout=TIMEOUT)[group]))

    def leave_and_delete():
        for c in members:
            c.close()
        return outcome(s.admin.delete_consumer_groups([group], request_timeout=TIMEOUT)[group])
    s.step("group_delete_after_leave", leave_and_delete)
    s.step("group_delete_missing", lambda: outcome(
        s.admin.delete_consumer_groups([f"{group}-never"], request_timeout=TIMEOUT)[f"{group}-never"]))

    # The classic protocol's refusals, in raw frames (raw_groups.py).
    try:
        s.observed.update(raw_groups.observe(s.bootstrap, f"{group}-raw", s.topic("main")))
    except Exception as e:  # one outcome for the lot: the difference shows where
        s.observed["raw_groups"] = {"failed": error_name(e), "detail": str(e)[:200]}

    # Transactions.
    def transactions():
        p = Producer({"bootstrap.servers": s.bootstrap, "transactional.id": f"diff-{s.run}"})
        p.init_transactions(10)
        return "ok"
    s.step("init_transactions", transactions)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--run", default=os.urandom(3).hex())
    a = p.parse_args()
    s = Scenario(a.bootstrap, a.run)
    run(s)
    print(json.dumps(s.observed, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
