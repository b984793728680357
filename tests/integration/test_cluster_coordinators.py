"""The group and transaction coordinators on a replicated cluster (the
three combined nodes of scripts/cluster.sh, config/cluster: internal topics
with three replicas), as Apache Kafka 4.3.1 runs them: a coordinator lives
on the leader of its __consumer_offsets / __transaction_state partition,
FindCoordinator names that leader, and a broker that becomes the leader
loads the partition's state from its replica of the log.

  - a consumer group keeps its committed offsets and keeps consuming when
    the broker of its coordinator is killed with kill -9, and after that
    broker restarts;
  - a transactional producer commits across partitions led by different
    brokers (transaction markers go to each partition's leader), and a
    read_committed consumer sees exactly the committed records, also after
    the transaction coordinator's broker was killed with a transaction left
    open (the new coordinator aborts it when the producer comes back).

The same tests run on Apache Kafka (SLUICE_TARGET=kafka)."""

import struct
import time
import uuid

import harness
from harness import kstr
from test_cluster_forwarding import NODES, cluster  # noqa: F401 (fixture)

# Kafka's broker.session.timeout.ms (9 s) fences a killed broker; its
# partitions move after that.
FAILOVER_S = 90


def bootstrap(c, nodes=NODES):
    return ",".join(c.addr(n) for n in nodes)


def find_coordinator(c, n, key, key_type):
    """FindCoordinator v1 through node n: (error, coordinator node id)."""
    body = kstr(key) + struct.pack(">b", key_type)
    r = harness.kafka_request(c.addr(n), 10, 1, body)
    err = struct.unpack(">h", r[4:6])[0]
    pos = 6
    mlen = struct.unpack(">h", r[pos:pos + 2])[0]
    pos += 2 + max(mlen, 0)
    node = struct.unpack(">i", r[pos:pos + 4])[0]
    return err, node


def coordinator(c, key, key_type, nodes=NODES):
    """The coordinator every node of nodes names for key, once they agree
    on one of them."""
    seen = {}

    def agreed():
        try:
            answers = {find_coordinator(c, n, key, key_type) for n in nodes}
        except OSError:
            return False
        seen["a"] = answers
        return (len(answers) == 1 and next(iter(answers))[0] == 0
                and next(iter(answers))[1] in nodes)
    harness.wait_for(agreed, FAILOVER_S, interval=0.5,
                     what="one coordinator for %r named by nodes %s" % (key, list(nodes)))
    return next(iter(seen["a"]))[1]


def make_topic(bs, prefix):
    """A topic with three partitions of three replicas, created once the
    three brokers are unfenced (right after start some may not be yet)."""
    name = harness.unique_topic(prefix)

    def created():
        try:
            harness.create_topic(bs, name, partitions=3, replication_factor=3, timeout=30)
            return True
        except Exception as e:
            if "already exists" in str(e):
                return True
            print("create %s: %s" % (name, e))
            return False
    harness.wait_for(created, 120, interval=1, what="topic %s created" % name)
    return name


def kill(c, n):
    c.run("kill9", str(n))


def partition_leaders(bs, topic):
    md = harness.admin(bs).list_topics(topic, timeout=20)
    return {p.id: p.leader for p in md.topics[topic].partitions.values()}


def wait_leaders_alive(bs, topic, alive):
    def moved():
        try:
            return all(v in alive for v in partition_leaders(bs, topic).values())
        except Exception:
            return False
    harness.wait_for(moved, FAILOVER_S, interval=0.5,
                     what="every partition of %s led by one of %s" % (topic, list(alive)))


def consume_n(cons, n, timeout=90):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for m in cons.consume(50, timeout=0.5):
            if m.error():
                continue
            got.append(m.value())
    return got


