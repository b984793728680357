"""Fetches smaller than a batch must still reach every partition (KIP-74,
KIP-227).

- The first partition with data returns its first batch whole even when it
  is larger than max_bytes and partition_max_bytes; a later partition whose
  first batch does not fit in what is left returns no records at all (Kafka
  drops an incomplete first entry).
- In an incremental fetch session the partitions that returned records move
  to the end of the session's order (Kafka's IncrementalFetchContext), so a
  consumer whose fetch holds one batch reads the partitions in turn instead
  of draining the first one before the others get a byte.
The raw Fetch (v11) test checks the order exactly; the client test checks
that a consumer with limits of a few hundred bytes reads every record of
every partition, an oversized one included.
"""

import struct
import time

import pytest

import harness
from harness import create_topic, kafka_request, karray, kstr, unique_topic

pytestmark = pytest.mark.usefixtures("shared_broker")


def one_batch(value, key=b"k"):
    from kafka.record.default_records import DefaultRecordBatchBuilder
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    b.append(0, int(time.time() * 1000), key, value, [])
    return bytes(b.build())


def produce_batch(bootstrap, topic, partition, records):
    """Produce v3: one batch; asserts success (retrying
    NOT_LEADER_OR_FOLLOWER while a new topic's leader settles on Kafka)."""
    body = struct.pack(">hhi", -1, 1, 30000) + karray([kstr(topic) + karray([
        struct.pack(">ii", partition, len(records)) + records])])
    deadline = time.monotonic() + 30
    while True:
        r = kafka_request(bootstrap, 0, 3, body)
        n = struct.unpack_from(">h", r, 4)[0]
        err = struct.unpack_from(">h", r, 4 + 2 + n + 4 + 4)[0]
        if err != 6 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert err == 0, "produce error %d" % err


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


def fetch_v11(bootstrap, parts, session_id, epoch, max_bytes, part_max, forgotten=()):
    """parts: [(topic, partition, fetch_offset)] in request order. Returns
    (error, session_id, [(topic, partition, error, hw, records_bytes)]) in
    response order."""
    topics = []
    for t, p, off in parts:
        if topics and topics[-1][0] == t:
            topics[-1][1].append((p, off))
        else:
            topics.append((t, [(p, off)]))
    body = struct.pack(">iiiibii", -1, 200, 1, max_bytes, 0, session_id, epoch)
    body += karray([kstr(t) + karray([struct.pack(">iiqqi", p, -1, off, -1, part_max)
                                      for p, off in ps]) for t, ps in topics])
    body += karray([kstr(t) + karray([struct.pack(">i", p) for p in ps])
                    for t, ps in forgotten])
    body += kstr("")
    r = _Reader(kafka_request(bootstrap, 1, 11, body))
    r.take(">i")
    err, sid = r.take(">h"), r.take(">i")
    out = []
    for _ in range(r.take(">i")):
        t = r.raw(r.take(">h")).decode()
        for _ in range(r.take(">i")):
            p, perr, hw = r.take(">i"), r.take(">h"), r.take(">q")
            r.take(">q"), r.take(">q")
            na = r.take(">i")
            for _ in range(max(na, 0)):
                r.take(">q"), r.take(">q")
            r.take(">i")
            n = r.take(">i")
            out.append((t, p, perr, hw, r.raw(n) if n > 0 else b""))
    return err, sid, out


