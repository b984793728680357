"""A tiny raw client for the KIP-848 consumer group APIs (flexible
versions: request header v2, response header v1), so tests can drive
ConsumerGroupHeartbeat / ConsumerGroupDescribe / OffsetCommit v9 /
OffsetFetch v9 step by step and check the exact error codes a broker
returns. Used by test_groups_consumer*.py.
"""

import socket
import struct
import uuid as _uuid

from harness import cstr, uvarint

NONE = 0
UNKNOWN_MEMBER_ID = 25
INVALID_REQUEST = 42
GROUP_ID_NOT_FOUND = 69
FENCED_INSTANCE_ID = 82
GROUP_MAX_SIZE_REACHED = 81
UNRELEASED_INSTANCE_ID = 111
UNSUPPORTED_ASSIGNOR = 112
STALE_MEMBER_EPOCH = 113
FENCED_MEMBER_EPOCH = 110
INCONSISTENT_GROUP_PROTOCOL = 23
UNSUPPORTED_VERSION = 35


def carr(items, enc=lambda x: x):
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(enc(i) for i in items)


TAGS = uvarint(0)


class Reader:
    def __init__(self, b):
        self.b = b
        self.p = 0

    def take(self, n):
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        shift = n = 0
        while True:
            c = self.take(1)[0]
            n |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return n

    def cstr(self):
        n = self.uvarint()
        if n == 0:
            return None
        return self.take(n - 1).decode()

    def uuid(self):
        return self.take(16)

    def carr(self, dec):
        n = self.uvarint()
        if n == 0:
            return None
        return [dec(self) for _ in range(n - 1)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


class Conn:
    """One connection; request(api_key, version, body) -> Reader on the
    response body."""

    def __init__(self, bootstrap, timeout=10.0, client_id="cgraw"):
        host, port = bootstrap.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=timeout)
        self.corr = 0
        self.client_id = client_id.encode()

    def close(self):
        self.s.close()

    def _recv(self, n):
        out = b""
        while len(out) < n:
            c = self.s.recv(n - len(out))
            if not c:
                raise ConnectionError("closed")
            out += c
        return out

    def request(self, key, ver, body, flexible=True):
        self.corr += 1
        hdr = struct.pack(">hhi", key, ver, self.corr)
        cid = self.client_id
        hdr += struct.pack(">h", len(cid)) + cid
        if flexible:
            hdr += TAGS
        frame = hdr + body
        self.s.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", self._recv(4))[0]
        resp = self._recv(size)
        r = Reader(resp)
        assert r.i32() == self.corr
        if flexible:
            r.tags()
        return r

    # ---- ConsumerGroupHeartbeat (68) ----
    def heartbeat(self, group, member_id, epoch, instance_id=None, rack_id=None,
                  rebalance_ms=-1, topics=None, regex=None, assignor=None,
                  owned=None, version=1):
        """owned: None (null) or {topic_id_bytes: [partitions]}. Returns a
        dict: error, message, member_id, epoch, interval, assignment
        ({topic_id: sorted partitions} or None)."""
        body = cstr(group) + cstr(member_id) + struct.pack(">i", epoch)
        body += cstr(instance_id) + cstr(rack_id) + struct.pack(">i", rebalance_ms)
        body += carr(topics, cstr)
        if version >= 1:
            body += cstr(regex)
        body += cstr(assignor)
        if owned is None:
            body += uvarint(0)
        else:
            body += carr(list(owned.items()), lambda kv: kv[0] + carr(
                kv[1], lambda p: struct.pack(">i", p)) + TAGS)
        body += TAGS
        r = self.request(68, version, body)
        out = {"throttle": r.i32(), "error": r.i16(), "message": r.cstr(),
               "member_id": r.cstr(), "epoch": r.i32(), "interval": r.i32()}
        present = r.i8()
        out["assignment"] = None
        if present >= 0:
            tps = r.carr(lambda x: (x.uuid(), x.carr(lambda y: y.i32()), x.tags())[:2])
            r.tags()
            out["assignment"] = {t: sorted(ps) for t, ps in tps}
        r.tags()
        return out

    # ---- ConsumerGroupDescribe (69) v0 ----
    def describe(self, groups):
        body = carr(groups, cstr) + b"\x00" + TAGS
        r = self.request(69, 0, body)
        r.i32()

        def assignment(x):
            tps = x.carr(lambda y: (y.uuid(), y.cstr(), y.carr(lambda z: z.i32()), y.tags()))
            x.tags()
            return {name: sorted(ps) for (_, name, ps, _) in tps}

        def member(x):
            m = {"member_id": x.cstr(), "instance_id": x.cstr(), "rack_id": x.cstr(),
                 "epoch": x.i32(), "client_id": x.cstr(), "client_host": x.cstr(),
                 "topics": x.carr(lambda y: y.cstr()), "regex": x.cstr(),
                 "assignment": assignment(x), "target": assignment(x)}
            x.tags()
            return m

        def group(x):
            g = {"error": x.i16(), "message": x.cstr(), "group_id": x.cstr(),
                 "state": x.cstr(), "epoch": x.i32(), "assignment_epoch": x.i32(),
                 "assignor": x.cstr(), "members": x.carr(member), "ops": x.i32()}
            x.tags()
            return g
        return r.carr(group)

    # ---- OffsetCommit (8) v9 ----
    def commit(self, group, member_id, epoch, offsets, instance_id=None):
        """offsets: {(topic, partition): offset}. Returns {(t, p): error}."""
        by_topic = {}
        for (t, p), o in offsets.items():
            by_topic.setdefault(t, []).append((p, o))
        body = cstr(group) + struct.pack(">i", epoch) + cstr(member_id) + cstr(instance_id)
        body += carr(list(by_topic.items()), lambda kv: cstr(kv[0]) + carr(
            kv[1], lambda po: struct.pack(">iqi", po[0], po[1], -1) + cstr("") + TAGS) + TAGS)
        body += TAGS
        r = self.request(8, 9, body)
        r.i32()
        res = {}
        for t in r.carr(lambda x: (x.cstr(), x.carr(lambda y: (y.i32(), y.i16(), y.tags())), x.tags())):
            for (p, e, _) in t[1]:
                res[(t[0], p)] = e
        return res

    # ---- OffsetFetch (9) v9 ----
    def fetch(self, group, member_id, epoch, topic, partitions):
        """Returns (group error, {partition: offset})."""
        body = carr([0], lambda _: cstr(group) + cstr(member_id) + struct.pack(">i", epoch)
                    + carr([topic], lambda t: cstr(t) + carr(
                        partitions, lambda p: struct.pack(">i", p)) + TAGS) + TAGS)
        body += b"\x00" + TAGS
        r = self.request(9, 9, body)
        r.i32()

        def part(y):
            p, o, _le, _md, e = y.i32(), y.i64(), y.i32(), y.cstr(), y.i16()
            y.tags()
            return p, o, e

        def topic_(x):
            n = x.cstr()
            ps = x.carr(part)
            x.tags()
            return n, ps

        def grp(x):
            gid = x.cstr()
            ts = x.carr(topic_)
            e = x.i16()
            x.tags()
            return gid, ts, e
        groups = r.carr(grp)
        gid, ts, e = groups[0]
        offs = {}
        for (_, ps) in ts or []:
            for (p, o, _pe) in ps:
                offs[p] = o
        return e, offs


def new_member_id():
    """What Java/librdkafka clients do for v1: a random Uuid string."""
    import base64
    return base64.urlsafe_b64encode(_uuid.uuid4().bytes).decode().rstrip("=")
