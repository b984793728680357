"""Partition data replicated across three combined nodes (config/cluster on
one machine, the brokers registered with the active controller as
test_cluster_brokers.py starts them), with a real client (confluent-kafka):
  - a topic with replication factor 3 and min.insync.replicas 2 takes an
    idempotent acks=all producer; a consumer reads every record back, in
    order; once the followers caught up, the partition's segment files on
    all three nodes' data dirs hold the same bytes;
  - kill -9 of the partition's leader: once the controller moved the
    leadership (after the broker session timeout) every acknowledged record
    is still consumable from the new leader, and acks=all writes go on with
    the two survivors (the ISR is still >= min.insync.replicas);
  - the killed node restarts, follows the new leader and catches up: the
    three logs hold the same records again.
The same tests run against three Apache Kafka 4.3 processes
(SLUICE_TARGET=kafka)."""

import os
import signal

import pytest

import harness
from test_cluster_brokers import NODES, SESSION_MS, Cluster

MIN_ISR = 2


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        for n in NODES:
            c.start(n)
        c.wait_brokers(NODES, NODES, 120 if harness.TARGET == "kafka" else 40)
        yield c
    finally:
        c.stop()


def bootstrap(c, nodes=NODES):
    return ",".join(c.addr(n) for n in nodes)


def make_topic(c):
    topic = harness.unique_topic("repl")
    harness.create_topic(bootstrap(c), topic, partitions=1, replication_factor=3,
                         config={"min.insync.replicas": MIN_ISR})
    leader, replicas, isr = c.partitions(1, topic)[0]
    assert sorted(replicas) == list(NODES) and sorted(isr) == list(NODES), (
        leader, replicas, isr)
    return topic, leader


def produce_acked(c, topic, values, nodes=NODES):
    return harness.produce(bootstrap(c, nodes), topic, values, acks="all",
                           enable_idempotence=True, message_timeout_ms=60000)


def values_of(msgs):
    return [m.value() for m in msgs]


def segment_bytes(c, n, topic):
    """The partition's .log files of node n, concatenated in offset order."""
    d = c.tmp / ("data-%d" % n) / ("%s-0" % topic)
    if not d.exists():
        return b""
    out = b""
    for name in sorted(os.listdir(str(d))):
        if name.endswith(".log"):
            out += (d / name).read_bytes()
    return out


def wait_same_logs(c, topic, nodes, timeout=30):
    def same():
        logs = [segment_bytes(c, n, topic) for n in nodes]
        return logs[0] and all(x == logs[0] for x in logs)
    harness.wait_for(same, timeout, interval=0.2,
                     what="the logs of %s identical on nodes %s" % (topic, list(nodes)))


@pytest.mark.skipif(harness.TARGET != "sluice", reason="reads Sluice's data dirs")
def test_replicated_produce_consume_identical_logs(cluster):
    c = cluster
    topic, _ = make_topic(c)
    values = [("v%05d" % i).encode() for i in range(2000)]
    produce_acked(c, topic, values)
    assert values_of(harness.consume(bootstrap(c), topic, len(values))) == values
    wait_same_logs(c, topic, NODES)
    low, high = harness.watermarks(bootstrap(c), topic)
    assert (low, high) == (0, len(values))


def test_leader_kill9_keeps_acknowledged_records(cluster):
    c = cluster
    topic, leader = make_topic(c)
    first = [("a%05d" % i).encode() for i in range(1000)]
    produce_acked(c, topic, first)
    c.procs[leader].send_signal(signal.SIGKILL)
    c.procs[leader].wait(10)
    alive = tuple(n for n in NODES if n != leader)

    def moved():
        try:
            return all(c.partitions(n, topic)[0][0] in alive for n in alive)
        except Exception:
            return False
    harness.wait_for(moved, SESSION_MS / 1000.0 + 30, interval=0.2,
                     what="a new leader for %s among %s" % (topic, alive))
    # every acknowledged record is still there, in order
    got = values_of(harness.consume(bootstrap(c, alive), topic, len(first), timeout=60))
    assert got == first
    # two in sync of min.insync.replicas=2: acks=all goes on
    second = [("b%05d" % i).encode() for i in range(500)]
    produce_acked(c, topic, second, nodes=alive)
    got = values_of(harness.consume(bootstrap(c, alive), topic, len(first) + len(second)))
    assert got == first + second
    if harness.TARGET != "sluice":
        return
    wait_same_logs(c, topic, alive)
    # the old leader comes back as a follower and catches up
    c.start(leader)
    c.wait_brokers(NODES, NODES, 60)
    wait_same_logs(c, topic, NODES, timeout=60)
