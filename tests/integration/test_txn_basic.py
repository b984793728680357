"""Idempotent and transactional producers with librdkafka (confluent-kafka):
commit, abort, open transactions hidden from read_committed readers,
transaction timeout, zombie fencing, offsets committed inside a transaction,
the admin view (DescribeProducers / ListTransactions / DescribeTransactions
through Kafka's kafka-transactions.sh), and restarts in the middle of a
transaction. Runs against Sluice and Apache Kafka (SLUICE_TARGET=kafka).
"""

import time
import uuid

import pytest

import harness

pytestmark = pytest.mark.broker_config({
    # Kafka checks timed-out transactions every 10 s by default; both
    # targets get 1 s so the timeout test stays fast.
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
})


def ck():
    import confluent_kafka
    return confluent_kafka


def txn_producer(bootstrap, tid=None, **conf):
    c = {"bootstrap.servers": bootstrap, "transactional.id": tid or "tx-" + uuid.uuid4().hex[:8],
         "linger.ms": 5}
    c.update({k.replace("_", "."): v for k, v in conf.items()})
    return ck().Producer(c)


def read(bootstrap, topic, isolation, expect, partitions=(0,), settle=1.5, timeout=30,
         group=None, offsets=None):
    """Values read from the start of the partitions with the isolation level:
    waits for `expect` messages, then `settle` seconds more to catch extras."""
    c = harness.consumer(bootstrap, group=group, **{"isolation.level": isolation})
    try:
        tps = [ck().TopicPartition(topic, p, ck().OFFSET_BEGINNING if offsets is None else offsets)
               for p in partitions]
        c.assign(tps)
        out = []
        deadline = time.monotonic() + timeout
        extra_until = None
        while time.monotonic() < deadline:
            for m in c.consume(500, timeout=0.2):
                if m.error():
                    raise AssertionError("consume error: %s" % m.error())
                out.append(m.value().decode())
            if len(out) >= expect:
                if extra_until is None:
                    extra_until = time.monotonic() + settle
                elif time.monotonic() >= extra_until:
                    break
        return out
    finally:
        c.close()


def send(p, topic, values, partition=0):
    for v in values:
        p.produce(topic, value=v, partition=partition)
    p.flush(30)


@pytest.fixture(scope="module")
def b(module_broker):
    return module_broker


def test_idempotent_producer_in_order_no_duplicates(b):
    t = harness.create_topic(b.bootstrap, harness.unique_topic("idem"), partitions=2)
    vals = ["m%d" % i for i in range(2000)]
    msgs = harness.produce(b.bootstrap, t, [{"value": v, "partition": i % 2}
                                            for i, v in enumerate(vals)],
                           **{"enable.idempotence": True, "linger.ms": 1,
                              "max.in.flight.requests.per.connection": 5,
                              "batch.num.messages": 20})
    assert all(m.error() is None for m in msgs)
    got = read(b.bootstrap, t, "read_uncommitted", 2000, partitions=(0, 1), settle=0.5)
    assert sorted(got) == sorted(vals)
    # per partition in send order
    p0 = read(b.bootstrap, t, "read_uncommitted", 1000, partitions=(0,), settle=0.2)
    assert p0 == [v for i, v in enumerate(vals) if i % 2 == 0]


def test_commit_abort_and_read_committed(b):
    t = harness.create_topic(b.bootstrap, harness.unique_topic("txn"))
    p = txn_producer(b.bootstrap)
    p.init_transactions(30)
    p.begin_transaction()
    send(p, t, ["c1-%d" % i for i in range(10)])
    p.commit_transaction(30)
    p.begin_transaction()
    send(p, t, ["a-%d" % i for i in range(10)])
    p.abort_transaction(30)
    p.begin_transaction()
    send(p, t, ["c2-%d" % i for i in range(10)])
    p.commit_transaction(30)
    committed = read(b.bootstrap, t, "read_committed", 20)
    assert committed == ["c1-%d" % i for i in range(10)] + ["c2-%d" % i for i in range(10)]
    uncommitted = read(b.bootstrap, t, "read_uncommitted", 30)
    assert len(uncommitted) == 30 and "a-3" in uncommitted
    # 30 records + 3 markers
    lo, hi = harness.watermarks(b.bootstrap, t)
    assert hi == 33


def test_open_transaction_hidden_until_commit(b):
    t = harness.create_topic(b.bootstrap, harness.unique_topic("open"))
    p = txn_producer(b.bootstrap)
    p.init_transactions(30)
    p.begin_transaction()
    send(p, t, ["open-%d" % i for i in range(5)])
    # a plain producer writes after the open transaction: the LSO keeps it
    # hidden from read_committed readers too
    harness.produce(b.bootstrap, t, ["plain"], partition=0)
    assert read(b.bootstrap, t, "read_committed", 0, settle=2.0) == []
    assert len(read(b.bootstrap, t, "read_uncommitted", 6, settle=0.2)) == 6
    p.commit_transaction(30)
    got = read(b.bootstrap, t, "read_committed", 6)
    assert got == ["open-%d" % i for i in range(5)] + ["plain"]


