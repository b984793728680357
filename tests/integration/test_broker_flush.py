"""Issue 8: Kafka's flush policy. flush.messages / flush.ms (and the broker's
log.flush.interval.* defaults) decide when a partition is fsynced; by default
never (the OS writes back), and a killed broker loses nothing acknowledged.
The recovery point (recovery-point-offset-checkpoint) moves only for
partitions that were flushed."""

import os
import time

import pytest
from confluent_kafka.admin import ConfigResource, ResourceType

import harness

# The checkpoint and flusher tasks start 30 s after Kafka starts
# (InitialTaskDelayMs), then run at these intervals. log.flush.interval.ms
# must be set: when null, topics take log.flush.scheduler.interval.ms as
# their flush.ms.
CONFIG = {"log.flush.offset.checkpoint.interval.ms": "500",
          "log.flush.scheduler.interval.ms": "200",
          "log.flush.interval.ms": "3600000"}


def read_recovery_points(broker):
    """{(topic, partition): offset} from recovery-point-offset-checkpoint."""
    path = os.path.join(broker.data_dir, "recovery-point-offset-checkpoint")
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return {}
    out = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) == 3:
            out[(parts[0], int(parts[1]))] = int(parts[2])
    return out


@pytest.mark.broker_config(CONFIG)
def test_recovery_point_moves_only_for_flushed_partitions(broker):
    b = broker.bootstrap
    by_count = harness.create_topic(b, harness.unique_topic("flush-msgs"),
                                    config={"flush.messages": "1"})
    by_time = harness.create_topic(b, harness.unique_topic("flush-ms"),
                                   config={"flush.ms": "300"})
    never = harness.create_topic(b, harness.unique_topic("flush-never"))
    for t in (by_count, by_time, never):
        for acks in ("all", "1"):
            harness.produce(b, t, [b"%s-%d" % (acks.encode(), i) for i in range(10)], acks=acks)
        assert harness.watermarks(b, t) == (0, 20)

    def flushed():
        rp = read_recovery_points(broker)
        return rp.get((by_count, 0)) == 20 and rp.get((by_time, 0)) == 20

    harness.wait_for(flushed, 60, interval=0.5,
                     what="recovery points of the flushed topics at their log end")
    # no flush policy: nothing was fsynced, the recovery point stays at 0
    assert read_recovery_points(broker).get((never, 0)) == 0
    a = harness.admin(b)
    res = ConfigResource(ResourceType.TOPIC, by_count)
    entry = a.describe_configs([res])[res].result(30)["flush.messages"]
    assert entry.value == "1" and not entry.is_default
    entry = a.describe_configs([res])[res].result(30)["flush.ms"]
    assert entry.value == "3600000"  # log.flush.interval.ms


@pytest.mark.broker_config({"log.flush.interval.messages": "3"})
def test_broker_flush_interval_messages_every_acks(broker):
    """A partition flushed every 3 messages answers every acks level and
    keeps every record in order."""
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("flush-broker"), partitions=2)
    sent = []
    for acks in ("0", "1", "all"):
        msgs = [b"%s-%03d" % (acks.encode(), i) for i in range(50)]
        harness.produce(b, t, [{"value": m, "partition": i % 2} for i, m in enumerate(msgs)],
                        acks=acks, linger_ms=0)
        sent += msgs
    harness.wait_for(lambda: sum(harness.watermarks(b, t, p)[1] for p in range(2)) == 150, 20)
    got = harness.consume(b, t, 150)
    assert sorted(m.value() for m in got) == sorted(sent)


def test_kill9_with_no_flush_keeps_acknowledged_acks1_records(broker):
    """Default policy (never fsync): acks=1 records reached the page cache,
    which a killed process does not take with it."""
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("nofsync"), partitions=3)
    msgs = [{"key": b"k%d" % i, "value": b"v%06d" % i, "partition": i % 3} for i in range(3000)]
    harness.produce(b, t, msgs, acks="1")
    marks = [harness.watermarks(b, t, p) for p in range(3)]
    assert sum(hi for _, hi in marks) == 3000
    broker.kill9()
    time.sleep(0.2)
    broker.start()
    assert [harness.watermarks(b, t, p) for p in range(3)] == marks
    got = harness.consume(b, t, 3000)
    assert sorted(m.value() for m in got) == sorted(m["value"] for m in msgs)
    d = harness.produce(b, t, [b"after"], partition=0)
    assert d[0].offset() == marks[0][1]
