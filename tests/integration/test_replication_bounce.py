"""An idempotent acks=all producer keeps writing while the leader of its
partitions is taken away again and again (kill -9 and restart, or SIGSTOP
and SIGCONT): every acknowledged record is read back exactly once, in the
order it was sent within its partition, and nothing is read that was not
sent (issue 18's first scenario).

Three combined nodes (scripts/cluster.sh, as the README's cluster), RF 3,
min.insync.replicas 2. Only one node is away at a time, so the metadata
quorum keeps its majority; before the next round the node is back in
every ISR, as an operator would wait before the next restart of a rolling
bounce. broker.session.timeout.ms is short so that a dead or stopped
broker is fenced in seconds."""

import os
import signal
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import harness
from test_cluster_forwarding import NODES, cluster  # noqa: F401

PARTITIONS = 2
ROUNDS = 3
FAST_FENCING = {"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500"}


def bootstrap(c):
    return ",".join(c.addr(n) for n in NODES)


def partitions(c, topic):
    """{partition: (leader, sorted isr)} from Metadata, or None."""
    try:
        md = harness.admin(bootstrap(c)).list_topics(topic, timeout=10)
        t = md.topics[topic]
        if t.error is not None:
            return None
        return {p.id: (p.leader, sorted(p.isrs)) for p in t.partitions.values()}
    except Exception:
        return None


class Writer(threading.Thread):
    """Sends "p:seq" values round-robin over the partitions, a few hundred a
    second, and keeps what was acknowledged (value -> (partition, offset))."""

    def __init__(self, c, topic):
        super().__init__(daemon=True)
        self.topic = topic
        self.p = Producer({"bootstrap.servers": bootstrap(c), "acks": "all",
                           "enable.idempotence": True, "linger.ms": 5,
                           "message.timeout.ms": 120000, "retry.backoff.ms": 50,
                           "retry.backoff.max.ms": 200,
                           "topic.metadata.refresh.interval.ms": 500,
                           "socket.connection.setup.timeout.ms": 2000,
                           "reconnect.backoff.max.ms": 200,
                           # a request in flight to a SIGSTOPped leader
                           # times out in 6 s, not librdkafka's 60 s
                           # (the idempotent producer keeps its partition
                           # waiting behind it, in order)
                           "socket.timeout.ms": 6000, "request.timeout.ms": 5000})
        self.acked = {}
        self.failed = []
        self.sent = 0
        self.stop = threading.Event()

    def done(self, err, msg):
        if err is not None:
            self.failed.append((msg.value(), err))
        else:
            self.acked[msg.value()] = (msg.partition(), msg.offset())

    def run(self):
        seq = [0] * PARTITIONS
        while not self.stop.is_set():
            part = self.sent % PARTITIONS
            v = ("%d:%07d" % (part, seq[part])).encode()
            seq[part] += 1
            self.p.produce(self.topic, v, partition=part, on_delivery=self.done)
            self.sent += 1
            self.p.poll(0.004)
        self.p.flush(150)


def read_all(c, topic):
    """Every record of every partition up to the high watermark."""
    cons = Consumer({"bootstrap.servers": bootstrap(c), "group.id": "bounce-check",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        ends = {}
        for p in range(PARTITIONS):
            _, hi = cons.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            ends[p] = hi
        cons.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        got = {p: [] for p in range(PARTITIONS)}
        deadline = time.monotonic() + 90
        while any(len(got[p]) < ends[p] for p in got) and time.monotonic() < deadline:
            m = cons.poll(0.5)
            if m is None or m.error():
                continue
            got[m.partition()].append((m.offset(), m.value()))
        return got, ends
    finally:
        cons.close()


@pytest.mark.parametrize("cluster", [FAST_FENCING], indirect=True)
@pytest.mark.parametrize("how", ["kill9", "sigstop"])
def test_leader_bounced_again_and_again_loses_nothing(cluster, how):
    c = cluster
    topic = harness.unique_topic("bounce")

    def created():
        # right after the start a broker may not be registered (unfenced)
        # yet: INVALID_REPLICATION_FACTOR, which an application retries
        try:
            harness.create_topic(bootstrap(c), topic, partitions=PARTITIONS,
                                 replication_factor=3, config={"min.insync.replicas": "2"})
            return True
        except Exception as e:
            if "already exists" in str(e):
                return True
            print("create %s: %s" % (topic, e))
            return False
    harness.wait_for(created, 90, interval=1, what="topic %s created" % topic)
    harness.wait_for(lambda: all(len(isr) == 3 for _, isr in
                                 (partitions(c, topic) or {0: (-1, [])}).values()),
                     60, what="full ISRs")
    w = Writer(c, topic)
    w.start()
    try:
        harness.wait_for(lambda: len(w.acked) >= 200, 60, what="the first acknowledgements")
        for rnd in range(ROUNDS):
            victim = partitions(c, topic)[rnd % PARTITIONS][0]
            assert victim in NODES
            before = len(w.acked)
            pid = c.pid(victim)
            if how == "kill9":
                c.run("kill9", str(victim))
            else:
                os.kill(pid, signal.SIGSTOP)
            try:
                # every partition led by a live node again, and writes go on
                harness.wait_for(
                    lambda: all(l in NODES and l != victim
                                for l, _ in (partitions(c, topic) or {0: (-1, [])}).values()),
                    60, interval=0.2, what="leaders away from node %d (round %d)" % (victim, rnd))
                harness.wait_for(lambda: len(w.acked) >= before + 200, 60,
                                 what="writes acknowledged without node %d" % victim)
            finally:
                if how == "kill9":
                    c.run("start-node", str(victim))
                else:
                    os.kill(pid, signal.SIGCONT)
            harness.wait_for(lambda: all(victim in isr for _, isr in
                                         (partitions(c, topic) or {0: (-1, [])}).values()),
                             90, interval=0.5, what="node %d back in every ISR" % victim)
    finally:
        w.stop.set()
        w.join(200)
    assert not w.is_alive(), "the producer did not finish"
    assert not w.failed, "deliveries failed: %s" % w.failed[:5]
    assert len(w.acked) == w.sent, (len(w.acked), w.sent)

    got, ends = read_all(c, topic)
    for p in range(PARTITIONS):
        assert len(got[p]) == ends[p], "partition %d: read %d of %d" % (p, len(got[p]), ends[p])
        values = [v for _, v in got[p]]
        assert len(set(values)) == len(values), "partition %d has duplicates" % p
        # what was read is what was sent to p, in the order it was sent
        assert all(v.startswith(b"%d:" % p) for v in values)
        assert values == sorted(values), "partition %d out of order" % p
    read = {v: (p, off) for p, recs in got.items() for off, v in recs}
    assert read == w.acked  # every acknowledged record, where it was acknowledged
