"""The produce-and-consume scenario shared by every Kafka client program in
testkit/kafka/ (see testkit/kafka/README.md for the contract): its command
line, the records it writes, Kafka's murmur2 partitioner and the JSON summary.
The Node, Java and Go programs implement the same rules; keep them in step.
"""

import argparse
import json
import os
import sys
import time

KEYS = 100  # record i has key "key-<i % KEYS>"


def parse_args(client, argv=None):
    p = argparse.ArgumentParser(description=f"Kafka produce/consume scenario with {client}")
    p.add_argument("--bootstrap", default="127.0.0.1:9092", help="host:port")
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, default=1000, help="records to produce")
    p.add_argument("--partitions", type=int, default=8, help="partitions of the topic it creates")
    p.add_argument("--consume", choices=["group", "assign"], default="group",
                   help="group: subscribe in a new consumer group and commit; assign: read every partition from the start")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds for each phase")
    p.add_argument("--run", default=None, help="run id put in every record (random by default)")
    a = p.parse_args(argv)
    if a.run is None:
        a.run = os.urandom(4).hex()
    return a


def key_of(i):
    return f"key-{i % KEYS}"


def value_of(run, i):
    return f"{run}:{i}:" + "x" * (i % 97)


def headers_of(run, i, with_index=True):
    """Ordered headers, with a repeated name whose order must survive."""
    h = [("run", run)]
    if with_index:
        h.append(("idx", str(i)))
    h += [("dup", "a"), ("dup", "b")]
    return h


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    n4 = length // 4
    for i in range(n4):
        k = int.from_bytes(data[i * 4:i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    base = n4 * 4
    if rest == 3:
        h ^= data[base + 2] << 16
    if rest >= 2:
        h ^= data[base + 1] << 8
    if rest >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def murmur2_partition(key: str, partitions: int) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def _text(b):
    if b is None:
        return None
    if isinstance(b, (bytes, bytearray)):
        return b.decode("utf-8", "replace")
    return str(b)


def run_of(headers):
    for k, v in headers or []:
        if k == "run":
            return _text(v)
    return None


def summarize(client, client_version, args, topic_partitions, produced, produce_errors,
              consumed, produce_ms, consume_ms, with_index=True, error=None):
    """produced: {i: (partition, offset)} from delivery reports (either may be
    None where a client does not report it); consumed: list of
    (partition, offset, key, value, [(hk, hv)]) of this run's records, in the
    order they were read."""
    n, run = args.count, args.run
    expected = {}  # (key, value, headers) -> i
    for i in range(n):
        expected[(key_of(i), value_of(run, i), tuple(headers_of(run, i, with_index)))] = i

    seen = {}  # i -> (partition, offset)
    duplicates = 0
    mismatched = 0
    identical = True
    per_part = {}
    for (part, off, key, value, headers) in consumed:
        rec = (_text(key), _text(value), tuple((k, _text(v)) for k, v in headers))
        i = expected.get(rec)
        if i is None:
            mismatched += 1
            identical = False
            continue
        if i in seen:
            duplicates += 1
            continue
        seen[i] = (part, off)
        per_part.setdefault(part, []).append((off, i))
        d = produced.get(i)
        if d is not None and ((d[0] is not None and d[0] != part) or (d[1] is not None and d[1] != off)):
            identical = False
    missing = n - len(seen)
    if missing:
        identical = False

    offsets = {}
    dense = True
    ordered = True
    for part in sorted(per_part):
        recs = sorted(per_part[part])
        offs = [o for o, _ in recs]
        d = all(b == a + 1 for a, b in zip(offs, offs[1:]))
        o = all(b[1] > a[1] for a, b in zip(recs, recs[1:]))
        dense &= d
        ordered &= o
        offsets[str(part)] = {"count": len(offs), "first": offs[0], "last": offs[-1], "dense": d}

    placement = {}
    consistent = True
    for i, (part, _) in sorted(produced.items()):
        if part is None:  # a client without delivery reports: where it was read
            part = seen.get(i, (None,))[0]
            if part is None:
                continue
        k = key_of(i)
        if placement.setdefault(k, part) != part:
            consistent = False
    placement_murmur2 = bool(placement) and all(
        p == murmur2_partition(k, args.partitions) for k, p in placement.items())

    ok = (error is None and produce_errors == 0 and len(produced) == n and missing == 0
          and duplicates == 0 and identical and dense and ordered and consistent
          and topic_partitions == args.partitions)
    s = {
        "client": client,
        "client_version": client_version,
        "bootstrap": args.bootstrap,
        "topic": args.topic,
        "run": run,
        "consume_mode": args.consume,
        "partitions": args.partitions,
        "topic_partitions": topic_partitions,
        "count": n,
        "produced": len(produced),
        "produce_errors": produce_errors,
        "consumed": len(seen),
        "duplicates": duplicates,
        "missing": missing,
        "mismatched": mismatched,
        "records_identical": identical,
        "offsets_dense": dense,
        "order_preserved": ordered,
        "partition_offsets": offsets,
        "placement": placement,
        "placement_consistent": consistent,
        "placement_murmur2": placement_murmur2,
        "placement_source": "delivery",
        "produce_ms": round(produce_ms),
        "consume_ms": round(consume_ms),
        "error": error,
        "ok": ok,
    }
    return s


def emit(summary):
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0 if summary["ok"] else 1


class Clock:
    def __init__(self):
        self.t = time.monotonic()

    def ms(self):
        now = time.monotonic()
        d, self.t = (now - self.t) * 1000.0, now
        return d
