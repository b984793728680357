"""Issue 3: produce and fetch with real clients on one shared broker -
five codecs with keys, headers and null values, message.max.bytes,
long-polling fetch, acks=all with too few replicas, ListOffsets, auto topic
creation, DeleteRecords."""

import threading
import time

import pytest
from confluent_kafka import KafkaError, TopicPartition, OFFSET_END
from confluent_kafka.admin import OffsetSpec

import harness

# shared_broker: num.partitions=2 (see conftest.SHARED_CONFIG)

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def sample_messages():
    """Keys, headers (with an empty and a null header value), a null value
    (tombstone), an empty value, and compressible filler."""
    msgs = [
        {"key": b"k0", "value": b"v0", "headers": [("h1", b"a"), ("h2", b"b")]},
        {"key": b"k1", "value": None},
        {"key": None, "value": b"v2-" + b"x" * 1000},
        {"key": b"k3", "value": b"", "headers": [("empty", b""), ("nullh", None)]},
        {"key": b"", "value": b"v4 \x00\xff binary"},
    ]
    for i in range(5, 60):
        msgs.append({"key": b"key-%d" % i, "value": b"value %d " % i + b"abc" * 40,
                     "headers": [("i", str(i).encode())]})
    return msgs


def norm_ck(m):
    return (m.key(), m.value(), [tuple(h) for h in (m.headers() or [])])


def norm_in(m):
    return (m.get("key"), m.get("value"), [tuple(h) for h in (m.get("headers") or [])])


def norm_kp(r):
    return (r.key, r.value, [tuple(h) for h in (r.headers or [])])


@pytest.mark.parametrize("codec", CODECS)
def test_codec_confluent_produce_all_clients_consume(shared_broker, codec):
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("codec-" + codec))
    msgs = sample_messages()
    delivered = harness.produce(b, t, msgs, partition=0, compression_type=codec)
    assert [d.offset() for d in delivered] == list(range(len(msgs)))
    assert harness.watermarks(b, t) == (0, len(msgs))

    want = [norm_in(m) for m in msgs]
    got = harness.consume(b, t, len(msgs))
    assert [m.offset() for m in got] == list(range(len(msgs)))
    assert [norm_ck(m) for m in got] == want

    got_kp = harness.kp_consume(b, t, len(msgs))
    assert [norm_kp(r) for r in got_kp] == want

    r = harness.kcat("-b", b, "-C", "-t", t, "-o", "beginning", "-e", "-Z", "-q",
                     "-f", "%o|%k|%s|%h\n", text=False)
    lines = r.stdout.split(b"\n")
    assert lines[0] == b"0|k0|v0|h1=a,h2=b"
    assert lines[1].startswith(b"1|k1|NULL|")
    assert lines[2].startswith(b"2|NULL|v2-xxx")
    assert sum(1 for ln in lines if ln) == len(msgs)


@pytest.mark.parametrize("codec", CODECS)
def test_codec_kafka_python_produce(shared_broker, codec):
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("kp-" + codec))
    msgs = [(b"k%d" % i, b"kafka-python %d " % i + b"z" * (i * 10), [("n", b"%d" % i)])
            for i in range(30)] + [(b"tomb", None, [])]
    comp = None if codec == "none" else codec
    metas = harness.kp_produce(b, t, msgs, compression_type=comp)
    assert sorted((m.partition, m.offset) for m in metas) == [(0, i) for i in range(len(msgs))]
    got = harness.consume(b, t, len(msgs))
    assert [norm_ck(m) for m in got] == [(k, v, h) for k, v, h in msgs]


@pytest.mark.parametrize("codec", CODECS)
def test_codec_kcat_produce(shared_broker, codec):
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("kcat-" + codec))
    lines = ["key%d:value %d %s" % (i, i, "q" * i) for i in range(40)]
    harness.kcat("-b", b, "-P", "-t", t, "-K", ":", "-z", codec, "-H", "src=kcat",
                 input="\n".join(lines) + "\n")
    got = harness.consume(b, t, 40)
    assert [(m.key(), m.value()) for m in got] == [
        (ln.split(":")[0].encode(), ln.split(":", 1)[1].encode()) for ln in lines]
    assert all(m.headers() == [("src", b"kcat")] for m in got)