def test_transaction_timeout_aborts(b):
    t = harness.create_topic(b.bootstrap, harness.unique_topic("tmo"))
    p = txn_producer(b.bootstrap, **{"transaction.timeout.ms": 2000})
    p.init_transactions(30)
    p.begin_transaction()
    send(p, t, ["stuck-%d" % i for i in range(5)])
    time.sleep(5)
    # the coordinator aborted it: read_committed readers move past it
    harness.produce(b.bootstrap, t, ["after"], partition=0)
    assert read(b.bootstrap, t, "read_committed", 1) == ["after"]
    with pytest.raises(ck().KafkaException):
        p.commit_transaction(10)


def test_zombie_is_fenced(b):
    t = harness.create_topic(b.bootstrap, harness.unique_topic("zombie"))
    tid = "zombie-" + uuid.uuid4().hex[:6]
    old = txn_producer(b.bootstrap, tid)
    old.init_transactions(30)
    old.begin_transaction()
    send(old, t, ["old-%d" % i for i in range(3)])
    new = txn_producer(b.bootstrap, tid)
    new.init_transactions(30)  # fences `old`, aborting its transaction
    new.begin_transaction()
    send(new, t, ["new-%d" % i for i in range(3)])
    new.commit_transaction(30)
    with pytest.raises(ck().KafkaException) as ei:
        send(old, t, ["late"])
        old.commit_transaction(10)
    err = ei.value.args[0]
    assert err.fatal() or err.txn_requires_abort() or "fenc" in str(err).lower()
    assert read(b.bootstrap, t, "read_committed", 3) == ["new-%d" % i for i in range(3)]


def test_offsets_committed_inside_transaction(b):
    src = harness.create_topic(b.bootstrap, harness.unique_topic("src"))
    dst = harness.create_topic(b.bootstrap, harness.unique_topic("dst"))
    harness.produce(b.bootstrap, src, ["in-%d" % i for i in range(10)], partition=0)
    group = "ctp-" + uuid.uuid4().hex[:6]
    c = harness.consumer(b.bootstrap, group=group, **{"isolation.level": "read_committed"})
    c.assign([ck().TopicPartition(src, 0, ck().OFFSET_BEGINNING)])
    msgs = []
    deadline = time.monotonic() + 30
    while len(msgs) < 10 and time.monotonic() < deadline:
        msgs += [m for m in c.consume(10, timeout=0.5) if not m.error()]
    assert len(msgs) == 10
    p = txn_producer(b.bootstrap)
    p.init_transactions(30)
    # first 5: aborted -> offsets not committed
    p.begin_transaction()
    send(p, dst, ["out-" + m.value().decode() for m in msgs[:5]])
    p.send_offsets_to_transaction([ck().TopicPartition(src, 0, 5)],
                                  c.consumer_group_metadata(), 30)
    p.abort_transaction(30)
    assert c.committed([ck().TopicPartition(src, 0)], timeout=10)[0].offset < 0
    p.begin_transaction()
    send(p, dst, ["out-" + m.value().decode() for m in msgs[:5]])
    p.send_offsets_to_transaction([ck().TopicPartition(src, 0, 5)],
                                  c.consumer_group_metadata(), 30)
    p.commit_transaction(30)
    assert c.committed([ck().TopicPartition(src, 0)], timeout=10)[0].offset == 5
    c.close()
    assert read(b.bootstrap, dst, "read_committed", 5) == ["out-in-%d" % i for i in range(5)]


def test_kafka_transactions_tool_describes(b):
    t = harness.create_topic(b.bootstrap, harness.unique_topic("desc"))
    tid = "desc-" + uuid.uuid4().hex[:6]
    p = txn_producer(b.bootstrap, tid)
    p.init_transactions(30)
    p.begin_transaction()
    send(p, t, ["x"])
    r = harness.kafka_tool("kafka-transactions.sh",
                           ["--bootstrap-server", b.bootstrap, "list"])
    assert tid in r.stdout and "Ongoing" in r.stdout
    r = harness.kafka_tool("kafka-transactions.sh",
                           ["--bootstrap-server", b.bootstrap, "describe",
                            "--transactional-id", tid])
    assert "Ongoing" in r.stdout and t + "-0" in r.stdout
    r = harness.kafka_tool("kafka-transactions.sh",
                           ["--bootstrap-server", b.bootstrap, "describe-producers",
                            "--topic", t, "--partition", "0"])
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2, r.stdout  # header + our producer
    assert lines[1].split()[-1] == "0"  # CurrentTransactionStartOffset
    p.commit_transaction(30)
