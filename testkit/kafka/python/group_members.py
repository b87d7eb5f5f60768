#!/usr/bin/env python3
"""Three consumers in one consumer group, each its own process, on one topic
while a producer writes to it; then one member is SIGKILLed. The members
are confluent-kafka (librdkafka) by default, or with --client kafka-python,
kafkajs (testkit/kafka/node/group_member.js) or java (the Apache Kafka
client, testkit/kafka/java/src/GroupMember.java). Checks, and prints as one
JSON summary line:

- every record the producer was told is delivered is consumed, and a
  record is read again only from an uncommitted window: its first reader
  was killed, or a commit of that reader failed after it read the record;
- in steady state (before the kill, and at the end) every partition is
  owned by exactly one live member;
- after the kill, the killed member's partitions are owned by the others
  within the session timeout plus one rebalance (`move_seconds`);
- with --pause, the group carries on when its coordinator stops (the caller
  stops it; the members find the next one, whose group state is the same);
- with --pause-in-rebalance, one more member joins and, once the rebalance
  it starts has begun (an owner gave up a partition), the caller kills the
  coordinator: the group still converges, every partition owned once by
  the members that are left.

Each member commits synchronously after printing what it consumed, so a
committed offset never covers a record nobody reported.

  group_members.py --bootstrap H:P --topic T --assignor range
      [--client confluent|kafka-python|kafkajs|java] [--protocol classic|consumer] [--partitions 12] [--members 3]
      [--session-ms 6000] [--timeout 60] [--pause | --pause-in-rebalance]

Exit status 1 if a check failed. Run with target/py-venv/kafka/bin/python
(scripts/install-kafka-clients)."""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def member(a):
    """One group member: prints what it owns after every change and what it
    consumed after every batch, then commits that batch."""
    settings = {
        "bootstrap.servers": a.bootstrap,
        "group.id": a.group,
        "client.id": a.member,
        "max.poll.interval.ms": 60000,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }
    if a.protocol == "consumer":
        # KIP-848: the server assigns and times sessions; the client names
        # only the assignor.
        settings.update({"group.protocol": "consumer", "group.remote.assignor": a.assignor})
    else:
        settings.update({
            "partition.assignment.strategy": a.assignor,
            "session.timeout.ms": a.session_ms,
            "heartbeat.interval.ms": max(100, a.session_ms // 12),
        })
    consumer = Consumer(settings)
    owned = set()

    def say(**event):
        print(json.dumps({"m": a.member, "t": time.time(), **event}), flush=True)

    # KIP-848 assignments are always incremental.
    cooperative = a.assignor == "cooperative-sticky" or a.protocol == "consumer"

    def on_assign(c, parts):
        if not cooperative:
            owned.clear()
        owned.update(p.partition for p in parts)
        say(ev="owned", parts=sorted(owned))

    def on_revoke(c, parts):
        if cooperative:
            owned.difference_update(p.partition for p in parts)
        else:
            owned.clear()
        say(ev="owned", parts=sorted(owned))

    consumer.subscribe([a.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        msgs = consumer.consume(num_messages=200, timeout=0.2)
        got = [[m.partition(), m.offset()] for m in msgs if m.error() is None]
        if got:
            say(ev="got", recs=got)
            try:
                consumer.commit(asynchronous=False)
            except KafkaException as e:
                # A commit refused by a rebalance: the records are read again
                # by their next owner, which the check allows.
                say(ev="commit_failed", error=str(e))
    consumer.close()
    say(ev="closed")


def member_kafka_python(a):
    """One group member with kafka-python, reporting as `member` does. Its
    protocol is eager: a rebalance revokes every partition, then assigns."""
    from kafka import KafkaConsumer, ConsumerRebalanceListener
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.errors import KafkaError as PyKafkaError

    assignors = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}
    if a.protocol != "classic" or a.assignor not in assignors:
        sys.exit("kafka-python members use the classic protocol with range or roundrobin")

    def say(**event):
        print(json.dumps({"m": a.member, "t": time.time(), **event}), flush=True)

    consumer = KafkaConsumer(
        bootstrap_servers=a.bootstrap.split(","), group_id=a.group, client_id=a.member,
        enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=200,
        session_timeout_ms=a.session_ms, heartbeat_interval_ms=max(100, a.session_ms // 12),
        partition_assignment_strategy=[assignors[a.assignor]])

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            say(ev="owned", parts=[])

        def on_partitions_assigned(self, assigned):
            say(ev="owned", parts=sorted(tp.partition for tp in assigned))

    consumer.subscribe([a.topic], listener=Listener())
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        batches = consumer.poll(timeout_ms=200, max_records=200)
        got = [[tp.partition, r.offset] for tp, records in batches.items() for r in records]
        if got:
            say(ev="got", recs=got)
            try:
                consumer.commit()
            except PyKafkaError as e:
                say(ev="commit_failed", error=str(e))
    consumer.close()
    say(ev="closed")


ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


def member_command(a, name):
    """The command line of one member process of `a.client`."""
    if a.client == "java":
        classpath = os.pathsep.join([os.path.join(ROOT, "target", "kafka-java", "classes"),
                                     os.path.join(ROOT, "target", "kafka-java", "lib", "*")])
        return ["java", "-cp", classpath, "GroupMember", "--member", name] + a.passthrough
    if a.client == "kafkajs":
        script = os.path.join(ROOT, "testkit", "kafka", "node", "group_member.js")
        return ["node", script, "--member", name] + a.passthrough
    return ([sys.executable, os.path.abspath(__file__), "--member", name, "--client", a.client]
            + a.passthrough)


class Members:
    """The member processes and what they reported."""

    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.owned = {}
        self.last_change = time.monotonic()
        self.consumed = set()
        self.records_read = 0
        # (partition, offset) -> (member, time) of its first read; reads of a
        # record already read that no uncommitted window explains.
        self.first_read = {}
        self.commit_failures = {}
        self.redelivered = []
        self.killed = set()
        self.procs = {}
        self.errors = []

    def start(self, name):
        proc = subprocess.Popen(member_command(self.a, name), stdout=subprocess.PIPE, text=True)
        self.procs[name] = proc
        threading.Thread(target=self.read, args=(name, proc), daemon=True).start()

    def read(self, name, proc):
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                if event["ev"] == "owned":
                    self.owned[name] = set(event["parts"])
                    self.last_change = time.monotonic()
                elif event["ev"] == "got":
                    self.records_read += len(event["recs"])
                    self.consumed.update((p, o) for p, o in event["recs"])
                    for p, o in event["recs"]:
                        first = self.first_read.setdefault((p, o), (name, event["t"]))
                        if first != (name, event["t"]):
                            self.redelivered.append(((p, o), first))
                elif event["ev"] == "commit_failed":
                    self.commit_failures.setdefault(name, []).append(event["t"])

    def unexplained_redeliveries(self):
        """Records read again although their first reader committed them: a
        re-delivery must fall in the uncommitted window of a member that was
        killed or whose commit failed after it read them."""
        with self.lock:
            return [
                [list(at), reader] for at, (reader, t) in self.redelivered
                if reader not in self.killed
                and not any(f >= t for f in self.commit_failures.get(reader, []))
            ]

    def kill(self, name):
        self.killed.add(name)
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()
        with self.lock:
            self.owned.pop(name, None)
            self.last_change = time.monotonic()

    def steady(self, live, partitions, quiet=2.0):
        """Whether the live members own every partition once, unchanged for `quiet` s."""
        with self.lock:
            if time.monotonic() - self.last_change < quiet:
                return False
            sets = [self.owned.get(m, set()) for m in live]
        every = [p for s in sets for p in s]
        return len(every) == len(set(every)) == partitions and all(sets)

    def ownership(self):
        with self.lock:
            return {m: sorted(s) for m, s in self.owned.items()}

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def produce_until(a, stop, delivered):
    producer = Producer({"bootstrap.servers": a.bootstrap, "enable.idempotence": True,
                         "linger.ms": 5})

    def on_delivery(err, msg):
        if err is None:
            delivered.add((msg.partition(), msg.offset()))

    i = 0
    while not stop.is_set():
        for _ in range(20):
            producer.produce(a.topic, key=f"k-{i}", value=f"v-{i}", on_delivery=on_delivery)
            i += 1
        producer.poll(0)
        time.sleep(0.04)
    producer.flush(30)


def wait_for(what, condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)
    return time.monotonic()


def coordinator_of(admin, a):
    """The group coordinator's broker id and address."""
    (f,) = admin.describe_consumer_groups([a.group]).values()
    node = f.result(timeout=a.timeout).coordinator
    return {"coordinator": node.id, "coordinator_address": f"{node.host}:{node.port}"}


def orchestrate(a):
    summary = {"client": a.client, "assignor": a.assignor, "topic": a.topic, "group": a.group, "ok": False}
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    for f in admin.create_topics([NewTopic(a.topic, a.partitions, 1)]).values():
        f.result(timeout=a.timeout)
    names = [f"member-{i}" for i in range(a.members)]
    members = Members(a)
    delivered = set()
    stop = threading.Event()
    producer = threading.Thread(target=produce_until, args=(a, stop, delivered), daemon=True)
    try:
        producer.start()
        for name in names:
            members.start(name)
        wait_for("all members to share the partitions", lambda: members.steady(names, a.partitions),
                 a.timeout)
        summary["steady_before_kill"] = members.ownership()
        if a.pause:
            # The caller stops the group's coordinator now, then says go.
            print(json.dumps({"phase": "steady", **coordinator_of(admin, a)}), flush=True)
            sys.stdin.readline()
            wait_for("the group to settle on the other coordinator",
                     lambda: members.steady(names, a.partitions, quiet=3), a.timeout)
            summary["steady_after_coordinator_stopped"] = members.ownership()
        if a.pause_in_rebalance:
            coordinator = coordinator_of(admin, a)
            before = members.ownership()
            joiner = f"member-{len(names)}"
            members.start(joiner)
            names.append(joiner)
            wait_for("the new member's rebalance to begin",
                     lambda: any(set(members.ownership().get(m, [])) < set(before[m])
                                 for m in before), a.timeout)
            # The caller kills the coordinator in the middle of it, then says go.
            print(json.dumps({"phase": "rebalancing", **coordinator}), flush=True)
            sys.stdin.readline()
            wait_for("the group to converge after its coordinator died mid-rebalance",
                     lambda: members.steady(names, a.partitions, quiet=3), a.timeout)
            summary["steady_after_coordinator_killed_in_rebalance"] = members.ownership()
        victim = names[0]
        moved = members.ownership()[victim]
        killed_at = time.monotonic()
        members.kill(victim)
        live = names[1:]

        def taken_over():
            own = members.ownership()
            held = [p for m in live for p in own.get(m, [])]
            return set(moved) <= set(held) and len(held) == len(set(held))

        done = wait_for("the killed member's partitions to move", taken_over, a.timeout)
        summary["move_seconds"] = round(done - killed_at, 2)
        wait_for("the rest to settle", lambda: members.steady(live, a.partitions), a.timeout)
        summary["steady_after_kill"] = members.ownership()
        time.sleep(2)
        stop.set()
        producer.join()
        wait_for("every delivered record to be consumed",
                 lambda: delivered <= members.consumed, a.timeout)
        summary["steady_at_end"] = members.steady(live, a.partitions, quiet=0)
    except TimeoutError as e:
        summary["error"] = f"timed out waiting for {e}; ownership {members.ownership()}"
    finally:
        stop.set()
        members.stop()
    missing = delivered - members.consumed
    summary.update(produced=len(delivered), consumed_distinct=len(members.consumed & delivered),
                   records_read=members.records_read, missing=len(missing))
    unexplained = members.unexplained_redeliveries()
    summary["unexplained_redeliveries"] = len(unexplained)
    if unexplained:
        summary["unexplained_examples"] = unexplained[:5]
    limit = a.session_ms / 1000 + a.rebalance_slack
    summary["ok"] = (
        "error" not in summary and not missing and len(delivered) > 0 and not unexplained
        and summary.get("steady_at_end") is True and summary["move_seconds"] <= limit)
    if not summary["ok"] and "error" not in summary:
        summary["error"] = (f"missing={len(missing)} unexplained_redeliveries={len(unexplained)} "
                            f"move_seconds={summary.get('move_seconds')} "
                            f"(limit {limit}) steady_at_end={summary.get('steady_at_end')}")
    print(json.dumps(summary), flush=True)
    return 0 if summary["ok"] else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", default=None)
    p.add_argument("--assignor", required=True,
                   choices=["range", "roundrobin", "cooperative-sticky", "uniform"],
                   help="classic: the client's partition.assignment.strategy; "
                        "consumer: the server's group.remote.assignor (uniform or range)")
    p.add_argument("--client", default="confluent",
                   choices=["confluent", "kafka-python", "kafkajs", "java"],
                   help="the members' client library (kafka-python: classic protocol, range or "
                        "roundrobin; kafkajs: classic, roundrobin)")
    p.add_argument("--protocol", default="classic", choices=["classic", "consumer"],
                   help="group.protocol; with consumer, pass the gateway's "
                        "groups.default_session_timeout as --session-ms")
    p.add_argument("--partitions", type=int, default=12)
    p.add_argument("--members", type=int, default=3)
    p.add_argument("--session-ms", type=int, default=6000)
    p.add_argument("--rebalance-slack", type=float, default=5.0,
                   help="seconds beyond the session timeout a move may take (detection, rejoin, sync)")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--pause", action="store_true",
                   help="once steady, print the coordinator's id and wait for a line on stdin "
                        "(the caller stops that broker meanwhile), then check the group again")
    p.add_argument("--pause-in-rebalance", action="store_true",
                   help="once steady, start one more member; when its rebalance has begun, print "
                        "the coordinator's id and address and wait for a line on stdin (the "
                        "caller kills that broker meanwhile), then check the group converges")
    p.add_argument("--member", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    a.group = a.group or f"{a.topic}-group"
    a.passthrough = ["--bootstrap", a.bootstrap, "--topic", a.topic, "--group", a.group,
                     "--assignor", a.assignor, "--session-ms", str(a.session_ms),
                     "--protocol", a.protocol]
    if a.member:
        (member_kafka_python if a.client == "kafka-python" else member)(a)
        return 0
    return orchestrate(a)


if __name__ == "__main__":
    sys.exit(main())