def complete_batches(data):
    """(base_offset, last_offset) of each whole batch at the start of data."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        if pos + 12 + length > len(data):
            break
        delta = struct.unpack_from(">i", data, pos + 23)[0]
        out.append((base, base + delta))
        pos += 12 + length
    return out


def test_incremental_session_rotates_partitions_that_returned_records(shared_broker):
    bs = shared_broker.bootstrap
    nparts, per = 3, 4
    t = create_topic(bs, unique_topic("fsmall"), partitions=nparts)
    for p in range(nparts):
        for i in range(per):
            produce_batch(bs, t, p, one_batch(b"%d-%d-" % (p, i) + b"x" * 120))
    size = len(one_batch(b"0-0-" + b"x" * 120))
    limit = size + size // 2  # one batch whole, the next one cut
    offsets = {p: 0 for p in range(nparts)}
    err, sid, resp = fetch_v11(bs, [(t, p, 0) for p in range(nparts)], 0, 0, limit, limit)
    assert err == 0 and sid != 0
    # Full fetch, request order: p0 one whole batch (+ a cut one), the rest
    # nothing: p1's first batch does not fit in what is left.
    assert [(p, len(complete_batches(d)), len(d)) for _, p, _, _, d in resp] == \
        [(0, 1, limit), (1, 0, 0), (2, 0, 0)]
    served = [0]
    offsets[0] = 1
    changed = [0]
    epoch = 1
    seen = {p: [(0, 0)] if p == 0 else [] for p in range(nparts)}
    for _ in range(nparts * per * 2):
        if all(off == per for off in offsets.values()):
            break
        err, sid2, resp = fetch_v11(bs, [(t, p, offsets[p]) for p in changed], sid, epoch,
                                    limit, limit)
        assert (err, sid2) == (0, sid)
        epoch += 1
        changed = []
        first = None
        for _, p, perr, _, d in resp:
            assert perr == 0
            whole = complete_batches(d)
            assert whole or not d, "a first batch cut short is sent as no records"
            if whole:
                first = p if first is None else first
                assert whole[0][0] == offsets[p]
                seen[p] += whole
                offsets[p] = whole[-1][1] + 1
                changed.append(p)
        if first is not None:
            served.append(first)
    # Kafka: p0 (full fetch), p0 again (no rotation after a full fetch),
    # then each partition in turn.
    assert served[:5] == [0, 0, 1, 2, 0], served
    assert all(len({p for p in served[i:i + 3]}) == 3 for i in range(1, 8)), served
    assert {p: [b for b, _ in seen[p]] for p in seen} == \
        {p: list(range(per)) for p in range(nparts)}


def test_consumer_with_tiny_fetch_limits_reads_every_partition(shared_broker):
    bs = shared_broker.bootstrap
    nparts, per = 4, 30
    t = create_topic(bs, unique_topic("fsmallc"), partitions=nparts)
    want = set()
    for p in range(nparts):
        for i in range(per):
            v = b"%d-%d-" % (p, i) + b"y" * 80
            produce_batch(bs, t, p, one_batch(v))
            want.add(v)
    big = b"big-" + b"z" * 5000  # larger than every fetch limit below
    produce_batch(bs, t, 1, one_batch(big))
    want.add(big)
    c = harness.consumer(bs, **{"fetch.max.bytes": 1000, "message.max.bytes": 1000,
                                "max.partition.fetch.bytes": 300, "fetch.wait.max.ms": 50,
                                "auto.offset.reset": "earliest"})
    try:
        import confluent_kafka as ck
        c.assign([ck.TopicPartition(t, p, ck.OFFSET_BEGINNING) for p in range(nparts)])
        got, order = set(), []
        deadline = time.monotonic() + 90
        while got != want and time.monotonic() < deadline:
            for m in c.consume(50, timeout=0.5):
                assert not m.error(), m.error()
                got.add(m.value())
                order.append(m.partition())
        assert got == want
        # every partition progressed before any one was drained
        first_quarter = order[:len(order) // 4]
        assert set(first_quarter) == set(range(nparts)), first_quarter
    finally:
        c.close()


def test_oversized_first_batch_returned_whole(shared_broker):
    """KIP-74: the first partition with data returns its first batch whole
    even when it is larger than max_bytes and partition_max_bytes; what is
    left for the next partition is then nothing."""
    bs = shared_broker.bootstrap
    t = create_topic(bs, unique_topic("fbig"), partitions=2)
    big = one_batch(b"z" * 2000)
    produce_batch(bs, t, 0, big)
    produce_batch(bs, t, 1, one_batch(b"small"))
    err, _, resp = fetch_v11(bs, [(t, 0, 0), (t, 1, 0)], 0, -1, 300, 300)
    assert err == 0
    got = {p: d for _, p, _, _, d in resp}
    assert len(got[0]) == len(big) and complete_batches(got[0]) == [(0, 0)]
    assert got[1] == b""
    # the other way round: the small batch first, then nothing fits
    err, _, resp = fetch_v11(bs, [(t, 1, 0), (t, 0, 0)], 0, -1, 300, 300)
    got = {p: d for _, p, _, _, d in resp}
    assert complete_batches(got[1]) == [(0, 0)] and got[0] == b""
