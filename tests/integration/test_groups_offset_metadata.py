"""Offset-commit metadata is a Kafka STRING: its bytes come back exactly,
NUL bytes included, from OffsetFetch, before and after a restart (issue 15:
Sluice held it as a C string, so it came back and was stored in
__consumer_offsets cut at the first NUL). Committed with OffsetCommit and
with TxnOffsetCommit; raw protocol, as client libraries hand metadata over
as C strings themselves (librdkafka through confluent-kafka)."""

import struct
import time

import pytest

import grpraw
import harness
from grpraw import _str

# NUL bytes in valid UTF-8, at the start, middle and end, with multi-byte
# characters around them.
META = "\x00lead\x00ing é\x00\x00 ∑ trailing\x00"
META_TXN = "txn\x00é\x00"

OFFSET_METADATA_TOO_LARGE = 12


def fetch(bs, group, topic, partitions):
    c = grpraw.Conn(bs)
    try:
        c.find_coordinator(group)
        err, by_name = c.offset_fetch(group, {topic: partitions})
        err_all, every = c.offset_fetch(group, None)
    finally:
        c.close()
    assert err == 0 and err_all == 0
    # Asked by name and asked for every committed offset of the group.
    return by_name, {k: v for k, v in every.items() if k[0] == topic}


def settle(bs, group, topic, partitions, want, timeout=60):
    """Polls OffsetFetch (by name and for all) until both answer want (the
    coordinator may still be loading, a commit marker still on its way);
    then asserts it, so a failure shows what came back."""
    deadline = time.monotonic() + timeout
    while True:
        got = fetch(bs, group, topic, partitions)
        if got == (want, want) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == (want, want)


def test_offset_commit_metadata_with_nul_bytes_survives_fetch_and_restart(broker):
    bs = broker.bootstrap
    topic = harness.create_topic(bs, harness.unique_topic("meta"), partitions=3)
    group = harness.unique_topic("g-meta")
    c = grpraw.Conn(bs)
    try:
        c.find_coordinator(group)
        # A standalone commit (generation -1, no member), as an assign()ed
        # consumer does.
        # (null metadata is stored as "", Kafka's OffsetAndMetadata.NO_METADATA)
        res = c.commit(group, -1, "", {(topic, 0): (5, META), (topic, 1): (7, None),
                                       (topic, 2): (9, "\x00")})
        assert res == {(topic, 0): 0, (topic, 1): 0, (topic, 2): 0}
        # offset.metadata.max.bytes (4096) counts every byte, NULs too.
        res = c.commit(group, -1, "", {(topic, 1): (8, "\x00" * 4097)})
        assert res == {(topic, 1): OFFSET_METADATA_TOO_LARGE}
    finally:
        c.close()
    want = {(topic, 0): (5, META, 0), (topic, 1): (7, "", 0), (topic, 2): (9, "\x00", 0)}
    assert fetch(bs, group, topic, [0, 1, 2]) == (want, want)

    # Stored whole in __consumer_offsets: the same after a restart.
    broker.restart()
    settle(bs, group, topic, [0, 1, 2], want)


# ---- TxnOffsetCommit through a raw transactional producer (non-flexible
# versions: FindCoordinator v1, InitProducerId v1, AddOffsetsToTxn v1,
# TxnOffsetCommit v2, EndTxn v1).

RETRIABLE = (14, 15, 16, 51)  # LOAD_IN_PROGRESS, NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS


