"""Produce error answers, read raw (Produce v8, non-flexible) so the test sees
the broker's own error_code, error_message and record_errors, not a client
library's reading of them.

Kafka's LogValidator checks every record of a batch and, when some fail,
lists each of them in record_errors (batch_index + per-record message); the
partition's error_message is "One or more records have been rejected due to
N record errors in total, and only showing the first three errors at most:
[RecordError(...), ...]" for INVALID_RECORD, "One or more records have been
rejected due to invalid timestamp" when one of them has a bad timestamp
(INVALID_TIMESTAMP). Every other Produce error comes without error_message
(LogAppendResult.hasCustomErrorMessage). Nothing of a rejected batch is
written.
"""

import re
import struct
import time

import pytest

import harness
from harness import create_topic, kafka_request, karray, kstr, unique_topic

pytestmark = pytest.mark.usefixtures("shared_broker")

INVALID_TIMESTAMP = 32
UNKNOWN_TOPIC_OR_PARTITION = 3
CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
INVALID_RECORD = 87
UNSUPPORTED_COMPRESSION_TYPE = 76
UNKNOWN_SERVER_ERROR = -1
INVALID_REQUIRED_ACKS = 21

HOUR = 3600000


def batch(records, compression=0, log_append_time=None):
    """A magic-2 batch of (key, value, timestamp_ms) records. With
    log_append_time, the batch claims LogAppendTime (attribute bit 3) with
    that maxTimestamp, as no well-behaved producer does."""
    from kafka.record.default_records import DefaultRecordBatchBuilder
    from kafka.record.util import calc_crc32c
    b = DefaultRecordBatchBuilder(magic=2, compression_type=compression,
                                  is_transactional=False, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    for i, (k, v, ts) in enumerate(records):
        b.append(i, ts, k, v, [])
    data = bytearray(b.build())
    # kafka-python keeps a batch uncompressed when that is smaller
    assert struct.unpack_from(">h", data, 21)[0] & 7 == compression
    if log_append_time is not None:
        attrs = struct.unpack_from(">h", data, 21)[0] | 0x08
        struct.pack_into(">h", data, 21, attrs)
        struct.pack_into(">q", data, 35, log_append_time)
        struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    return bytes(data)


def produce_multi(bootstrap, parts, acks=-1, version=8):
    """One Produce request: parts = [(topic, partition, records)], a topic's
    partitions adjacent. Returns the partition answers in order, as dicts
    (record_errors as [(batch_index, message)])."""
    topics = []
    for t, p, recs in parts:
        if not topics or topics[-1][0] != t:
            topics.append((t, []))
        topics[-1][1].append(struct.pack(">ii", p, len(recs)) + recs)
    body = struct.pack(">hhi", -1, acks, 30000) + karray(
        [kstr(t) + karray(ps) for t, ps in topics])
    r = _Reader(kafka_request(bootstrap, 0, version, body))
    out = []
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            p = {"index": r.i32(), "error_code": r.i16(), "base_offset": r.i64(),
                 "log_append_time": r.i64()}
            if version >= 5:
                p["log_start_offset"] = r.i64()
            if version >= 8:
                p["record_errors"] = [(r.i32(), r.string()) for _ in range(r.i32())]
                p["error_message"] = r.string()
            out.append(p)
    return out


def produce_raw(bootstrap, topic, records, partition=0, version=8, acks=-1):
    """One Produce request for one partition; its answer."""
    [p] = produce_multi(bootstrap, [(topic, partition, records)], acks, version)
    return p


class _Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def _take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def i16(self):
        return self._take(">h")

    def i32(self):
        return self._take(">i")

    def i64(self):
        return self._take(">q")

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        s = self.b[self.p:self.p + n].decode()
        self.p += n
        return s


def new_topic(bootstrap, prefix, partitions=1, config=None):
    """A new topic whose partitions answer ListOffsets (Kafka says
    NOT_LEADER_OR_FOLLOWER for a moment after CreateTopics, and that error
    comes before the ones checked here)."""
    t = create_topic(bootstrap, unique_topic(prefix), partitions=partitions, config=config)
    for p in range(partitions):
        end_offset(bootstrap, t, p)
    return t


def summary(errors):
    """Kafka's error_message for INVALID_RECORD (Java List.toString of the
    first three RecordErrors)."""
    shown = ", ".join("RecordError(batchIndex=%d, message='%s')" % e for e in errors[:3])
    return ("One or more records have been rejected due to %d record errors in total, "
            "and only showing the first three errors at most: [%s]" % (len(errors), shown))


def end_offset(bootstrap, topic, partition=0):
    """The log end offset (retrying while a new topic's partition is not
    ready on Kafka yet)."""
    res = {}

    def ok():
        err, _, off = harness.list_offsets_raw(bootstrap, topic, partition)
        res["off"] = off
        return err == 0
    harness.wait_for(ok, 30, what="ListOffsets of %s-%d" % (topic, partition))
    return res["off"]


@pytest.mark.parametrize("compression", [0, 1], ids=["none", "gzip"])
def test_compacted_topic_lists_every_record_without_key(shared_broker, compression):
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-compact", config={"cleanup.policy": "compact"})
    now = int(time.time() * 1000)
    v = b"v" * 100
    recs = [(None, v, now), (b"k1", v, now), (None, v, now), (None, v, now), (None, v, now)]
    p = produce_raw(bs, t, batch(recs, compression))
    msg = "Compacted topic cannot accept message without key in topic partition %s-0" % t
    want = [(0, msg), (2, msg), (3, msg), (4, msg)]
    assert p["error_code"] == INVALID_RECORD
    assert p["record_errors"] == want
    assert p["error_message"] == summary(want)
    assert (p["base_offset"], p["log_append_time"], p["log_start_offset"]) == (-1, -1, 0)
    assert end_offset(bs, t) == 0, "nothing of a rejected batch is written"
    # The same batch with keys everywhere goes in whole.
    ok = produce_raw(bs, t, batch([(b"k", v, ts) for _, v, ts in recs], compression))
    assert (ok["error_code"], ok["base_offset"], ok["record_errors"], ok["error_message"]) \
        == (0, 0, [], None)
    assert end_offset(bs, t) == 5


TS_RE = re.compile(r"Timestamp (-?\d+) of message with offset (\d+) is out of range\. "
                   r"The timestamp should be within \[(-?\d+), (-?\d+)\]$")


@pytest.mark.parametrize("compression", [0, 1], ids=["none", "gzip"])
def test_bad_timestamps_listed_with_invalid_timestamp(shared_broker, compression):
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-ts", config={
        "message.timestamp.before.max.ms": HOUR, "message.timestamp.after.max.ms": HOUR})
    now = int(time.time() * 1000)
    stamps = [now, now - 3 * HOUR, now, now + 5 * HOUR, now - 2 * HOUR]
    before = int(time.time() * 1000)
    p = produce_raw(bs, t, batch([(b"k", b"v" * 100, ts) for ts in stamps], compression))
    after = int(time.time() * 1000)
    assert p["error_code"] == INVALID_TIMESTAMP
    assert p["error_message"] == "One or more records have been rejected due to invalid timestamp"
    assert [i for i, _ in p["record_errors"]] == [1, 3, 4]
    for i, text in p["record_errors"]:
        m = TS_RE.match(text)
        assert m, text
        ts, off, lo, hi = (int(x) for x in m.groups())
        assert (ts, off) == (stamps[i], i)
        assert hi - lo == 2 * HOUR and before <= lo + HOUR <= after
    assert end_offset(bs, t) == 0


