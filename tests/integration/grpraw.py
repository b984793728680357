"""A tiny raw Kafka client for the classic group protocol (no library), so
tests can drive JoinGroup / SyncGroup / Heartbeat / OffsetCommit /
LeaveGroup / OffsetFetch step by step and check the exact error codes a
broker returns. Non-flexible versions only (JoinGroup v5, SyncGroup v3,
Heartbeat v3, OffsetCommit v7, OffsetFetch v5, LeaveGroup v3,
FindCoordinator v1, DescribeGroups v4).
"""

import socket
import struct
import time

NONE = 0
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
MEMBER_ID_REQUIRED = 79
FENCED_INSTANCE_ID = 82


def _str(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _bytes(b):
    if b is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(b)) + b


def _arr(items, enc):
    return struct.pack(">i", len(items)) + b"".join(enc(i) for i in items)


class R:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.p)
        self.p += struct.calcsize(fmt)
        return v[0]

    def i8(self):
        return self.take(">b")

    def i16(self):
        return self.take(">h")

    def i32(self):
        return self.take(">i")

    def i64(self):
        return self.take(">q")

    def str(self):
        n = self.i16()
        if n < 0:
            return None
        s = self.b[self.p:self.p + n].decode()
        self.p += n
        return s

    def bytes(self):
        n = self.i32()
        if n < 0:
            return None
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def arr(self, fn):
        n = self.i32()
        return [fn() for _ in range(max(n, 0))]


def subscription(topics):
    """ConsumerProtocolSubscription v0."""
    return struct.pack(">h", 0) + _arr(topics, _str) + _bytes(None)


def assignment(parts):
    """ConsumerProtocolAssignment v0 from {topic: [partitions]}."""
    return (struct.pack(">h", 0)
            + _arr(sorted(parts.items()),
                   lambda tp: _str(tp[0]) + _arr(tp[1], lambda p: struct.pack(">i", p)))
            + _bytes(None))


def parse_assignment(b):
    if not b:
        return {}
    r = R(b)
    r.i16()
    out = {}
    for _ in range(r.i32()):
        t = r.str()
        out[t] = r.arr(r.i32)
    return out