def call_retry(conn, key, ver, body, parse, what, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        r = conn.call(key, ver, body)
        res = parse(r)
        err = res[0]
        if err not in RETRIABLE or time.monotonic() > deadline:
            assert err == 0, "%s: error %d" % (what, err)
            return res
        time.sleep(0.3)


def txn_commit_offsets(bs, txn_id, group, topic, offsets):
    c = grpraw.Conn(bs)
    try:
        def coord(r):
            r.i32()
            return (r.i16(),)
        call_retry(c, 10, 1, _str(txn_id) + struct.pack(">b", 1), coord, "FindCoordinator(txn)")

        def init(r):
            r.i32()
            return r.i16(), r.i64(), r.i16()
        _, pid, epoch = call_retry(c, 22, 1, _str(txn_id) + struct.pack(">i", 60000), init,
                                   "InitProducerId")

        def err_only(r):
            r.i32()
            return (r.i16(),)
        call_retry(c, 25, 1, _str(txn_id) + struct.pack(">qh", pid, epoch) + _str(group),
                   err_only, "AddOffsetsToTxn")
        c.find_coordinator(group)
        parts = [struct.pack(">iqi", p, o, -1) + _str(md) for p, (o, md) in sorted(offsets.items())]
        body = (_str(txn_id) + _str(group) + struct.pack(">qh", pid, epoch)
                + struct.pack(">i", 1) + _str(topic) + struct.pack(">i", len(parts))
                + b"".join(parts))
        r = c.call(28, 2, body)
        r.i32()
        errs = {}
        for _ in range(r.i32()):
            r.str()
            for _ in range(r.i32()):
                p = r.i32()
                errs[p] = r.i16()
        assert errs == {p: 0 for p in offsets}
        # offset.metadata.max.bytes counts every byte here too.
        body = (_str(txn_id) + _str(group) + struct.pack(">qh", pid, epoch)
                + struct.pack(">i", 1) + _str(topic) + struct.pack(">i", 1)
                + struct.pack(">iqi", 0, 99, -1) + _str("\x00" * 4097))
        r = c.call(28, 2, body)
        r.i32()
        assert r.i32() == 1 and r.str() == topic and r.i32() == 1
        assert (r.i32(), r.i16()) == (0, OFFSET_METADATA_TOO_LARGE)
        call_retry(c, 26, 1, _str(txn_id) + struct.pack(">qhb", pid, epoch, 1), err_only,
                   "EndTxn")
    finally:
        c.close()


def test_txn_offset_commit_metadata_with_nul_bytes_survives_fetch_and_restart(broker):
    bs = broker.bootstrap
    topic = harness.create_topic(bs, harness.unique_topic("tmeta"), partitions=2)
    group = harness.unique_topic("g-tmeta")
    txn_commit_offsets(bs, harness.unique_topic("tx"), group, topic,
                       {0: (3, META_TXN), 1: (4, META)})
    want = {(topic, 0): (3, META_TXN, 0), (topic, 1): (4, META, 0)}
    # The commit marker reaches __consumer_offsets after EndTxn answers.
    settle(bs, group, topic, [0, 1], want)
    broker.restart()
    settle(bs, group, topic, [0, 1], want)


# ---- Identifiers with NUL bytes are other identifiers, never cut into an
# existing one.

def list_groups(bs):
    """ListGroups v2: {group_id: protocol_type}."""
    c = grpraw.Conn(bs)
    try:
        r = c.call(16, 2, b"")
        r.i32()
        assert r.i16() == 0
        return dict(r.arr(lambda: (r.str(), r.str())))
    finally:
        c.close()


def delete_groups(bs, groups):
    """DeleteGroups v1: {group_id: error}."""
    c = grpraw.Conn(bs)
    try:
        r = c.call(42, 1, grpraw._arr(groups, _str))
        r.i32()
        return dict(r.arr(lambda: (r.str(), r.i16())))
    finally:
        c.close()


def test_group_id_with_nul_byte_is_a_group_of_its_own(broker):
    """As on Apache Kafka, "g\0x" is a group of its own, not "g" (Sluice cut
    group ids at the NUL and wrote the other group's commits over g's
    offsets, then refused such ids): separate offsets before and after a
    restart, listed and described under its whole id, deleted alone."""
    bs = broker.bootstrap
    topic = harness.create_topic(bs, harness.unique_topic("gid"))
    group = harness.unique_topic("g-nul")
    other = group + "\x00x"
    c = grpraw.Conn(bs)
    try:
        c.find_coordinator(group)
        assert c.commit(group, -1, "", {(topic, 0): (5, "A")}) == {(topic, 0): 0}
        c.find_coordinator(other)
        assert c.commit(other, -1, "", {(topic, 0): (99, "B")}) == {(topic, 0): 0}
        described = c.describe([group, other])
    finally:
        c.close()
    assert [(d["error"], d["group"], d["state"]) for d in described] == [
        (0, group, "Empty"), (0, other, "Empty")]
    settle(bs, group, topic, [0], {(topic, 0): (5, "A", 0)})
    settle(bs, other, topic, [0], {(topic, 0): (99, "B", 0)})
    listed = list_groups(bs)
    assert group in listed and other in listed
    broker.restart()
    settle(bs, group, topic, [0], {(topic, 0): (5, "A", 0)})
    settle(bs, other, topic, [0], {(topic, 0): (99, "B", 0)})
    assert delete_groups(bs, [other]) == {other: 0}
    # asked by name: none committed; asked for all: nothing
    assert fetch(bs, other, topic, [0]) == ({(topic, 0): (-1, "", 0)}, {})
    settle(bs, group, topic, [0], {(topic, 0): (5, "A", 0)})
    listed = list_groups(bs)
    assert group in listed and other not in listed


def init_producer_id(bs, txn_id):
    c = grpraw.Conn(bs)
    try:
        def coord(r):
            r.i32()
            return (r.i16(),)
        call_retry(c, 10, 1, _str(txn_id) + struct.pack(">b", 1), coord, "FindCoordinator(txn)")

        def init(r):
            r.i32()
            return r.i16(), r.i64(), r.i16()
        _, pid, epoch = call_retry(c, 22, 1, _str(txn_id) + struct.pack(">i", 60000), init,
                                   "InitProducerId")
        return pid, epoch
    finally:
        c.close()


def test_transactional_id_with_nul_byte_is_a_transactional_id_of_its_own(broker):
    """"t\\0x" gets its own producer id, and its state in __transaction_state
    does not replace t's: after a restart t still has its producer id."""
    bs = broker.bootstrap
    tid = harness.unique_topic("tx-nul")
    pid, epoch = init_producer_id(bs, tid)
    other_pid, _ = init_producer_id(bs, tid + "\x00x")
    assert other_pid != pid
    assert init_producer_id(bs, tid) == (pid, epoch + 1)
    broker.restart()
    assert init_producer_id(bs, tid) == (pid, epoch + 2)
    assert init_producer_id(bs, tid + "\x00x")[0] == other_pid


REBALANCE_IN_PROGRESS = 27


def test_static_members_and_client_id_with_nul_bytes_keep_all_their_bytes(broker):
    """group.instance.id "i\\0a" and "i\\0b" are two static members, as on
    Kafka (Sluice cut them to "i": the second took over the first's identity
    and fenced it); a client id with a NUL comes back whole in
    DescribeGroups, and member ids are made from the whole instance id."""
    import threading

    bs = broker.bootstrap
    topic = harness.create_topic(bs, harness.unique_topic("static"))
    group = harness.unique_topic("g-static")
    cid = "cl\x00ient"
    a = grpraw.Conn(bs, client_id=cid)
    b = grpraw.Conn(bs, client_id=cid)
    try:
        a.find_coordinator(group)
        ja = a.join_full(group, instance_id="i\x00a", topics=[topic])
        assert ja["error"] == 0, ja
        mid_a = ja["member_id"]
        assert mid_a.startswith("i\x00a-")
        assert a.sync(group, ja["generation"], mid_a, [(mid_a, b"")],
                      instance_id="i\x00a")["error"] == 0
        got = {}
        t = threading.Thread(target=lambda: got.update(
            b.join_full(group, instance_id="i\x00b", topics=[topic])))
        t.start()
        # b's join starts a rebalance: a is told so and rejoins (it is not
        # fenced: its instance id is another one).
        deadline = time.monotonic() + 30
        while a.heartbeat(group, ja["generation"], mid_a, "i\x00a") != REBALANCE_IN_PROGRESS:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        ja2 = a.join(group, member_id=mid_a, instance_id="i\x00a", topics=[topic])
        t.join(60)
        assert ja2["error"] == 0 and got["error"] == 0, (ja2, got)
        assert got["member_id"].startswith("i\x00b-")
        assert ja2["generation"] == got["generation"] == ja["generation"] + 1
        d = a.describe([group])[0]
    finally:
        a.close()
        b.close()
    assert d["error"] == 0
    members = sorted((m["instance_id"], m["member_id"], m["client_id"]) for m in d["members"])
    assert members == [("i\x00a", mid_a, cid), ("i\x00b", got["member_id"], cid)]


INCONSISTENT_GROUP_PROTOCOL = 23


def test_protocol_type_and_name_with_nul_bytes_keep_all_their_bytes(broker):
    """A classic group's protocol type and protocol names are compared and
    described whole, as on Kafka: "con\\0sumer" is not "con" (Sluice cut both
    at the NUL and let a "con" member into a "con\\0sumer" group)."""
    bs = broker.bootstrap
    topic = harness.create_topic(bs, harness.unique_topic("ptype"))
    group = harness.unique_topic("g-ptype")
    sub = grpraw.subscription([topic])
    a = grpraw.Conn(bs)
    try:
        a.find_coordinator(group)
        ja = a.join_full(group, topics=[topic], protocol_type="con\x00sumer",
                         protocols=[("ra\x00nge", sub)])
        assert (ja["error"], ja["protocol"]) == (0, "ra\x00nge"), ja
        mid = ja["member_id"]
        assert a.sync(group, ja["generation"], mid, [(mid, b"")])["error"] == 0
        d = a.describe([group])[0]
        assert (d["error"], d["state"], d["protocol_type"], d["protocol"]) == (
            0, "Stable", "con\x00sumer", "ra\x00nge")
        jb = a.join_full(group, topics=[topic], protocol_type="con",
                         protocols=[("ra\x00nge", sub)])
        assert jb["error"] == INCONSISTENT_GROUP_PROTOCOL, jb
        jc = a.join_full(group, topics=[topic], protocol_type="con\x00sumer",
                         protocols=[("ra", sub)])
        assert jc["error"] == INCONSISTENT_GROUP_PROTOCOL, jc
    finally:
        a.close()


INVALID_TOPIC_EXCEPTION = 17


def test_topic_name_with_nul_byte_is_illegal_not_another_topic(broker):
    """Topic names are checked and looked up with all their bytes: creating
    "x\\0y" is INVALID_TOPIC_EXCEPTION as on Kafka (Sluice validated and
    created "x"), and OffsetDelete of "t\\0y" in a group does not delete the
    group's offsets of "t" (Sluice looked "t" up)."""
    bs = broker.bootstrap
    base = harness.unique_topic("nulname")
    def create(name):
        body = harness.karray([harness.kstr(name) + struct.pack(">ihii", 1, 1, 0, 0)])
        r = grpraw.R(harness.kafka_request(bs, 19, 4, body + struct.pack(">ib", 30000, 0)))
        r.i32()
        return r.arr(lambda: (r.str(), r.i16(), r.str()))[0]

    name, err, msg = create(base + "\x00y")
    assert (name, err) == (base + "\x00y", INVALID_TOPIC_EXCEPTION)
    # Kafka 4.3's message (Sluice's quotes the name up to the NUL)
    assert msg.startswith("Topic name is invalid: '" + base)
    assert msg.endswith("' contains one or more characters other than "
                        "ASCII alphanumerics, '.', '_' and '-'")
    # nothing was created under the name cut at the NUL
    assert create(base)[:2] == (base, 0)
    c = grpraw.Conn(bs)
    try:
        topic = harness.create_topic(bs, harness.unique_topic("od"))
        group = harness.unique_topic("g-od")
        c.find_coordinator(group)
        assert c.commit(group, -1, "", {(topic, 0): (7, "m")}) == {(topic, 0): 0}
        # OffsetDelete v0: group, [topic, [partition]]
        r = c.call(47, 0, _str(group) + grpraw._arr(
            [topic + "\x00y"], lambda t: _str(t) + grpraw._arr([0], lambda p: struct.pack(">i", p))))
        assert r.i16() == 0
    finally:
        c.close()
    settle(bs, group, topic, [0], {(topic, 0): (7, "m", 0)})