def test_key_and_timestamp_errors_together_are_invalid_timestamp(shared_broker):
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-mixed", config={
        "cleanup.policy": "compact", "message.timestamp.before.max.ms": HOUR})
    now = int(time.time() * 1000)
    recs = [(None, b"a", now), (b"k", b"b", now - 2 * HOUR), (b"k", b"c", now)]
    p = produce_raw(bs, t, batch(recs))
    assert p["error_code"] == INVALID_TIMESTAMP
    assert p["error_message"] == "One or more records have been rejected due to invalid timestamp"
    assert [i for i, _ in p["record_errors"]] == [0, 1]
    assert p["record_errors"][0][1] == \
        "Compacted topic cannot accept message without key in topic partition %s-0" % t
    assert TS_RE.match(p["record_errors"][1][1])


def test_producer_set_log_append_time_rejected_per_record(shared_broker):
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-lat", config={"message.timestamp.type": "LogAppendTime"})
    now = int(time.time() * 1000)
    p = produce_raw(bs, t, batch([(b"key", b"v0", now), (None, b"value1", now)],
                                 log_append_time=now))
    assert p["error_code"] == INVALID_TIMESTAMP
    assert p["error_message"] == "One or more records have been rejected due to invalid timestamp"
    tail = ". Producer should not set timestamp type to LogAppendTime."
    assert p["record_errors"] == [
        (0, "Invalid timestamp type in message DefaultRecord(offset=0, timestamp=%d, "
            "key=3 bytes, value=2 bytes)%s" % (now, tail)),
        (1, "Invalid timestamp type in message DefaultRecord(offset=1, timestamp=%d, "
            "key=0 bytes, value=6 bytes)%s" % (now, tail))]
    assert end_offset(bs, t) == 0


