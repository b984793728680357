"""Issue 3: retention by size and by time deletes whole old segments and
moves the log start offset; what remains stays readable."""

import os
import time

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import OffsetSpec

import harness

# shared_broker runs retention every 500 ms (conftest.SHARED_CONFIG)

VALUE = 300000  # one record per batch; 3 batches fill a 1 MiB segment
SEGMENT = 1048576  # Kafka's smallest allowed segment.bytes


def produce_batches(b, t, n, timestamp=None, tag=b"r"):
    p = harness.producer(b, linger_ms=0, compression_type="none")
    for i in range(n):
        kw = {"timestamp": timestamp} if timestamp else {}
        p.produce(t, key=tag + b"%d" % i, value=tag * VALUE, partition=0, **kw)
        assert p.flush(30) == 0


def log_files(broker, t):
    return [os.path.basename(f) for f in broker.segment_files(t)]


def earliest(b, t):
    a = harness.admin(b)
    tp = TopicPartition(t, 0)
    return a.list_offsets({tp: OffsetSpec.earliest()})[tp].result(20).offset


def test_retention_by_size(shared_broker):
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("rbytes"), config={
        "segment.bytes": str(SEGMENT), "retention.bytes": "1500000"})
    produce_batches(b, t, 8)
    assert harness.watermarks(b, t)[1] == 8
    # 8 batches of ~300 KB: segments [0-2] [3-5] [6-7]. 2.4 MB - 1.5 MB
    # leaves room to drop exactly the oldest segment.
    harness.wait_for(lambda: harness.watermarks(b, t)[0] > 0, 30, what="retention by size")
    time.sleep(1.5)  # a few more retention passes must not delete more
    assert harness.watermarks(b, t) == (3, 8)
    assert earliest(b, t) == 3
    files = log_files(shared_broker, t)
    assert "00000000000000000000.log" not in files
    assert files == ["00000000000000000003.log", "00000000000000000006.log"]
    got = harness.consume(b, t, 5)
    assert [m.offset() for m in got] == [3, 4, 5, 6, 7]
    assert got[0].value() == b"r" * VALUE and got[0].key() == b"r3"


def test_retention_by_time(shared_broker):
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("rtime"), config={
        "segment.bytes": str(SEGMENT), "retention.ms": "60000"})
    old = int(time.time() * 1000) - 10 * 60 * 1000  # ten minutes ago
    produce_batches(b, t, 6, timestamp=old, tag=b"o")  # segments [0-2] [3-5]
    produce_batches(b, t, 2, tag=b"n")  # [6-7], fresh
    harness.wait_for(lambda: harness.watermarks(b, t)[0] > 0, 30, what="retention by time")
    time.sleep(1.5)
    assert harness.watermarks(b, t) == (6, 8)
    assert earliest(b, t) == 6
    assert log_files(shared_broker, t) == ["00000000000000000006.log"]
    got = harness.consume(b, t, 2)
    assert [(m.offset(), m.key()) for m in got] == [(6, b"n0"), (7, b"n1")]
    # New records keep coming in after the old ones are gone.
    d = harness.produce(b, t, [b"later"], partition=0)
    assert d[0].offset() == 8


def test_no_retention_without_limits(shared_broker):
    """Defaults (7 days, unlimited size) keep everything, even with a fast
    retention check."""
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("rkeep"), config={"segment.bytes": str(SEGMENT)})
    produce_batches(b, t, 7)
    time.sleep(2)
    assert harness.watermarks(b, t) == (0, 7)
    assert log_files(shared_broker, t) == ["00000000000000000000.log", "00000000000000000003.log",
                                           "00000000000000000006.log"]
