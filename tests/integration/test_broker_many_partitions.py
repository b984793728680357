"""Issue 3: 2,000 partitions on one broker - create them, produce to every
one, read every one back."""

import time

from confluent_kafka import TopicPartition

import harness

N = 2000


def test_two_thousand_partitions(broker):
    b = broker.bootstrap
    t = harness.unique_topic("many")
    t0 = time.monotonic()
    harness.create_topic(b, t, partitions=N, timeout=180)
    print("create %.1fs" % (time.monotonic() - t0))
    md = harness.admin(b).list_topics(t, timeout=30)
    assert len(md.topics[t].partitions) == N
    assert all(p.leader == 1 for p in md.topics[t].partitions.values())

    msgs = [{"key": b"p%d" % i, "value": b"value for partition %d" % i, "partition": i}
            for i in range(N)]
    delivered = harness.produce(b, t, msgs, timeout=180, linger_ms=50)
    assert sorted((d.partition(), d.offset()) for d in delivered) == [(i, 0) for i in range(N)]

    print("produce %.1fs" % (time.monotonic() - t0))
    got = harness.consume(b, t, N, timeout=180)
    print("consume %.1fs" % (time.monotonic() - t0))
    seen = {(m.partition(), m.offset()): (m.key(), m.value()) for m in got}
    assert len(seen) == N
    for i in range(N):
        assert seen[(i, 0)] == (b"p%d" % i, b"value for partition %d" % i)

    # Every partition is a directory of its own in the data dir.
    import os
    dirs = [d for d in os.listdir(broker.data_dir) if d.startswith(t + "-")]
    assert len(dirs) == N

    # A second round lands at offset 1 everywhere.
    delivered = harness.produce(b, t, [dict(m, value=b"second") for m in msgs], timeout=180,
                                linger_ms=50)
    assert {d.offset() for d in delivered} == {1}
