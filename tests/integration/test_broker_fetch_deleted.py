"""Fetch answers about a deleted topic, read raw (Fetch v13: topic ids,
flexible encoding), as Kafka gives them:

- a partition kept in an incremental fetch session (it has the name it had)
  gets UNKNOWN_TOPIC_OR_PARTITION once its topic is gone, and
  INCONSISTENT_TOPIC_ID once a topic of that name exists again under another
  id; a full fetch naming an id nobody knows gets UNKNOWN_TOPIC_ID;
- a fetch waiting (max_wait) on a partition is answered as soon as the topic
  is deleted (Kafka's DelayedFetch completes when a partition is gone);
- a partition of a deleted topic does not make a fetch answer at once when
  the others have nothing: the fetch waits its max_wait like any other
  (Kafka sets such partitions aside before reading), so a client that keeps
  it in its session does not spin.
"""

import socket
import struct
import threading
import time

import pytest

import harness
from harness import create_topic, unique_topic, uvarint

pytestmark = pytest.mark.usefixtures("shared_broker")

UNKNOWN_TOPIC_OR_PARTITION = 3
UNKNOWN_TOPIC_ID = 100
INCONSISTENT_TOPIC_ID = 103


class _Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def raw(self, n):
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def uvarint(self):
        n = shift = 0
        while True:
            b = self.b[self.p]
            self.p += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.raw(self.uvarint())


def flexible_request(bootstrap, api_key, version, body, timeout=30.0):
    """Request header v2, response header v1; returns the response body."""
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.settimeout(timeout)
        hdr = struct.pack(">hhi", api_key, version, 11) + harness.kstr("sluice-test") + b"\x00"
        frame = hdr + body
        s.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", harness._recv_exact(s, 4))[0]
        resp = harness._recv_exact(s, size)
    assert struct.unpack(">i", resp[:4])[0] == 11
    return resp[5:]  # correlation id + empty tagged fields


def fetch_v13(bootstrap, parts, session_id=0, epoch=-1, max_wait=0, forgotten=()):
    """parts: [(topic_id bytes, partition, fetch_offset)], forgotten:
    [(topic_id bytes, [partition])]. Returns
    (error, session_id, {(topic_id, partition): error_code})."""
    body = struct.pack(">iiiibii", -1, max_wait, 1, 1 << 20, 0, session_id, epoch)
    body += uvarint(len(parts) + 1)
    for tid, p, off in parts:
        body += tid + uvarint(2) + struct.pack(">iiqiqi", p, -1, off, -1, -1, 1 << 20) + b"\x00"
        body += b"\x00"
    body += uvarint(len(forgotten) + 1)
    for tid, ps in forgotten:
        body += tid + uvarint(len(ps) + 1) + b"".join(struct.pack(">i", p) for p in ps)
        body += b"\x00"
    body += uvarint(1)  # rack_id ""
    body += b"\x00"
    r = _Reader(flexible_request(bootstrap, 1, 13, body, timeout=max_wait / 1000 + 30))
    r.take(">i")
    err, sid = r.take(">h"), r.take(">i")
    out = {}
    for _ in range(r.uvarint() - 1):
        tid = r.raw(16)
        for _ in range(r.uvarint() - 1):
            p, perr = r.take(">i"), r.take(">h")
            r.take(">q"), r.take(">q"), r.take(">q")
            na = r.uvarint() - 1
            for _ in range(max(na, 0)):
                r.take(">q"), r.take(">q")
                r.tags()
            r.take(">i")
            n = r.uvarint() - 1
            if n > 0:
                r.raw(n)
            r.tags()
            out[(tid, p)] = perr
        r.tags()
    return err, sid, out


def topic_id(bootstrap, name):
    from confluent_kafka import TopicCollection
    a = harness.admin(bootstrap)
    d = a.describe_topics(TopicCollection([name]))[name].result(30)
    u = d.topic_id
    return struct.pack(">qq", u.get_most_significant_bits(), u.get_least_significant_bits())