def test_compressed_batches_stored_with_their_codec(shared_broker):
    """Kafka's DumpLogSegments reads the segment files and sees each batch
    with the codec the producer used (stored as received)."""
    b = shared_broker.bootstrap
    files = []
    for codec in CODECS:
        t = harness.create_topic(b, harness.unique_topic("dump-" + codec))
        # Compressible values: librdkafka sends a batch uncompressed when
        # compressing would not make it smaller.
        harness.produce(b, t, [b"payload %d " % i + b"compressible " * 20 for i in range(20)],
                        partition=0, compression_type=codec, linger_ms=500)
        files.append((codec, shared_broker.segment_files(t)[0]))
    r = harness.kafka_tool("kafka-dump-log", ["--files", ",".join(f for _, f in files)])
    out = r.stdout
    for codec, f in files:
        section = out.split("Dumping " + f)[1].split("Dumping ")[0]
        batches = [ln for ln in section.splitlines() if ln.startswith("baseOffset:")]
        assert batches, section
        assert all("compresscodec: %s" % codec in ln and "isvalid: true" in ln
                   for ln in batches), section
        assert sum(int(ln.split("count: ")[1].split()[0]) for ln in batches) == 20, section


MAX_BYTES = 1048588  # Kafka's default message.max.bytes


def test_batch_near_message_max_bytes_accepted_and_over_rejected(shared_broker):
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("big"))
    near = b"n" * (MAX_BYTES - 200)  # batch = value + ~80 bytes of framing
    d = harness.produce(b, t, [{"key": b"near", "value": near}], partition=0,
                        message_max_bytes=4 * MAX_BYTES, compression_type="none")
    assert d[0].offset() == 0

    with pytest.raises(AssertionError) as ei:
        harness.produce(b, t, [{"key": b"over", "value": b"o" * (MAX_BYTES + 100)}],
                        partition=0, message_max_bytes=4 * MAX_BYTES,
                        compression_type="none", message_timeout_ms=20000)
    assert "MSG_SIZE_TOO_LARGE" in str(ei.value) or "too large" in str(ei.value).lower()

    # The broker keeps serving the partition, and the big record reads back whole.
    d = harness.produce(b, t, [b"after"], partition=0)
    assert d[0].offset() == 1
    got = harness.consume(b, t, 2)
    assert got[0].value() == near and got[1].value() == b"after"


def test_message_too_large_error_code(shared_broker):
    """The topic's max.message.bytes: the delivery report carries the
    broker's MESSAGE_TOO_LARGE (10); a batch under the limit still goes in."""
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("big2"), config={"max.message.bytes": "5000"})
    p = harness.producer(b, message_max_bytes=1000000, compression_type="none", retries=0)
    errs = []
    p.produce(t, value=b"y" * 6000, partition=0, on_delivery=lambda e, m: errs.append(e))
    p.flush(30)
    p.produce(t, value=b"y" * 4000, partition=0, on_delivery=lambda e, m: errs.append(e))
    p.flush(30)
    assert errs[0] is not None and errs[0].code() == KafkaError.MSG_SIZE_TOO_LARGE
    assert errs[0].code() == 10
    assert errs[1] is None
    assert harness.watermarks(b, t) == (0, 1)


def test_long_poll_fetch_wakes_when_data_arrives(shared_broker):
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("longpoll"))
    p = harness.producer(b, linger_ms=0)
    p.list_topics(t, timeout=20)  # connected and warm before the clock starts
    c = harness.consumer(b, fetch_wait_max_ms=5000, fetch_min_bytes=1)
    try:
        c.assign([TopicPartition(t, 0, OFFSET_END)])
        # Let the consumer resolve its position and park a Fetch at the broker.
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            assert c.poll(0.1) is None
        sent = time.monotonic()
        p.produce(t, value=b"wake up", partition=0)
        assert p.flush(10) == 0
        got = None
        while time.monotonic() - sent < 10 and got is None:
            m = c.poll(0.05)
            if m is not None and not m.error():
                got = m
        elapsed = time.monotonic() - sent
        assert got is not None and got.value() == b"wake up"
        # A broker that answered only at max_wait_ms would take ~4 s here.
        assert elapsed < 2.0, "record arrived %.2fs after produce" % elapsed
    finally:
        c.close()


def test_acks_all_with_min_insync_replicas_above_replication_factor(shared_broker):
    """Apache Kafka 4.x caps the effective min.insync.replicas at the
    partition's replica count (kafka.cluster.Partition.effectiveMinIsr =
    min(min.insync.replicas, replicas), KIP-966), so on one broker a topic
    with replication factor 1 and min.insync.replicas=2 still takes acks=all
    writes. NOT_ENOUGH_REPLICAS needs an ISR smaller than both: see
    test_broker_cluster_min_isr.py."""
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("minisr"),
                             config={"min.insync.replicas": "2"})
    cfg = describe_topic_config(b, t)
    assert cfg["min.insync.replicas"].value == "2"
    d = harness.produce(b, t, [b"x"], partition=0, acks="all", retries=0,
                        enable_idempotence=False)
    assert d[0].offset() == 0
    d = harness.produce(b, t, [b"y"], partition=0, acks=1)
    assert d[0].offset() == 1
    assert harness.watermarks(b, t) == (0, 2)


