"""Replication throttles and follower fetching (KIP-392) on the three
combined nodes of scripts/cluster.sh (the `module_cluster` fixture of
test_cluster_forwarding.py), on Sluice and with SLUICE_TARGET=kafka on
Apache Kafka 4.3.1. Node n has broker.rack=r<n>, and
replica.selector.class is Kafka's RackAwareReplicaSelector.
  - throttle: a follower is killed, ~400 KB are written while it is down,
    the topic's leader./follower.replication.throttled.replicas are set to
    '*' under 20 KB/s leader and follower rates; restarted, the follower
    copies no faster than the rate allows (its log size on disk is bounded
    by rate x time, with margin) and stays out of the ISR; removing the
    throttle lets it catch up at once, rejoin the ISR, with a log identical
    to the leader's;
  - follower fetching: a consumer with client.rack=<a follower's rack> is
    sent to that follower by the leader (preferred_read_replica; librdkafka's
    statistics name the broker it fetches from) and reads every record.
The node taken down is never the quorum's leader."""

import json
import os
import struct
import time

import pytest
import harness
import toolcli
from test_cluster_forwarding import NODES, module_cluster  # noqa: F401 (fixture)
from test_cluster_min_isr import boot, quorum_leader

RATE = 20000          # bytes/s, leader and follower
FETCH_MAX = 8192      # replica.fetch.max.bytes: the rate shows in small steps
SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
PROPS = {"replica.lag.time.max.ms": 3000, "replica.fetch.max.bytes": FETCH_MAX,
         "replica.selector.class": SELECTOR}
PROPS.update({n: {"broker.rack": "r%d" % n} for n in NODES})

pytestmark = pytest.mark.parametrize("module_cluster", [PROPS], indirect=True, scope="module")


def configs(bootstrap, etype, name, add=None, delete=None):
    """kafka-configs --alter (Sluice's tool; per-broker configs go to the
    broker named, which librdkafka's admin client does not ensure)."""
    args = ["--bootstrap-server", bootstrap, "--alter", "--entity-type", etype,
            "--entity-name", str(name)]
    if add:
        args += ["--add-config", ",".join("%s=%s" % kv for kv in add.items())]
    if delete:
        args += ["--delete-config", ",".join(delete)]
    toolcli.run("configs", *args, check=True)


def list_offsets(bootstrap, topic, replica_id, timestamp=-1):
    """ListOffsets v1 of partition 0 with this replica id: (error, offset)."""
    body = struct.pack(">i", replica_id) + harness.karray(
        [harness.kstr(topic) + harness.karray([struct.pack(">iq", 0, timestamp)])])
    r = harness.kafka_request(bootstrap, 2, 1, body)
    n = struct.unpack(">h", r[4:6])[0]
    _, err, _, offset = struct.unpack(">ihqq", r[6 + n + 4:6 + n + 4 + 22])
    return err, offset


def isr(bootstrap, topic):
    """(leader, sorted ISR) from Metadata, or None while a node's answer
    lacks the partition (an error, a restart under way)."""
    try:
        p = harness.admin(bootstrap).list_topics(topic, timeout=20).topics[topic].partitions[0]
    except (KeyError, Exception):
        return None
    return p.leader, sorted(p.isrs)


