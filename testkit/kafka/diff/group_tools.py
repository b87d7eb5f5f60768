#!/usr/bin/env python3
"""Kafka's own command-line tools against one broker: kafka-topics
(org.apache.kafka.tools.TopicCommand) creates a topic, confluent-kafka
produces ten records with fixed timestamps into each partition, and
kafka-consumer-groups (org.apache.kafka.tools.consumer.group.ConsumerGroupCommand)
lists, describes with lag, resets a group's offsets (to latest, earliest, an
offset, a shift, a datetime, past the end, a dry run on some partitions),
deletes one partition's offset and then the group, and is refused for a
group with a live member. Prints one JSON object: step name -> what the
tool reported, reduced to what two conforming brokers must agree on (the
offsets in its tables, its messages without hosts or member ids), so the
observations of Apache Kafka and Stratus compare with ==.

  target/py-venv/kafka/bin/python testkit/kafka/diff/group_tools.py --bootstrap H:P

The tools come from target/apache-kafka/lib (scripts/install-apache-kafka),
the client from scripts/install-kafka-clients."""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time

from confluent_kafka import Consumer, Producer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
LIB = os.path.join(ROOT, "target", "apache-kafka", "lib")
PARTITIONS = 3
PER_PARTITION = 10
# An hour ago, to the second: recent enough that no retention removes the
# records during the run, on either broker.
BASE_TS = (int(time.time()) - 3600) * 1000


def tool(main_class, *args):
    """Runs one of Kafka's tools; returns (exit status, stdout lines, stderr)."""
    r = subprocess.run(["java", "-cp", os.path.join(LIB, "*"),
                        "-Dlog4j2.configurationFile=" + os.path.join(HERE, "tools-log4j2.properties"),
                        main_class, *args], capture_output=True, text=True, timeout=120)
    lines = [l.rstrip() for l in r.stdout.splitlines() if l.strip()]
    return r.returncode, lines, r.stderr


def groups(bootstrap, *args):
    status, lines, err = tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                              "--bootstrap-server", bootstrap, *args)
    return status, lines, err


def table(lines, group, columns):
    """The rows of the tool's table for `group`, as {column: value} for `columns`."""
    header = next((l.split() for l in lines if l.split()[:1] == ["GROUP"]), None)
    if header is None:
        return []
    rows = []
    for l in lines:
        cells = l.split()
        if cells[:1] == [group] and len(cells) >= len(header) - 3:
            row = dict(zip(header, cells))
            rows.append([row.get(c) for c in columns])
    return sorted(rows)


def messages(lines, err):
    """What the tool said outside its tables, hosts and ids left out."""
    said = [l for l in lines if not re.match(r"^\S+\s+\S+\s+\d+\s", l) and not l.startswith("GROUP")]
    said += [l for l in err.splitlines() if l.startswith("Error")]
    return [re.sub(r"\d+\.\d+\.\d+\.\d+:\d+", "HOST", m) for m in said]


def observe(bootstrap, run):
    topic, group, busy = f"tools-{run}", f"tools-{run}-group", f"tools-{run}-busy"
    out = {}
    status, lines, err = tool("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", bootstrap,
                              "--create", "--topic", topic, "--partitions", str(PARTITIONS),
                              "--replication-factor", "1")
    out["topics_create"] = [status, [l.replace(topic, "T") for l in lines]]
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for partition in range(PARTITIONS):
        for i in range(PER_PARTITION):
            p.produce(topic, value=f"{partition}-{i}".encode(), partition=partition,
                      timestamp=BASE_TS + i * 1000)
    out["produce_unflushed"] = p.flush(30)

    def reset(name, *how, partitions=None):
        target = topic if partitions is None else f"{topic}:{partitions}"
        status, lines, err = groups(bootstrap, "--group", group, "--reset-offsets", "--topic", target,
                                    *how)
        out[name] = [status, table(lines, group, ["PARTITION", "NEW-OFFSET"]), messages(lines, err)]

    def describe(name, group_id=group):
        status, lines, err = groups(bootstrap, "--describe", "--group", group_id)
        out[name] = [status, table(lines, group_id, ["PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
                                                     "LAG"]), messages(lines, err)]

    reset("reset_to_latest", "--to-latest", "--execute")
    describe("describe_after_latest")
    status, lines, _ = groups(bootstrap, "--list")
    out["list"] = [status, group in lines]
    reset("reset_to_earliest", "--to-earliest", "--execute")
    reset("reset_to_offset", "--to-offset", "4", "--execute")
    reset("reset_shift_by", "--shift-by", "3", "--execute")
    reset("reset_shift_below_start", "--shift-by", "-50", "--execute")
    at = datetime.datetime.fromtimestamp((BASE_TS + 5500) / 1000, datetime.timezone.utc)
    reset("reset_to_datetime", "--to-datetime",
          at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+00:00", "--execute")
    reset("reset_past_the_end", "--to-offset", "100", "--execute")
    reset("reset_dry_run", "--to-earliest", "--dry-run", partitions="0,1")
    describe("describe_after_dry_run")
    status, lines, err = groups(bootstrap, "--delete-offsets", "--group", group, "--topic",
                                f"{topic}:0")
    out["delete_offsets"] = [status, [re.sub(r"\s+", " ", l.replace(topic, "T")) for l in lines]]
    describe("describe_after_delete_offsets")

    # A group with a live member: resets and deletes are refused.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": busy, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    deadline = time.monotonic() + 30
    while not c.assignment() and time.monotonic() < deadline:
        c.poll(0.2)
    status, lines, err = groups(bootstrap, "--group", busy, "--reset-offsets", "--topic", topic,
                                "--to-earliest", "--execute")
    out["reset_live_group"] = [status, [m.replace(busy, "G") for m in messages(lines, err)]]
    status, lines, err = groups(bootstrap, "--delete", "--group", busy)
    out["delete_live_group"] = [status, [m.replace(busy, "G") for m in messages(lines, err)]]
    c.close()

    status, lines, err = groups(bootstrap, "--delete", "--group", group)
    out["delete_group"] = [status, [m.replace(group, "G") for m in messages(lines, err)]]
    describe("describe_deleted")
    out["describe_deleted"][2] = [m.replace(group, "G") for m in out["describe_deleted"][2]]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--run", default=os.urandom(3).hex())
    a = p.parse_args()
    if not os.path.isdir(LIB):
        sys.exit(f"{LIB} is missing; install Kafka's tools with scripts/install-apache-kafka")
    print(json.dumps(observe(a.bootstrap, a.run), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