def commit_sync(cons, timeout=90):
    """Commit the consumer's position, retrying while the coordinator moves
    (a client gets NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return cons.commit(asynchronous=False)
        except Exception as e:
            if time.monotonic() > deadline:
                raise
            print("commit: %s" % e)
            time.sleep(0.5)


def committed(bs, group, topic, parts):
    from confluent_kafka import TopicPartition
    c = harness.consumer(bs, group=group)
    try:
        tps = c.committed([TopicPartition(topic, p) for p in parts], timeout=30)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def test_group_keeps_offsets_and_consumes_across_coordinator_kill(cluster):  # noqa: F811
    c = cluster
    bs = bootstrap(c)
    topic = make_topic(bs, "cg")
    first = [b"a%04d" % i for i in range(300)]
    # every partition gets records: a partition never consumed from has no
    # position to commit (-1001), whatever the client's sticky partitioner
    # did with keyless records under load
    harness.produce(bs, topic, [{"value": v, "partition": i % 3} for i, v in enumerate(first)],
                    acks="all")
    group = "g-" + uuid.uuid4().hex[:8]
    cons = harness.consumer(bs, group=group, **{"enable.auto.commit": False})
    try:
        cons.subscribe([topic])
        got = consume_n(cons, len(first))
        assert sorted(got) == sorted(first)
        commit_sync(cons)
        before = committed(bs, group, topic, range(3))
        assert sum(before.values()) == len(first), before

        coord = coordinator(c, group, 0)
        kill(c, coord)
        alive = tuple(n for n in NODES if n != coord)
        # A new coordinator, from the partition's new leader, with the
        # offsets committed through the old one.
        new_coord = coordinator(c, group, 0, alive)
        assert new_coord in alive
        assert committed(bootstrap(c, alive), group, topic, range(3)) == before

        wait_leaders_alive(bootstrap(c, alive), topic, alive)
        second = [b"b%04d" % i for i in range(150)]
        harness.produce(bootstrap(c, alive), topic, second, acks="all")
        # the same consumer goes on, past the coordinator's failover
        got = consume_n(cons, len(second))
        assert sorted(got) == sorted(second)
        commit_sync(cons)
    finally:
        cons.close()
    after = committed(bootstrap(c, alive), group, topic, range(3))
    assert sum(after.values()) == len(first) + len(second), after

    # the killed broker comes back: the offsets are still the group's
    c.run("start-node", str(coord))
    coordinator(c, group, 0)
    assert committed(bs, group, topic, range(3)) == after
    # and a new member of the group starts where the group stopped
    third = [b"c%04d" % i for i in range(30)]
    harness.produce(bs, topic, third, acks="all")
    cons = harness.consumer(bs, group=group, **{"enable.auto.commit": False})
    try:
        cons.subscribe([topic])
        got = consume_n(cons, len(third), timeout=60)
        assert sorted(got) == sorted(third)
        assert consume_n(cons, 1, timeout=2) == []
    finally:
        cons.close()


def txn_producer(bs, tid):
    p = harness.producer(bs, **{"transactional.id": tid, "enable.idempotence": True,
                                "acks": "all", "message.timeout.ms": 60000,
                                "transaction.timeout.ms": 60000})
    deadline = time.monotonic() + FAILOVER_S
    while True:
        try:
            p.init_transactions(30)
            return p
        except Exception as e:
            # retriable while the coordinator moves
            if time.monotonic() > deadline:
                raise
            print("init_transactions: %s" % e)
            time.sleep(0.5)


def produce_txn(p, topic, parts, prefix, n):
    vals = []
    p.begin_transaction()
    for i in range(n):
        part = parts[i % len(parts)]
        v = b"%s-%d-%04d" % (prefix, part, i)
        p.produce(topic, v, partition=part)
        vals.append(v)
    p.flush(60)
    return vals


def read_committed(bs, topic, expect, timeout=90):
    cons = harness.consumer(bs, group="rc-" + uuid.uuid4().hex[:8],
                            **{"isolation.level": "read_committed",
                               "enable.auto.commit": False})
    try:
        cons.subscribe([topic])
        got = consume_n(cons, expect, timeout=timeout)
        got += consume_n(cons, 1, timeout=3)  # nothing more
        return got
    finally:
        cons.close()


def test_transactions_across_brokers_and_coordinator_kill(cluster):  # noqa: F811
    c = cluster
    bs = bootstrap(c)
    topic = make_topic(bs, "tx")
    leaders = partition_leaders(bs, topic)
    assert len(set(leaders.values())) >= 2, leaders  # markers go to several brokers
    parts = sorted(leaders)
    tid = "tx-" + uuid.uuid4().hex[:8]
    p = txn_producer(bs, tid)
    committed_vals = produce_txn(p, topic, parts, b"c1", 60)
    p.commit_transaction(60)
    produce_txn(p, topic, parts, b"ab", 30)
    p.abort_transaction(60)
    committed_vals += produce_txn(p, topic, parts, b"c2", 60)
    p.commit_transaction(60)
    got = read_committed(bs, topic, len(committed_vals))
    assert sorted(got) == sorted(committed_vals)

    # A transaction left open, then its coordinator's broker dies.
    coord = coordinator(c, tid, 1)
    produce_txn(p, topic, parts, b"open", 30)
    kill(c, coord)
    alive = tuple(n for n in NODES if n != coord)
    abs_ = bootstrap(c, alive)
    new_coord = coordinator(c, tid, 1, alive)
    assert new_coord in alive
    wait_leaders_alive(abs_, topic, alive)
    # The producer comes back (a new instance, as after a crash): the new
    # coordinator aborts the open transaction and fences the old producer.
    p2 = txn_producer(abs_, tid)
    committed_vals += produce_txn(p2, topic, parts, b"c3", 60)
    p2.commit_transaction(60)
    got = read_committed(abs_, topic, len(committed_vals))
    assert sorted(got) == sorted(committed_vals)

    c.run("start-node", str(coord))
    coordinator(c, tid, 1)
    got = read_committed(bs, topic, len(committed_vals))
    assert sorted(got) == sorted(committed_vals)