class Conn:
    def __init__(self, bootstrap, client_id="grpraw", timeout=30.0):
        host, port = bootstrap.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=timeout)
        self.s.settimeout(timeout)
        self.corr = 0
        self.client_id = client_id

    def close(self):
        self.s.close()

    def _recv(self, n):
        out = b""
        while len(out) < n:
            c = self.s.recv(n - len(out))
            if not c:
                raise EOFError("connection closed by broker")
            out += c
        return out

    def call(self, key, ver, body):
        self.corr += 1
        hdr = struct.pack(">hhi", key, ver, self.corr) + _str(self.client_id)
        msg = hdr + body
        self.s.sendall(struct.pack(">i", len(msg)) + msg)
        size = struct.unpack(">i", self._recv(4))[0]
        data = self._recv(size)
        r = R(data)
        assert r.i32() == self.corr
        return r

    # ---- APIs
    def find_coordinator(self, group, wait=30.0):
        deadline = time.monotonic() + wait
        while True:
            r = self.call(10, 1, _str(group) + struct.pack(">b", 0))
            r.i32()
            err = r.i16()
            r.str()
            node, host, port = r.i32(), r.str(), r.i32()
            # Kafka answers FindCoordinator before the partition is loaded:
            # wait until the coordinator takes requests for the group.
            if err == 0 and self.describe([group])[0]["error"] == 0:
                return node, host, port
            if time.monotonic() > deadline:
                raise AssertionError("FindCoordinator error %d" % err)
            time.sleep(0.2)

    def join(self, group, member_id="", instance_id=None, topics=("t",), session_ms=10000,
             rebalance_ms=10000, protocols=None, protocol_type="consumer"):
        protocols = protocols or [("range", subscription(list(topics)))]
        body = (_str(group) + struct.pack(">ii", session_ms, rebalance_ms) + _str(member_id)
                + _str(instance_id) + _str(protocol_type)
                + _arr(protocols, lambda p: _str(p[0]) + _bytes(p[1])))
        r = self.call(11, 5, body)
        r.i32()
        res = {"error": r.i16(), "generation": r.i32(), "protocol": r.str(),
               "leader": r.str(), "member_id": r.str()}
        res["members"] = r.arr(lambda: (r.str(), r.str(), r.bytes()))
        return res

    def join_full(self, group, **kw):
        """JoinGroup, repeating it with the member id when the broker asks
        for one (MEMBER_ID_REQUIRED)."""
        res = self.join(group, **kw)
        if res["error"] == MEMBER_ID_REQUIRED:
            kw["member_id"] = res["member_id"]
            res = self.join(group, **kw)
        return res

    def sync(self, group, generation, member_id, assignments=(), instance_id=None):
        body = (_str(group) + struct.pack(">i", generation) + _str(member_id) + _str(instance_id)
                + _arr(list(assignments), lambda a: _str(a[0]) + _bytes(a[1])))
        r = self.call(14, 3, body)
        r.i32()
        return {"error": r.i16(), "assignment": r.bytes()}

    def heartbeat(self, group, generation, member_id, instance_id=None):
        r = self.call(12, 3, _str(group) + struct.pack(">i", generation) + _str(member_id)
                      + _str(instance_id))
        r.i32()
        return r.i16()

    def leave(self, group, members):
        """members: [(member_id, instance_id)]; returns (error, [(mid, iid, err)])."""
        r = self.call(13, 3, _str(group) + _arr(members, lambda m: _str(m[0]) + _str(m[1])))
        r.i32()
        err = r.i16()
        return err, r.arr(lambda: (r.str(), r.str(), r.i16()))

    def commit(self, group, generation, member_id, offsets, instance_id=None):
        """offsets: {(topic, partition): (offset, metadata)}; returns
        {(topic, partition): error}."""
        by_topic = {}
        for (t, p), (o, md) in offsets.items():
            by_topic.setdefault(t, []).append((p, o, md))
        body = (_str(group) + struct.pack(">i", generation) + _str(member_id) + _str(instance_id)
                + _arr(sorted(by_topic.items()),
                       lambda tp: _str(tp[0]) + _arr(
                           tp[1], lambda x: struct.pack(">iqi", x[0], x[1], -1) + _str(x[2]))))
        r = self.call(8, 7, body)
        r.i32()
        out = {}
        for _ in range(r.i32()):
            t = r.str()
            for _ in range(r.i32()):
                p = r.i32()
                out[(t, p)] = r.i16()
        return out

    def offset_fetch(self, group, topics=None):
        """topics: {topic: [partitions]} or None for all. Returns
        (error, {(topic, partition): (offset, metadata, error)})."""
        if topics is None:
            tb = struct.pack(">i", -1)
        else:
            tb = _arr(sorted(topics.items()),
                      lambda tp: _str(tp[0]) + _arr(tp[1], lambda p: struct.pack(">i", p)))
        r = self.call(9, 5, _str(group) + tb)
        r.i32()
        out = {}
        for _ in range(r.i32()):
            t = r.str()
            for _ in range(r.i32()):
                p = r.i32()
                o = r.i64()
                r.i32()
                md = r.str()
                e = r.i16()
                out[(t, p)] = (o, md, e)
        return r.i16(), out

    def describe(self, groups):
        r = self.call(15, 4, _arr(groups, _str) + struct.pack(">b", 0))
        r.i32()
        out = []
        for _ in range(r.i32()):
            g = {"error": r.i16(), "group": r.str(), "state": r.str(),
                 "protocol_type": r.str(), "protocol": r.str()}
            g["members"] = r.arr(lambda: {"member_id": r.str(), "instance_id": r.str(),
                                          "client_id": r.str(), "client_host": r.str(),
                                          "metadata": r.bytes(), "assignment": r.bytes()})
            r.i32()
            out.append(g)
        return out