def seg(c, n, topic):
    return c.dir / ("data-%d" % n) / ("%s-0" % topic) / "00000000000000000000.log"


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def test_throttled_follower_catches_up_at_the_rate(module_cluster):  # noqa: F811
    c = module_cluster
    ctl = quorum_leader(c)
    out = next(n for n in NODES if n != ctl)
    lead, mid = [n for n in NODES if n != out]
    b = boot(c, NODES)
    live = boot(c, [lead, mid])
    for n in NODES:  # per-broker dynamic configs: set while every node is up
        configs(c.addr(n), "brokers", n, add={"leader.replication.throttled.rate": RATE,
                                              "follower.replication.throttled.rate": RATE})
    t = harness.create_topic(b, harness.unique_topic("throttle"),
                             replica_assignment=[[lead, mid, out]])
    harness.wait_for(lambda: isr(b, t) == (lead, sorted(NODES)), 60, what="ISR of all three")

    c.run("kill9", str(out))
    harness.wait_for(lambda: isr(live, t) == (lead, sorted([lead, mid])), 60, interval=0.3,
                     what="ISR without the killed node %d" % out)
    values = [os.urandom(1000) for _ in range(400)]
    harness.produce(live, t, values, partition=0, acks="all", batch_size=4096)
    total = size(seg(c, lead, t))
    assert total > 400 * 1000, total
    configs(c.addr(lead), "topics", t, add={"leader.replication.throttled.replicas": "*",
                                            "follower.replication.throttled.replicas": "*"})

    t0 = time.monotonic()
    c.run("start-node", str(out))
    # Throttled: no faster than RATE (each quota lets one window's worth
    # through at first and one more fetch when it is checked), so not in
    # the ISR for these seconds, far below total / RATE (20 s).
    watch_until = time.monotonic() + 4
    while time.monotonic() < watch_until:
        elapsed = time.monotonic() - t0
        got = size(seg(c, out, t))
        assert got <= 1.5 * RATE * (elapsed + 1) + 3 * FETCH_MAX, (got, elapsed)
        now = isr(live, t)
        assert now is None or out not in now[1], now
        time.sleep(0.3)
    got = size(seg(c, out, t))
    assert 0 < got < total - 6 * RATE, (got, total)  # started, 6+ s left at RATE

    # Throttle removed: the rest comes at once.
    t1 = time.monotonic()
    configs(c.addr(lead), "topics", t, delete=["leader.replication.throttled.replicas",
                                               "follower.replication.throttled.replicas"])
    harness.wait_for(lambda: isr(b, t) == (lead, sorted(NODES)), 60, interval=0.2,
                     what="node %d back in the ISR" % out)
    assert time.monotonic() - t1 < 5, time.monotonic() - t1
    harness.wait_for(lambda: seg(c, out, t).read_bytes() == seg(c, lead, t).read_bytes(), 30,
                     what="the follower's log identical to the leader's")
    for n in NODES:
        configs(c.addr(n), "brokers", n, delete=["leader.replication.throttled.rate",
                                                 "follower.replication.throttled.rate"])


def test_consumer_reads_from_a_follower_in_its_rack(module_cluster):  # noqa: F811
    c = module_cluster
    lead, fol, other = NODES
    b = boot(c, NODES)
    t = harness.create_topic(b, harness.unique_topic("rack"),
                             replica_assignment=[[lead, fol, other]])
    harness.wait_for(lambda: isr(b, t) == (lead, sorted(NODES)), 60, what="ISR of all three")
    values = [b"r%03d" % i for i in range(100)]
    harness.produce(b, t, values[:50], partition=0, acks="all")

    fetched_from = set()

    def stats(js):
        p = json.loads(js).get("topics", {}).get(t, {}).get("partitions", {}).get("0")
        if p and p.get("broker", -1) >= 0:
            fetched_from.add(p["broker"])

    import confluent_kafka as ck
    cons = ck.Consumer({"bootstrap.servers": b, "group.id": harness.unique_topic("g"),
                        "enable.auto.commit": False, "client.rack": "r%d" % fol,
                        "statistics.interval.ms": 200, "stats_cb": stats})
    got = []
    try:
        cons.assign([ck.TopicPartition(t, 0, ck.OFFSET_BEGINNING)])
        deadline = time.monotonic() + 60
        produced_more = False
        while len(got) < len(values) and time.monotonic() < deadline:
            for m in cons.consume(100, timeout=0.3):
                assert not m.error(), m.error()
                got.append(m)
            if len(got) >= 50 and not produced_more:
                harness.produce(b, t, values[50:], partition=0, acks="all")
                produced_more = True
        end = time.monotonic() + 3
        while fol not in fetched_from and time.monotonic() < end:
            cons.poll(0.2)
    finally:
        cons.close()
    assert [m.value() for m in got] == values
    assert [m.offset() for m in got] == list(range(len(values)))
    assert fol in fetched_from, fetched_from
    # ListOffsets stays with the leader (NOT_LEADER_OR_FOLLOWER from the
    # follower) except for the debugging replica id -2 (Kafka's
    # fetchOnlyFromLeader), which gets the follower's log end offset.
    harness.wait_for(lambda: list_offsets(c.addr(fol), t, -2) == (0, len(values)), 30,
                     what="the follower's log end offset for replica id -2")
    assert list_offsets(c.addr(fol), t, -1)[0] == 6
    assert list_offsets(c.addr(lead), t, -1) == (0, len(values))