def test_other_errors_have_no_error_message(shared_broker):
    """Errors that are not a record validation come without error_message
    and without record_errors."""
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-other", config={"max.message.bytes": 200})
    now = int(time.time() * 1000)
    p = produce_raw(bs, unique_topic("pe-missing"), batch([(b"k", b"v", now)]))
    assert (p["error_code"], p["record_errors"], p["error_message"]) == \
        (UNKNOWN_TOPIC_OR_PARTITION, [], None)
    big = produce_raw(bs, t, batch([(b"k", b"x" * 400, now)]))
    assert (big["error_code"], big["record_errors"], big["error_message"]) == \
        (MESSAGE_TOO_LARGE, [], None)
    bad_crc = bytearray(batch([(b"k", b"v", now)]))
    bad_crc[-1] ^= 0xFF
    c = produce_raw(bs, t, bytes(bad_crc))
    assert (c["error_code"], c["record_errors"], c["error_message"]) == \
        (CORRUPT_MESSAGE, [], None)
    assert end_offset(bs, t) == 0


def test_zstd_needs_produce_v7(shared_broker):
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-zstd")
    now = int(time.time() * 1000)
    zb = batch([(b"k", b"v" * 200, now)], compression=4)
    assert produce_raw(bs, t, zb, version=6)["error_code"] == UNSUPPORTED_COMPRESSION_TYPE
    assert produce_raw(bs, t, zb, version=7)["error_code"] == 0


def test_v7_invalid_record_code_only(shared_broker):
    """Before v8 the answer has no record_errors: only the code."""
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-v7", config={"cleanup.policy": "compact"})
    p = produce_raw(bs, t, batch([(None, b"v", int(time.time() * 1000))]), version=7)
    assert p["error_code"] == INVALID_RECORD and "record_errors" not in p


def short(p):
    return (p["error_code"], p["log_start_offset"], p["record_errors"], p["error_message"])


def recrc(data):
    from kafka.record.util import calc_crc32c
    data = bytearray(data)
    struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    return bytes(data)


def test_malformed_records_per_partition(shared_broker):
    """ProduceRequest.validateRecords: exactly one whole magic-2 batch;
    bytes after it that do not make a whole batch are dropped."""
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-bad")
    now = int(time.time() * 1000)
    good = batch([(b"k", b"v", now)])
    for name, recs in [("truncated", good[:-5]), ("two batches", good + good),
                       ("empty", b""), ("header only", good[:30]),
                       ("magic 1", good[:16] + b"\x01" + good[17:])]:
        assert short(produce_raw(bs, t, recs)) == (INVALID_RECORD, -1, [], None), name
    # a second batch whose size field is impossible
    tail = good[:8] + struct.pack(">i", 5)
    assert short(produce_raw(bs, t, good + tail)) == (CORRUPT_MESSAGE, -1, [], None)
    assert end_offset(bs, t) == 0
    # a partial second batch is dropped, the first one written
    p = produce_raw(bs, t, good + good[:20])
    assert (p["error_code"], p["base_offset"]) == (0, 0)
    assert end_offset(bs, t) == 1