def fetchable(bootstrap, name):
    """The topic's id once Fetch answers partition 0 without error (Kafka
    may say NOT_LEADER_OR_FOLLOWER for a moment after CreateTopics)."""
    tid = topic_id(bootstrap, name)
    harness.wait_for(lambda: fetch_v13(bootstrap, [(tid, 0, 0)])[2] == {(tid, 0): 0}, 30,
                     what="%s fetchable" % name)
    return tid


def delete_topic(bootstrap, name):
    a = harness.admin(bootstrap)
    a.delete_topics([name], operation_timeout=30)[name].result(60)

    def gone():
        md = a.list_topics(timeout=10)
        return name not in md.topics
    harness.wait_for(gone, 30, what="%s gone from Metadata" % name)


def test_session_partition_of_deleted_and_recreated_topic(shared_broker):
    bs = shared_broker.bootstrap
    name = unique_topic("fdel")
    create_topic(bs, name)
    old = fetchable(bs, name)
    err, sid, out = fetch_v13(bs, [(old, 0, 0)], 0, 0)
    assert (err, out) == (0, {(old, 0): 0}) and sid != 0
    delete_topic(bs, name)
    err, sid2, out = fetch_v13(bs, [], sid, 1)
    assert (err, sid2, out) == (0, sid, {(old, 0): UNKNOWN_TOPIC_OR_PARTITION})
    # A full fetch by the old id: nobody knows it.
    err, _, out = fetch_v13(bs, [(old, 0, 0)])
    assert (err, out) == (0, {(old, 0): UNKNOWN_TOPIC_ID})
    # The name comes back under a new id: the session's partition is
    # inconsistent, a full fetch of the old id still unknown.
    create_topic(bs, name)
    assert topic_id(bs, name) != old
    epoch, deadline = 2, time.monotonic() + 20
    while True:
        err, _, out = fetch_v13(bs, [], sid, epoch)
        epoch += 1
        if out != {(old, 0): UNKNOWN_TOPIC_OR_PARTITION} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (err, out) == (0, {(old, 0): INCONSISTENT_TOPIC_ID})


def test_waiting_fetch_answers_when_its_topic_is_deleted(shared_broker):
    bs = shared_broker.bootstrap
    name = create_topic(bs, unique_topic("fdelw"))
    tid = fetchable(bs, name)
    res = {}

    def waiter():
        res["answer"] = fetch_v13(bs, [(tid, 0, 0)], max_wait=15000)
        res["at"] = time.monotonic()

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(1.0)
    t_del = time.monotonic()
    delete_topic(bs, name)
    th.join(30)
    assert res["answer"][2] == {(tid, 0): UNKNOWN_TOPIC_OR_PARTITION}
    # answered at the delete, not at the end of the 15 s wait
    assert res["at"] - t_del < 8.0, "answered %.1fs after the delete" % (res["at"] - t_del)


def test_deleted_partition_in_session_does_not_cut_the_wait(shared_broker):
    bs = shared_broker.bootstrap
    gone = create_topic(bs, unique_topic("fdelg"))
    live = create_topic(bs, unique_topic("fdell"))
    gid, lid = fetchable(bs, gone), fetchable(bs, live)
    err, sid, out = fetch_v13(bs, [(gid, 0, 0), (lid, 0, 0)], 0, 0)
    assert err == 0 and out == {(gid, 0): 0, (lid, 0): 0}
    delete_topic(bs, gone)
    t0 = time.monotonic()
    err, _, out = fetch_v13(bs, [], sid, 1, max_wait=2000)
    took = time.monotonic() - t0
    assert (err, out) == (0, {(gid, 0): UNKNOWN_TOPIC_OR_PARTITION})
    assert took >= 1.5, "answered after %.2fs, before max_wait" % took
    # Only partitions nobody knows: nothing to wait for.
    t0 = time.monotonic()
    err, _, out = fetch_v13(bs, [(gid, 0, 0)], max_wait=5000)
    assert out == {(gid, 0): UNKNOWN_TOPIC_ID} and time.monotonic() - t0 < 4.0
    # Forgetting every partition leaves an empty session: answered at once.
    t0 = time.monotonic()
    err, _, out = fetch_v13(bs, [], sid, 2, max_wait=5000,
                            forgotten=[(gid, [0]), (lid, [0])])
    assert (err, out) == (0, {}) and time.monotonic() - t0 < 4.0
