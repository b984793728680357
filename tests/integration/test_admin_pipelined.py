"""Admin requests pipelined on one connection are validated against what
the requests before them changed, even before those changes commit: Kafka's
controller answers each against its latest state. A second raise of the
partition count to the same number is refused, raises stack, and a topic
whose deletion is underway is not found by the next DeleteTopics."""

import socket
import struct

import harness
from harness import kstr

INVALID_PARTITIONS = 37
UNKNOWN_TOPIC_OR_PARTITION = 3


def frame(api_key, version, corr, body):
    f = struct.pack(">hhi", api_key, version, corr) + kstr("pipeline-test") + body
    return struct.pack(">i", len(f)) + f


def pipelined(port, frames, timeout=30.0):
    """Sends every frame at once on one connection; the response bodies
    (after the correlation id) in order."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(frames))
        data = b""
        out = []
        while len(out) < len(frames):
            while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
                chunk = s.recv(65536)
                assert chunk, "connection closed after %d responses" % len(out)
                data += chunk
            n = struct.unpack(">i", data[:4])[0]
            out.append((struct.unpack(">i", data[4:8])[0], data[8:4 + n]))
            data = data[4 + n:]
    return out


def create_partitions(corr, topic, count):
    body = struct.pack(">i", 1) + kstr(topic) + struct.pack(">ii", count, -1) + \
        struct.pack(">i?", 30000, False)
    return frame(37, 1, corr, body)


def parse_create_partitions(body):
    _throttle, n = struct.unpack(">ii", body[:8])
    assert n == 1
    nl = struct.unpack(">h", body[8:10])[0]
    err = struct.unpack(">h", body[10 + nl:12 + nl])[0]
    ml = struct.unpack(">h", body[12 + nl:14 + nl])[0]
    msg = body[14 + nl:14 + nl + ml].decode() if ml >= 0 else None
    return err, msg


def delete_topic(corr, topic):
    return frame(20, 3, corr, struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", 30000))


def parse_delete(body):
    _throttle, n = struct.unpack(">ii", body[:8])
    assert n == 1
    nl = struct.unpack(">h", body[8:10])[0]
    return struct.unpack(">h", body[10 + nl:12 + nl])[0]


def partition_count(b, topic):
    md = harness.admin(b.bootstrap).list_topics(topic, timeout=10)
    return len(md.topics[topic].partitions)


def test_pipelined_admin_requests_see_each_other(broker):
    topic = harness.unique_topic("pipe")
    harness.create_topic(broker.bootstrap, topic, partitions=1)
    r = pipelined(broker.port, [create_partitions(1, topic, 2),
                                create_partitions(2, topic, 2)])
    assert [c for c, _ in r] == [1, 2]
    assert parse_create_partitions(r[0][1]) == (0, None)
    err, msg = parse_create_partitions(r[1][1])
    assert err == INVALID_PARTITIONS
    assert msg == "Topic already has 2 partition(s)."
    harness.wait_for(lambda: partition_count(broker, topic) == 2, timeout=20)

    r = pipelined(broker.port, [create_partitions(3, topic, 3),
                                create_partitions(4, topic, 5)])
    assert [parse_create_partitions(b)[0] for _, b in r] == [0, 0]
    harness.wait_for(lambda: partition_count(broker, topic) == 5, timeout=20)
    # every partition is there once, and serves: one record to each
    harness.produce(broker.bootstrap, topic, [b"x"] * 5, partition=None)
    for p in range(5):
        lo, hi = harness.watermarks(broker.bootstrap, topic, p)
        assert lo == 0

    r = pipelined(broker.port, [delete_topic(5, topic), delete_topic(6, topic)])
    assert [parse_delete(b) for _, b in r] == [0, UNKNOWN_TOPIC_OR_PARTITION]
