"""ISR changes made by partition leaders (AlterPartition, KIP-497/841/903)
and min.insync.replicas on the three combined nodes of scripts/cluster.sh
(the `cluster` fixture of test_cluster_forwarding.py), on Sluice and with
SLUICE_TARGET=kafka on Apache Kafka 4.3.1:
  - replication factor 2, min.insync.replicas 2: the follower's controlled
    shutdown takes it out of the ISR, acks=all gets NOT_ENOUGH_REPLICAS
    (acks=1 is taken but, under min ISR, not exposed: KIP-966); back, it
    catches up, the leader expands the ISR and writes resume, nothing lost;
  - replication factor 3: a follower stopped with SIGSTOP leaves the ISR
    within replica.lag.time.max.ms (3 s here, far below the broker session
    timeout, so the leader's shrink and not a fencing takes it out); acks=all
    writes wait for it until then and go on with two; after SIGCONT it
    catches up and rejoins; every record is there, in order.
The follower taken out is never the quorum's leader, so the metadata quorum
keeps its majority and its leader throughout."""

import os
import signal
import time

import pytest
from confluent_kafka import KafkaError

import harness
from test_cluster_forwarding import NODES, cluster  # noqa: F401 (fixture)

LAG_MS = 3000


def quorum_leader(c):
    st = None
    for n in NODES:
        st = c.status(n)
        if st:
            return int(st["LeaderId"])
    raise AssertionError("no quorum leader")


def boot(c, nodes):
    return ",".join(c.addr(n) for n in nodes)


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


def wait_exit(pid, timeout=60):
    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
    harness.wait_for(gone, timeout, what="pid %d exited" % pid)


def test_acks_all_with_isr_below_min_insync_replicas(cluster):  # noqa: F811
    c = cluster
    ctl = quorum_leader(c)
    # The follower that leaves is not the quorum's leader; the partition
    # leader (the other replica) stays leader throughout.
    out = next(n for n in NODES if n != ctl)
    lead = next(n for n in NODES if n != out)
    b = boot(c, [n for n in NODES if n != out])
    t = harness.create_topic(b, harness.unique_topic("minisr"), replica_assignment=[[lead, out]],
                             config={"min.insync.replicas": "2"})
    harness.wait_for(lambda: isr(b, t) == (lead, sorted([lead, out])), 60,
                     what="leader %d, ISR [%d, %d]" % (lead, lead, out))
    assert produce_error(b, t, "all") is None

    pid = c.pid(out)
    os.kill(pid, signal.SIGTERM)  # controlled shutdown: out leaves the ISR
    wait_exit(pid)
    harness.wait_for(lambda: isr(b, t) == (lead, [lead]), 60, what="ISR [%d]" % lead)
    err = produce_error(b, t, "all")
    assert err is not None and err.code() == KafkaError.NOT_ENOUGH_REPLICAS  # 19
    assert produce_error(b, t, 1) is None  # the leader alone is enough for acks=1
    # ...but with the ISR under min.insync.replicas the high watermark does
    # not advance (KIP-966), so consumers do not see that record yet.
    assert harness.watermarks(b, t) == (0, 1)

    c.run("start-node", str(out))
    harness.wait_for(lambda: isr(b, t) == (lead, sorted([lead, out])), 60,
                     what="ISR [%d, %d] again" % (lead, out))
    assert produce_error(b, t, "all") is None
    assert harness.watermarks(b, t) == (0, 3)
    got = harness.consume(b, t, 3)
    assert [m.offset() for m in got] == [0, 1, 2]


@pytest.mark.parametrize("cluster", [{"replica.lag.time.max.ms": LAG_MS,
                                      "broker.session.timeout.ms": 30000}], indirect=True)
def test_stopped_follower_leaves_the_isr_and_rejoins(cluster):  # noqa: F811
    c = cluster
    ctl = quorum_leader(c)
    stopped = next(n for n in NODES if n != ctl)
    lead, mid = [n for n in NODES if n != stopped]
    live = boot(c, [lead, mid])
    t = harness.create_topic(live, harness.unique_topic("lagisr"),
                             replica_assignment=[[lead, mid, stopped]],
                             config={"min.insync.replicas": "2"})
    harness.wait_for(lambda: isr(live, t) == (lead, sorted(NODES)), 60,
                     what="ISR of all three")
    values = [b"v%03d" % i for i in range(30)]
    harness.produce(live, t, values[:10], partition=0, acks="all")

    pid = c.pid(stopped)
    os.kill(pid, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        # acks=all waits for the stopped follower until the leader takes it
        # out of the ISR, then the two others are enough (min ISR 2)
        harness.produce(live, t, values[10:20], partition=0, acks="all",
                        message_timeout_ms=60000)
        harness.wait_for(lambda: isr(live, t) == (lead, sorted([lead, mid])), 30,
                         interval=0.2, what="ISR without the stopped node %d" % stopped)
        took = time.monotonic() - t0
        # shrunk by the leader: within the lag time (checked every half of
        # it), well before the 30 s session timeout could fence it
        assert took < 2 * LAG_MS / 1000 + 3, took
    finally:
        os.kill(pid, signal.SIGCONT)
    harness.wait_for(lambda: isr(live, t) == (lead, sorted(NODES)), 60, interval=0.2,
                     what="node %d back in the ISR" % stopped)
    harness.produce(live, t, values[20:], partition=0, acks="all")
    got = harness.consume(live, t, len(values))
    assert [m.value() for m in got] == values
    assert [m.offset() for m in got] == list(range(len(values)))
