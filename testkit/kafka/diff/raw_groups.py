"""Classic group protocol requests sent as raw frames, for what no client
library sends on purpose: a commit with a stale generation, a heartbeat from
an unknown member, a join with a protocol type the group does not have.
scenario.py records each answer as a step (error names, and only what two
conforming brokers must agree on: never member ids, generations' values or
times). Standard library only.

Versions are the last non-flexible ones (JoinGroup 5, SyncGroup 3,
Heartbeat 3, OffsetCommit 7, LeaveGroup 3, DescribeGroups 4,
FindCoordinator 2), which Apache Kafka 4 and Stratus both serve."""

import socket
import struct
import time

ERRORS = {
    0: "NONE", 3: "UNKNOWN_TOPIC_OR_PARTITION", 14: "COORDINATOR_LOAD_IN_PROGRESS",
    15: "COORDINATOR_NOT_AVAILABLE", 16: "NOT_COORDINATOR", 22: "ILLEGAL_GENERATION",
    23: "INCONSISTENT_GROUP_PROTOCOL", 24: "INVALID_GROUP_ID", 25: "UNKNOWN_MEMBER_ID",
    26: "INVALID_SESSION_TIMEOUT", 27: "REBALANCE_IN_PROGRESS", 68: "NON_EMPTY_GROUP",
    69: "GROUP_ID_NOT_FOUND", 79: "MEMBER_ID_REQUIRED", 82: "FENCED_INSTANCE_ID",
}

NOT_READY = ("NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE", "COORDINATOR_LOAD_IN_PROGRESS")

JOIN, SYNC, HEARTBEAT, COMMIT, LEAVE, DESCRIBE, FIND = 11, 14, 12, 8, 13, 15, 10


def error(code):
    return ERRORS.get(code, f"error {code}")


# ---- encoding -------------------------------------------------------------

def string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def blob(b):
    return struct.pack(">i", len(b)) + b


