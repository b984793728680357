"""Producer state housekeeping: producer ids expire after
producer.id.expiration.ms, transactional ids after
transactional.id.expiration.ms (seen through Kafka's kafka-transactions.sh),
and a producer-state snapshot is written when a segment rolls. Both targets;
the *.check.interval / cleanup.interval keys only matter to Apache Kafka.
"""

import glob
import os
import time
import uuid

import pytest

import harness


def ck():
    import confluent_kafka
    return confluent_kafka


def producers(b, topic):
    r = harness.kafka_tool("kafka-transactions.sh",
                           ["--bootstrap-server", b.bootstrap, "describe-producers",
                            "--topic", topic, "--partition", "0"])
    return r.stdout.strip().splitlines()[1:]


@pytest.mark.broker_config({"producer.id.expiration.ms": "8000",
                            "producer.id.expiration.check.interval.ms": "1000"})
def test_producer_ids_expire(broker):
    b = broker
    t = harness.create_topic(b.bootstrap, harness.unique_topic("pexp"))
    harness.produce(b.bootstrap, t, ["a", "b"], partition=0, **{"enable.idempotence": True})
    assert len(producers(b, t)) == 1
    time.sleep(10)
    assert producers(b, t) == []


@pytest.mark.broker_config({"transactional.id.expiration.ms": "15000",
                            "transaction.remove.expired.transaction.cleanup.interval.ms": "1000"})
def test_transactional_ids_expire(broker):
    b = broker
    t = harness.create_topic(b.bootstrap, harness.unique_topic("texp"))
    tid = "texp-" + uuid.uuid4().hex[:6]
    p = ck().Producer({"bootstrap.servers": b.bootstrap, "transactional.id": tid})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(t, value="x", partition=0)
    p.commit_transaction(30)
    r = harness.kafka_tool("kafka-transactions.sh", ["--bootstrap-server", b.bootstrap, "list"])
    assert tid in r.stdout and "CompleteCommit" in r.stdout
    time.sleep(18)
    r = harness.kafka_tool("kafka-transactions.sh", ["--bootstrap-server", b.bootstrap, "list"])
    assert tid not in r.stdout
    r = harness.kafka_tool("kafka-transactions.sh",
                           ["--bootstrap-server", b.bootstrap, "describe",
                            "--transactional-id", tid], check=False)
    assert r.returncode != 0 and "could not be found" in (r.stdout + r.stderr)


def test_snapshot_written_at_segment_roll(broker):
    b = broker
    t = harness.create_topic(b.bootstrap, harness.unique_topic("roll"),
                             config={"segment.bytes": str(1 << 20)})
    big = "x" * 10000
    harness.produce(b.bootstrap, t, [big] * 250, partition=0,
                    **{"enable.idempotence": True, "compression.type": "none"})
    d = b.partition_dir(t)
    bases = sorted(int(os.path.basename(f)[:20]) for f in glob.glob(os.path.join(d, "*.log")))
    assert len(bases) >= 2, bases
    snaps = [int(os.path.basename(f)[:20]) for f in glob.glob(os.path.join(d, "*.snapshot"))]
    assert any(s in bases[1:] for s in snaps), (bases, snaps)
