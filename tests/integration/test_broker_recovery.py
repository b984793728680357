"""Issue 3: durability - a clean restart keeps everything, kill -9 during a
produce run loses no acknowledged record, a torn last batch is truncated at
recovery and producing continues."""

import os
import struct
import threading
import time

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                   NewPartitions, ResourceType)

import harness


@pytest.fixture
def broker(module_broker):
    """The module's broker, running: these tests restart it themselves, and
    each leaves it running for the next (a failed one may not)."""
    if not module_broker.running():
        module_broker.start()
    return module_broker


def full_dump(bootstrap, topic, partitions):
    """Every record of every partition: {(p, offset): (key, value, headers, ts)}."""
    out = {}
    total = 0
    for p in range(partitions):
        lo, hi = harness.watermarks(bootstrap, topic, p)
        total += hi - lo
    msgs = harness.consume(bootstrap, topic, total) if total else []
    for m in msgs:
        out[(m.partition(), m.offset())] = (m.key(), m.value(), m.headers(), m.timestamp()[1])
    return out


def test_clean_restart_keeps_everything(broker):
    """Records, offsets, log start offsets, topics, added partitions, topic
    configs (created, altered, incrementally altered) and deletions."""
    b = broker.bootstrap
    t1 = harness.create_topic(b, harness.unique_topic("keep"), partitions=2,
                              config={"retention.ms": "999999999", "cleanup.policy": "delete"})
    t2 = harness.create_topic(b, harness.unique_topic("keep2"), partitions=1,
                              config={"retention.ms": "5000000"})
    a = harness.admin(b)
    assert a.create_partitions([NewPartitions(t1, 3)])[t1].result(30) is None
    res = ConfigResource(ResourceType.TOPIC, t2, incremental_configs=[
        ConfigEntry("max.message.bytes", "200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.ms", "6000000", incremental_operation=AlterConfigOpType.SET)])
    assert a.incremental_alter_configs([res])[res].result(30) is None
    gone = harness.create_topic(b, harness.unique_topic("gone"))
    assert a.delete_topics([gone], operation_timeout=30)[gone].result(30) is None
    harness.wait_for(lambda: gone not in a.list_topics(timeout=10).topics, 30)
    harness.wait_for(lambda: len(a.list_topics(t1, timeout=10).topics[t1].partitions) == 3, 30)
    for i, codec in enumerate(["none", "gzip", "snappy", "lz4", "zstd"]):
        harness.produce(b, t1, [{"key": b"k%d-%d" % (i, j), "value": b"%s-%d" % (codec.encode(), j),
                                 "headers": [("codec", codec.encode())], "partition": j % 3}
                                for j in range(30)], compression_type=codec)
    harness.produce(b, t2, [b"plain-%d" % i for i in range(50)] + [{"key": b"tomb", "value": None}])
    fs = a.delete_records([TopicPartition(t2, 0, 10)])
    list(fs.values())[0].result(20)
    before1 = full_dump(b, t1, 3)
    before2 = full_dump(b, t2, 1)
    marks = [harness.watermarks(b, t1, p) for p in range(3)] + [harness.watermarks(b, t2, 0)]
    assert len(before1) == 150 and len(before2) == 41
    del a

    broker.restart()

    a = harness.admin(b)
    md = a.list_topics(timeout=20)
    assert len(md.topics[t1].partitions) == 3 and len(md.topics[t2].partitions) == 1
    assert gone not in md.topics
    assert [harness.watermarks(b, t1, p) for p in range(3)] + [harness.watermarks(b, t2, 0)] == marks
    assert marks[3] == (10, 51)  # DeleteRecords' log start offset survives too
    assert full_dump(b, t1, 3) == before1
    assert full_dump(b, t2, 1) == before2
    res = ConfigResource(ResourceType.TOPIC, t1)
    assert a.describe_configs([res])[res].result(20)["retention.ms"].value == "999999999"
    res = ConfigResource(ResourceType.TOPIC, t2)
    cfg = a.describe_configs([res])[res].result(20)
    assert cfg["max.message.bytes"].value == "200000"
    assert cfg["retention.ms"].value == "6000000"
    assert cfg["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    # Producing continues where the log ended.
    d = harness.produce(b, t2, [b"after restart"])
    assert d[0].offset() == 51


def test_kill9_during_produce_loses_no_acknowledged_record(broker):
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("crash"), partitions=2)
    p = harness.producer(b, acks="all", linger_ms=2, enable_idempotence=False,
                         message_timeout_ms=4000, retries=0)
    acked = {}
    failed = [0]

    def cb(err, msg):
        if err is None:
            acked[(msg.partition(), msg.offset())] = msg.value()
        else:
            failed[0] += 1

    i = 0
    killed_at = None
    start = time.monotonic()
    while True:
        try:
            p.produce(t, key=b"k%d" % i, value=b"record-%08d" % i, on_delivery=cb)
            i += 1
        except BufferError:
            pass
        p.poll(0)
        if i % 200 == 0:
            p.poll(0.001)
        if killed_at is None and (len(acked) >= 3000 or time.monotonic() - start > 20):
            broker.kill9()
            killed_at = len(acked)
        if killed_at is not None:
            break
    p.flush(15)  # everything in flight fails: the broker is gone
    assert killed_at >= 1000, "only %d records acknowledged before the kill" % killed_at
    assert len(acked) + failed[0] == i

    broker.start()
    hw = [harness.watermarks(b, t, part)[1] for part in range(2)]
    for (part, off) in acked:
        assert off < hw[part], "acked offset %d of partition %d beyond high watermark %d" % (
            off, part, hw[part])
    got = {(m.partition(), m.offset()): m.value() for m in harness.consume(b, t, sum(hw))}
    lost = [(k, v) for k, v in acked.items() if got.get(k) != v]
    assert not lost, "%d acknowledged records lost or changed, e.g. %s" % (len(lost), lost[:3])
    d = harness.produce(b, t, [b"after crash"], partition=0)
    assert d[0].offset() == hw[0]