def array(items):
    return struct.pack(">i", len(items)) + b"".join(items)


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        (v,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return v

    def int8(self):
        return self.take(">b")

    def int16(self):
        return self.take(">h")

    def int32(self):
        return self.take(">i")

    def string(self):
        n = self.int16()
        if n < 0:
            return None
        s = self.data[self.at:self.at + n].decode()
        self.at += n
        return s

    def blob(self):
        n = self.int32()
        b = self.data[self.at:self.at + max(n, 0)]
        self.at += max(n, 0)
        return b

    def array(self, item):
        return [item() for _ in range(self.int32())]


class Connection:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.correlation = 0

    def call(self, key, version, body):
        self.correlation += 1
        header = struct.pack(">hhi", key, version, self.correlation) + string("raw-groups")
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", self.recv(4))[0]
        r = Reader(self.recv(size))
        assert r.int32() == self.correlation, "answers out of order"
        return r

    def recv(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            out += chunk
        return out

    def close(self):
        self.sock.close()


def coordinator(bootstrap, group, timeout=30.0):
    """A connection to the group's coordinator (FindCoordinator v2)."""
    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while True:
        c = Connection(host, int(port))
        r = c.call(FIND, 2, string(group) + struct.pack(">b", 0))
        r.int32()  # throttle
        code = r.int16()
        r.string()  # message
        r.int32()  # node id
        h, p = r.string(), r.int32()
        c.close()
        if code == 0:
            return Connection(h, p)
        if time.monotonic() > deadline:
            raise RuntimeError(f"FindCoordinator answered {error(code)}")
        time.sleep(0.5)


# ---- requests ---------------------------------------------------------------

def join(c, group, member, protocol_type="consumer", protocols=("range",)):
    body = (string(group) + struct.pack(">ii", 10_000, 10_000) + string(member) + string(None)
            + string(protocol_type)
            + array([string(p) + blob(b"metadata-" + p.encode()) for p in protocols]))
    r = c.call(JOIN, 5, body)
    r.int32()
    code, generation = r.int16(), r.int32()
    protocol, leader, member_id = r.string(), r.string(), r.string()
    members = r.array(lambda: (r.string(), r.string(), r.blob()))
    return {"error": error(code), "generation": generation, "protocol": protocol,
            "leader": leader, "member": member_id, "members": members}


def sync(c, group, generation, member, assignments):
    body = (string(group) + struct.pack(">i", generation) + string(member) + string(None)
            + array([string(m) + blob(a) for m, a in assignments]))
    r = c.call(SYNC, 3, body)
    r.int32()
    return error(r.int16()), r.blob()


def heartbeat(c, group, generation, member):
    r = c.call(HEARTBEAT, 3, string(group) + struct.pack(">i", generation) + string(member)
               + string(None))
    r.int32()
    return error(r.int16())


def commit(c, group, generation, member, topic, partition=0, offset=7):
    body = (string(group) + struct.pack(">i", generation) + string(member) + string(None)
            + array([string(topic) + array([struct.pack(">iqi", partition, offset, -1)
                                            + string("raw")])]))
    r = c.call(COMMIT, 7, body)
    r.int32()
    topics = r.array(lambda: (r.string(), r.array(lambda: (r.int32(), r.int16()))))
    return [error(code) for _, parts in topics for _, code in parts]


def leave(c, group, member):
    r = c.call(LEAVE, 3, string(group) + array([string(member) + string(None)]))
    r.int32()
    code = r.int16()
    members = r.array(lambda: (r.string(), r.string(), r.int16()))
    return [error(code), [error(m[2]) for m in members]]


def describe(c, group):
    r = c.call(DESCRIBE, 4, array([string(group)]) + struct.pack(">b", 0))
    r.int32()

    def one():
        code, _, state, ptype, proto = r.int16(), r.string(), r.string(), r.string(), r.string()
        members = r.array(lambda: (r.string(), r.string(), r.string(), r.string(), r.blob(),
                                   r.blob()))
        r.int32()
        return {"error": error(code), "state": state, "protocol_type": ptype, "protocol": proto,
                "assignments": sorted(m[5].decode() for m in members)}
    return r.array(one)[0]


# ---- the observations -----------------------------------------------------------

def observe(bootstrap, group, topic):
    """Step name -> outcome for one member's life in `group`, with the
    refusals around it; `topic` exists and has a partition 0."""
    out = {}
    c = coordinator(bootstrap, group)
    try:
        # A coordinator just elected may still be loading its groups.
        deadline = time.monotonic() + 30
        while True:
            first = join(c, group, "")
            if first["error"] not in NOT_READY or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        out["raw_join_without_member_id"] = [first["error"], bool(first["member"])]
        joined = join(c, group, first["member"])
        me, generation = joined["member"], joined["generation"]
        out["raw_join"] = [joined["error"], joined["protocol"], joined["leader"] == me,
                           [(m == me, meta.decode()) for m, _, meta in joined["members"]]]
        out["raw_heartbeat_before_sync"] = heartbeat(c, group, generation, me)
        out["raw_sync_stale_generation"] = sync(c, group, generation + 1, me, [])[0]
        out["raw_sync_unknown_member"] = sync(c, group, generation, "stranger", [])[0]
        code, assignment = sync(c, group, generation, me, [(me, b"assignment-1")])
        out["raw_sync"] = [code, assignment.decode()]
        out["raw_heartbeat"] = heartbeat(c, group, generation, me)
        out["raw_heartbeat_stale_generation"] = heartbeat(c, group, generation - 1, me)
        out["raw_heartbeat_unknown_member"] = heartbeat(c, group, generation, "stranger")
        out["raw_join_other_protocol_type"] = join(c, group, "", protocol_type="connect")["error"]
        out["raw_join_no_common_protocol"] = join(c, group, "", protocols=("roundrobin",))["error"]
        out["raw_commit"] = commit(c, group, generation, me, topic)
        out["raw_commit_stale_generation"] = commit(c, group, generation - 1, me, topic)
        out["raw_commit_unknown_member"] = commit(c, group, generation, "stranger", topic)
        out["raw_commit_unknown_topic"] = commit(c, group, generation, me, topic + "-missing")
        d = describe(c, group)
        out["raw_describe"] = [d["error"], d["state"], d["protocol_type"], d["protocol"],
                               d["assignments"]]
        out["raw_leave_unknown_member"] = leave(c, group, "stranger")
        out["raw_leave"] = leave(c, group, me)
        d = describe(c, group)
        out["raw_describe_after_leave"] = [d["error"], d["state"], d["assignments"]]
        out["raw_heartbeat_after_leave"] = heartbeat(c, group, generation, me)
        d = describe(c, group + "-never")
        out["raw_describe_missing"] = [d["error"], d["state"]]
    finally:
        c.close()
    return out
