"""A config value is a Kafka STRING: a NUL byte inside is part of it. Kafka
validates the whole value, so retention.ms="1\\0x" is not a number
(INVALID_CONFIG); Sluice cut it at the NUL and took retention.ms=1, which
deletes a topic's data within milliseconds (issue 15). Raw protocol:
client libraries built on C strings cut the value themselves."""

import struct

import harness
from harness import karray, kstr

INVALID_CONFIG = 40


def kbytes_str(b):
    return struct.pack(">h", len(b)) + b


def create_topic_raw(bs, name, configs, validate_only):
    """CreateTopics v4: (error_code, error_message)."""
    body = karray([kstr(name) + struct.pack(">ih", 1, 1) + karray([]) +
                   karray([kstr(k) + kbytes_str(v) for k, v in configs])]) + \
        struct.pack(">ib", 30000, 1 if validate_only else 0)
    r = harness.kafka_request(bs, 19, 4, body)
    n = struct.unpack(">h", r[8:10])[0]
    off = 10 + n
    err, ml = struct.unpack(">hh", r[off:off + 4])
    return err, (r[off + 4:off + 4 + ml] if ml >= 0 else None)


def incremental_alter_raw(bs, topic, name, value):
    """IncrementalAlterConfigs v0, SET one topic config: (error, message)."""
    body = karray([struct.pack(">b", 2) + kstr(topic) +
                   karray([kstr(name) + struct.pack(">b", 0) + kbytes_str(value)])]) + \
        struct.pack(">b", 0)
    r = harness.kafka_request(bs, 44, 0, body)
    err, ml = struct.unpack(">hh", r[8:12])
    return err, (r[12:12 + ml] if ml >= 0 else None)


def test_config_values_with_nul_bytes_are_validated_whole(broker):
    bs = broker.bootstrap
    topic = harness.unique_topic("nulcfg")
    for key, value in (("retention.ms", b"1\x00x"), ("cleanup.policy", b"compact\x00x"),
                       ("segment.bytes", b"1073741824\x001")):
        for validate_only in (True, False):
            err, msg = create_topic_raw(bs, topic, [(key, value)], validate_only)
            assert err == INVALID_CONFIG, (key, value, err, msg)
            assert msg.startswith(b"Invalid value " + value.split(b"\x00")[0]), msg
            assert (b" for configuration %s: " % key.encode()) in msg, msg
    assert topic not in harness.admin(bs).list_topics(timeout=20).topics
    # Kafka trims a value as Java's String.trim() does (every character up
    # to ' ', NUL included) before it parses it: NULs at the ends are fine.
    assert create_topic_raw(bs, topic, [("segment.bytes", b"\x001073741824\x00 \x00")],
                            True) == (0, None)

    harness.create_topic(bs, topic)
    err, msg = incremental_alter_raw(bs, topic, "retention.ms", b"1\x00x")
    assert err == INVALID_CONFIG, (err, msg)
    assert msg.startswith(b"Invalid value 1") and b" for configuration retention.ms: " in msg
    r = harness.kafka_tool("kafka-configs", ["--bootstrap-server", bs, "--describe",
                                             "--entity-type", "topics", "--entity-name", topic])
    assert "retention.ms" not in r.stdout, r.stdout
    # The same value without the NUL byte is fine.
    assert incremental_alter_raw(bs, topic, "retention.ms", b"86400000") == (0, None)