def _produce_batches(b, t, n_batches, per_batch):
    # linger keeps each group of produce() calls in one batch; flush sends it.
    p = harness.producer(b, linger_ms=500)
    for i in range(n_batches):
        for j in range(per_batch):
            p.produce(t, key=b"b%d" % i, value=b"batch %d record %d" % (i, j), partition=0)
        assert p.flush(20) == 0  # one batch each


def test_torn_last_batch_truncated_at_recovery(broker):
    """Two partitions damaged the way a crash mid-write leaves them: one with
    the start of a batch appended whose length field promises more bytes
    than exist, one with its last batch cut short."""
    b = broker.bootstrap
    ta = harness.create_topic(b, harness.unique_topic("torn-appended"), partitions=1)
    tc = harness.create_topic(b, harness.unique_topic("torn-cut"), partitions=1)
    for t in (ta, tc):
        _produce_batches(b, t, 10, 10)
        assert harness.watermarks(b, t) == (0, 100)
    broker.kill9()
    seg_a = broker.segment_files(ta)[-1]
    size_a = os.path.getsize(seg_a)
    with open(seg_a, "ab") as f:
        f.write(struct.pack(">qi", 100, 4000) + struct.pack(">ib", 0, 2) + b"\x00\x01\x02")
    seg_c = broker.segment_files(tc)[-1]
    with open(seg_c, "r+b") as f:
        f.truncate(os.path.getsize(seg_c) - 7)  # cuts into the 10th batch

    broker.start()
    assert os.path.getsize(seg_a) == size_a  # the torn bytes are gone
    for t, survivors in ((ta, 100), (tc, 90)):
        assert harness.watermarks(b, t) == (0, survivors), t
        got = harness.consume(b, t, survivors)
        assert [m.offset() for m in got] == list(range(survivors))
        assert got[-1].value() == b"batch %d record 9" % (survivors // 10 - 1)
        # Producing continues right after the last complete batch.
        d = harness.produce(b, t, [b"after recovery %d" % i for i in range(5)], partition=0)
        assert [x.offset() for x in d] == list(range(survivors, survivors + 5))
        got = harness.consume(b, t, survivors + 5)
        assert got[-1].value() == b"after recovery 4"