def test_log_checks_codes_and_log_start_offset(shared_broker):
    """UnifiedLog's checks: a client batch's baseOffset must be 0
    (INVALID_RECORD), an unknown codec id fails as UNKNOWN_SERVER_ERROR; both
    carry the log start offset, no error_message."""
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-log")
    now = int(time.time() * 1000)
    good = batch([(b"k", b"v", now)])
    based = bytearray(good)
    struct.pack_into(">q", based, 0, 5)
    assert short(produce_raw(bs, t, bytes(based))) == (INVALID_RECORD, 0, [], None)
    codec5 = bytearray(good)
    struct.pack_into(">h", codec5, 21, 5)
    assert short(produce_raw(bs, t, recrc(codec5))) == (UNKNOWN_SERVER_ERROR, 0, [], None)
    assert end_offset(bs, t) == 0


@pytest.mark.parametrize("acks", [0, 1])
def test_unreadable_first_batch_fails_the_whole_request(shared_broker, acks):
    """Kafka reads every partition's first batch header before anything
    (RequestUtils.hasTransactionalRecords): an impossible size or magic there
    fails every partition of the request with CORRUPT_MESSAGE and Kafka's
    text; with acks=0 the connection is closed."""
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-req", partitions=2)
    now = int(time.time() * 1000)
    good = batch([(b"k", b"v", now)])
    tiny = good[:8] + struct.pack(">i", 5) + good[12:]
    magic3 = good[:16] + b"\x03" + good[17:]
    for bad, text in [(tiny, "Record size 5 is less than the minimum record overhead (14)"),
                      (magic3, "Invalid magic found in record: 3")]:
        parts = [(t, 0, good), (t, 1, bad), (unique_topic("pe-none"), 0, good)]
        if acks == 0:
            with pytest.raises((EOFError, ConnectionError)):
                produce_multi(bs, parts, acks=0)
            continue
        out = produce_multi(bs, parts, acks=acks)
        assert [short(p) for p in out] == [(CORRUPT_MESSAGE, -1, [], text)] * 3
        assert [p["base_offset"] for p in out] == [-1] * 3
    assert end_offset(bs, t, 0) == 0 and end_offset(bs, t, 1) == 0


def test_acks_checked_after_topic_and_records(shared_broker):
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-acks")
    good = batch([(b"k", b"v", int(time.time() * 1000))])
    assert produce_raw(bs, unique_topic("pe-none"), good, acks=2)["error_code"] == \
        UNKNOWN_TOPIC_OR_PARTITION
    assert produce_raw(bs, t, b"abc", acks=2)["error_code"] == INVALID_RECORD
    assert short(produce_raw(bs, t, good, acks=2)) == (INVALID_REQUIRED_ACKS, -1, [], None)


def test_librdkafka_fails_exactly_the_listed_records(shared_broker):
    """What a client makes of record_errors: librdkafka fails the listed
    records with INVALID_RECORD and the rest of the batch with its local
    _INVALID_DIFFERENT_RECORD (-138)."""
    bs = shared_broker.bootstrap
    t = new_topic(bs, "pe-ck", config={"cleanup.policy": "compact"})
    p = harness.producer(bs, **{"linger.ms": 1000, "enable.idempotence": False,
                                "retries": 0})
    res = {}

    def cb(i):
        def f(err, msg):
            res[i] = err.code() if err else 0
        return f
    for i, k in enumerate([None, b"k1", None, b"k3"]):  # one batch (linger)
        p.produce(t, key=k, value=b"v%d" % i, partition=0, on_delivery=cb(i))
    assert p.flush(60) == 0
    assert res == {0: INVALID_RECORD, 1: -138, 2: INVALID_RECORD, 3: -138}
    assert end_offset(bs, t) == 0