def describe_topic_config(bootstrap, topic):
    from confluent_kafka.admin import ConfigResource, ResourceType
    res = ConfigResource(ResourceType.TOPIC, topic)
    a = harness.admin(bootstrap)  # must outlive the future
    return a.describe_configs([res])[res].result(20)


def test_list_offsets_earliest_latest_and_by_timestamp(shared_broker):
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("lo"))
    base = int(time.time() * 1000) - 100000
    msgs = [{"value": b"m%d" % i, "timestamp": base + i * 1000} for i in range(10)]
    p = harness.producer(b)
    for m in msgs:  # one batch each, so every timestamp is a batch boundary
        p.produce(t, value=m["value"], timestamp=m["timestamp"], partition=0)
        assert p.flush(20) == 0
    a = harness.admin(b)
    tp = TopicPartition(t, 0)

    def lo(spec):
        return a.list_offsets({tp: spec}, request_timeout=20)[tp].result(20)

    assert lo(OffsetSpec.earliest()).offset == 0
    assert lo(OffsetSpec.latest()).offset == 10
    r = lo(OffsetSpec.for_timestamp(base + 3000))
    assert (r.offset, r.timestamp) == (3, base + 3000)
    r = lo(OffsetSpec.for_timestamp(base + 3500))  # first record at or after
    assert (r.offset, r.timestamp) == (4, base + 4000)
    assert lo(OffsetSpec.for_timestamp(base + 999999)).offset == -1
    r = lo(OffsetSpec.max_timestamp())
    assert (r.offset, r.timestamp) == (9, base + 9000)

    # The consumer API users call for the same thing.
    c = harness.consumer(b)
    try:
        res = c.offsets_for_times([TopicPartition(t, 0, base + 5000)], timeout=20)
        assert res[0].offset == 5
    finally:
        c.close()

    # And Kafka's own tool.
    out = harness.kafka_tool("kafka-get-offsets", ["--bootstrap-server", b, "--topic", t,
                                                   "--time", "-1"]).stdout
    assert out.strip() == "%s:0:10" % t
    out = harness.kafka_tool("kafka-get-offsets", ["--bootstrap-server", b, "--topic", t,
                                                   "--time", "-2"]).stdout
    assert out.strip() == "%s:0:0" % t


def test_auto_topic_creation_via_metadata(shared_broker):
    b = shared_broker.bootstrap
    t = harness.unique_topic("auto")
    d = harness.produce(b, t, [b"first"], partition=0)
    assert d[0].offset() == 0
    md = harness.admin(b).list_topics(t, timeout=20)
    assert md.topics[t].error is None
    assert len(md.topics[t].partitions) == 2  # num.partitions of this broker
    # kafka-python asks Metadata with auto creation too.
    t2 = harness.unique_topic("auto-kp")
    metas = harness.kp_produce(b, t2, [b"kp"])
    assert metas[0].offset == 0 and metas[0].topic == t2
    assert harness.consume(b, t2, 1)[0].value() == b"kp"


def test_delete_records_moves_log_start_offset(shared_broker):
    b = shared_broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("delrec"), partitions=2)
    harness.produce(b, t, [b"r%d" % i for i in range(10)], partition=0)
    harness.produce(b, t, [b"s%d" % i for i in range(4)], partition=1)
    a = harness.admin(b)
    fs = a.delete_records([TopicPartition(t, 0, 6)], request_timeout=20)
    res = list(fs.values())[0].result(20)
    assert res.low_watermark == 6
    assert harness.watermarks(b, t, 0) == (6, 10)
    assert harness.watermarks(b, t, 1) == (0, 4)  # the other partition untouched
    got = harness.consume(b, t, 4, partitions=[0])
    assert [m.offset() for m in got] == [6, 7, 8, 9]
    assert got[0].value() == b"r6"

    # Kafka's tool: -1 means "up to the high watermark".
    import json, os, tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"version": 1, "partitions": [{"topic": t, "partition": 1, "offset": -1}]}, f)
    try:
        out = harness.kafka_tool("kafka-delete-records", ["--bootstrap-server", b,
                                                          "--offset-json-file", f.name]).stdout
    finally:
        os.unlink(f.name)
    assert "low_watermark: 4" in out
    assert harness.watermarks(b, t, 1) == (4, 4)

    # Beyond the high watermark is OFFSET_OUT_OF_RANGE.
    fs = a.delete_records([TopicPartition(t, 0, 50)], request_timeout=20)
    with pytest.raises(Exception) as ei:
        list(fs.values())[0].result(20)
    assert "OFFSET_OUT_OF_RANGE" in str(ei.value)
