"""acks=all gets NOT_ENOUGH_REPLICAS when a partition's in-sync replicas
fall below min.insync.replicas.

Apache Kafka 4.x caps the effective min.insync.replicas at the partition's
replica count (kafka.cluster.Partition.effectiveMinIsr, KIP-966), so this
cannot happen on one broker (see test_broker_produce_consume.py
::test_acks_all_with_min_insync_replicas_above_replication_factor): it
takes a replication factor of 2 and a replica that left the ISR. Two
processes: node 1 (broker + controller) and node 2 (broker only)."""

import pytest
from confluent_kafka import KafkaError

import harness

pytestmark = pytest.mark.cluster


def isr(bootstrap, topic):
    md = harness.admin(bootstrap).list_topics(topic, timeout=20)
    p = md.topics[topic].partitions[0]
    return p.leader, sorted(p.isrs)


def produce_error(bootstrap, topic, acks):
    p = harness.producer(bootstrap, acks=acks, retries=0, enable_idempotence=False,
                         message_timeout_ms=20000)
    errs = []
    p.produce(topic, value=b"x", partition=0, on_delivery=lambda e, m: errs.append(e))
    p.flush(30)
    assert len(errs) == 1
    return errs[0]


def test_acks_all_with_isr_below_min_insync_replicas(broker_factory):
    n1 = broker_factory(name="node1")
    n2 = broker_factory(config={"process.roles": "broker", "node.id": "2",
                                "controller.quorum.voters": "1@127.0.0.1:%d" % (n1.port + 1)},
                        start=False, name="node2", env={"KAFKA_CLUSTER_ID": n1.cluster_id()})
    n2.start()
    b = n1.bootstrap
    harness.wait_for(lambda: len(harness.admin(b).list_topics(timeout=10).brokers) == 2, 60,
                     what="two brokers in Metadata")
    # Replicas [1, 2]: node 1 leads and stays leader when node 2 leaves.
    # (With a placement of Kafka's choosing node 2 may lead; node 1 then
    # takes over with a new leader epoch that starts at an offset above its
    # follower high watermark, which cannot advance while the ISR is under
    # min.insync.replicas, so ListOffsets answers OFFSET_NOT_AVAILABLE:
    # kafka.cluster.Partition.fetchOffsetForTimestamp.)
    t = harness.create_topic(b, harness.unique_topic("minisr"), replica_assignment=[[1, 2]],
                             config={"min.insync.replicas": "2"})
    harness.wait_for(lambda: isr(b, t) == (1, [1, 2]), 60, what="leader 1, ISR [1, 2]")
    assert produce_error(b, t, "all") is None

    n2.stop()  # controlled shutdown: node 2 leaves the ISR
    harness.wait_for(lambda: isr(b, t) == (1, [1]), 60, what="ISR [1]")
    err = produce_error(b, t, "all")
    assert err is not None and err.code() == KafkaError.NOT_ENOUGH_REPLICAS  # 19
    assert produce_error(b, t, 1) is None  # the leader alone is enough for acks=1
    # ...but with the ISR under min.insync.replicas the high watermark does
    # not advance (KIP-966), so consumers do not see that record yet.
    assert harness.watermarks(b, t) == (0, 1)

    n2.start()
    harness.wait_for(lambda: isr(b, t)[1] == [1, 2], 60, what="ISR [1, 2] again")
    assert produce_error(b, t, "all") is None
    assert harness.watermarks(b, t) == (0, 3)
    got = harness.consume(b, t, 3)
    assert [m.offset() for m in got] == [0, 1, 2]
