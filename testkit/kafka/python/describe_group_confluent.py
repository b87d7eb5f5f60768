#!/usr/bin/env python3
"""Describes one consumer group with confluent-kafka's AdminClient
(librdkafka: ConsumerGroupDescribe for consumer-protocol groups, falling
back to DescribeGroups for classic ones) and prints it as one JSON line:
{"type", "state", "members": [{"member_id", "client_id", "partitions"}]}.

  describe_group_confluent.py --bootstrap HOST:PORT --group G
"""

import argparse
import json
import sys

from confluent_kafka.admin import AdminClient


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--group", required=True)
    a = p.parse_args()
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    (future,) = admin.describe_consumer_groups([a.group]).values()
    group = future.result(timeout=30)
    print(json.dumps({
        "type": str(getattr(group, "type", "")),
        "state": str(group.state),
        "members": [{
            "member_id": m.member_id,
            "client_id": m.client_id,
            "partitions": sorted([tp.topic, tp.partition] for tp in m.assignment.topic_partitions),
        } for m in group.members],
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
