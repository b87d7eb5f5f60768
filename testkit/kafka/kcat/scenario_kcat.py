#!/usr/bin/env python3
"""The testkit/kafka scenario with the kcat command-line tool: `kcat -L` for
the topic's metadata, `kcat -P` to produce --count keyed records with headers
(idempotent, acks=all, murmur2 partitioner), `kcat -G` (group) or `kcat -C`
(assign) with -J to consume them back; prints the JSON summary line.

kcat cannot create topics, so the topic is created with confluent-kafka's
AdminClient: run with target/py-venv/kafka/bin/python. kcat sets headers per
invocation, not per record, so its records carry run/dup/dup and no idx
header. kcat prints no delivery reports: the placement in the summary comes
from the consumed records (placement_source "consumed")."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import scenario_common as sc  # noqa: E402

CLIENT = "kcat"
KCAT = os.environ.get("KCAT", "kcat")


def kcat_version():
    out = subprocess.run([KCAT, "-V"], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"^Version (\S+) .*?(librdkafka \S+)", out, re.M)
    return f"{m.group(1)} ({m.group(2)})" if m else "unknown"


def metadata_partitions(args):
    out = subprocess.run([KCAT, "-L", "-J", "-b", args.bootstrap, "-t", args.topic, "-m", "10"],
                         capture_output=True, text=True, timeout=args.timeout)
    if out.returncode != 0:
        raise RuntimeError(f"kcat -L failed: {out.stderr.strip()}")
    md = json.loads(out.stdout)
    for t in md.get("topics", []):
        if t.get("topic") == args.topic and not t.get("error"):
            parts = t.get("partitions", [])
            if parts and all(p.get("leader", -1) >= 0 for p in parts):
                return len(parts)
    return 0


def create_topic(args):
    try:
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import AdminClient, NewTopic
    except ImportError:
        sc.log("kcat scenario: confluent-kafka not importable; relying on the topic existing or being auto-created")
    else:
        admin = AdminClient({"bootstrap.servers": args.bootstrap})
        for f in admin.create_topics([NewTopic(args.topic, args.partitions, 1)]).values():
            try:
                f.result(timeout=args.timeout)
            except KafkaException as e:
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    deadline = time.monotonic() + args.timeout
    while True:
        n = metadata_partitions(args)
        if n:
            return n
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {args.topic} has no leaders after {args.timeout}s")
        time.sleep(0.2)


def produce(args):
    lines = "".join(f"{sc.key_of(i)}|{sc.value_of(args.run, i)}\n" for i in range(args.count))
    cmd = [KCAT, "-P", "-b", args.bootstrap, "-t", args.topic, "-K", "|",
           "-X", "enable.idempotence=true", "-X", "acks=all", "-X", "partitioner=murmur2_random",
           "-X", "linger.ms=5"]
    for k, v in sc.headers_of(args.run, 0, with_index=False):
        cmd += ["-H", f"{k}={v}"]
    p = subprocess.run(cmd, input=lines, capture_output=True, text=True, timeout=args.timeout)
    failed = [l for l in p.stderr.splitlines() if "Delivery failed" in l or "ERROR" in l]
    for l in failed[:5]:
        sc.log("kcat -P:", l)
    if p.returncode != 0 and not failed:
        failed = [f"exit code {p.returncode}"]
    # Which records failed is not reported; any failure counts against every record.
    return (args.count if not failed else 0), len(failed)


def consume(args):
    if args.consume == "group":
        cmd = [KCAT, "-b", args.bootstrap, "-G", f"scenario-{args.run}", "-X", "auto.offset.reset=earliest",
               "-e", "-J", "-q", args.topic]
    else:
        cmd = [KCAT, "-C", "-b", args.bootstrap, "-t", args.topic, "-o", "beginning", "-e", "-J", "-q"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    consumed = []
    for line in p.stdout.splitlines():
        if not line.startswith("{"):
            continue
        m = json.loads(line)
        h = m.get("headers") or []
        headers = list(zip(h[0::2], h[1::2]))
        if sc.run_of(headers) != args.run:
            continue
        consumed.append((m["partition"], m["offset"], m.get("key"), m.get("payload"), headers))
    return consumed


def main():
    args = sc.parse_args(CLIENT)
    version = kcat_version() if shutil.which(KCAT) else "not installed"
    clock = sc.Clock()
    topic_partitions, produced, errors, consumed, error = 0, {}, 0, [], None
    produce_ms = consume_ms = 0.0
    try:
        topic_partitions = create_topic(args)
        clock.ms()
        n, errors = produce(args)
        produce_ms = clock.ms()
        consumed = consume(args)
        consume_ms = clock.ms()
        # No delivery reports: the partition of each record is the one it was read from.
        where = {}
        for (part, _off, _k, value, _h) in consumed:
            try:
                where.setdefault(int(value.split(":")[1]), part)
            except (ValueError, IndexError, AttributeError):
                pass
        produced = {i: (where.get(i), None) for i in range(n)}
    except Exception as e:  # the summary says what failed
        error = f"{type(e).__name__}: {e}"
    s = sc.summarize(CLIENT, version, args, topic_partitions, produced, errors, consumed,
                     produce_ms, consume_ms, with_index=False, error=error)
    s["placement_source"] = "consumed"
    return sc.emit(s)


if __name__ == "__main__":
    sys.exit(main())
