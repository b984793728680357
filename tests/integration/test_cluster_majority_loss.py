"""A KRaft quorum that lost its majority (issue 17): metadata changes fail
with a retriable error while reads are still served, and once the majority
is back every committed change is there and changes work again. Three
combined nodes from scripts/cluster.sh, on Sluice or (SLUICE_TARGET=kafka)
on Apache Kafka 4.3.1."""

import time

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic

import harness
from test_cluster_forwarding import NODES, cluster, create_through, topics_on  # noqa: F401


def test_lost_majority_refuses_changes_serves_reads_and_recovers(cluster):
    c = cluster
    leader = int(c.status(1)["LeaderId"])
    survivor = next(n for n in NODES if n != leader)
    lost = [n for n in NODES if n != survivor]
    # A topic whose only replica is on the node that survives, with data.
    kept = harness.unique_topic("kept")
    harness.create_topic(c.addr(survivor), kept, replica_assignment=[[survivor]])
    a = harness.admin(c.addr(survivor))
    harness.produce(c.addr(survivor), kept, [b"k%d" % i for i in range(20)], acks="all")
    before = [harness.unique_topic("before%d" % i) for i in range(3)]
    for t in before:
        create_through(c, survivor, t)

    for n in lost:
        c.run("kill9", str(n))

    # A change cannot commit: the admin client gets a retriable error (or
    # its own timeout), never success.
    nope = harness.unique_topic("nope")
    fut = a.create_topics([NewTopic(nope, 1, 1)], request_timeout=10, operation_timeout=10)
    try:
        fut[nope].result(40)
        raise AssertionError("a topic was created without a quorum")
    except KafkaException as e:
        err = e.args[0]
        assert err.retriable() or err.code() in (
            harness._ck().KafkaError._TIMED_OUT, harness._ck().KafkaError.REQUEST_TIMED_OUT,
            harness._ck().KafkaError.NOT_CONTROLLER), err

    # Reads are served: Metadata through the survivor, and its data.
    assert set(before) | {kept} <= topics_on(c, survivor)
    cons = harness.consumer(c.addr(survivor))
    try:
        cons.assign([TopicPartition(kept, 0, 0)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 20 and time.monotonic() < deadline:
            for m in cons.consume(20, timeout=1):
                assert m.error() is None, m.error()
                got.append(m.value())
        assert got == [b"k%d" % i for i in range(20)]
    finally:
        cons.close()

    # The majority back: everything committed is there, changes work again.
    for n in lost:
        c.run("start-node", str(n))
    after = harness.unique_topic("after")
    create_through(c, survivor, after, timeout=120)
    for n in NODES:
        harness.wait_for(lambda: set(before) | {kept, after} <= topics_on(c, n), 60,
                         what="every committed topic on node %d" % n)
