"""Leader elections across processes, as Apache Kafka 4.3.1's controller
makes them (ReplicationControlManager, PartitionChangeBuilder):

- a partition whose ISR members are all down stays offline (leader -1:
  Metadata's LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER from the
  replicas) while unclean.leader.election.enable is false, even when an
  out-of-sync replica is back, until an ISR member returns;
- set true on the topic dynamically (kafka-configs), the controller's
  periodic electUnclean task (unclean.leader.election.interval.ms) elects
  the out-of-sync replica; `kafka-leader-election --election-type unclean`
  does it for a topic that does not allow it;
- the old leader, back, truncates what the new leader never had (logged);
- `kafka-topics --describe --unavailable-partitions / --under-replicated-
  partitions / --under-min-isr-partitions / --at-min-isr-partitions` show
  the partitions as Kafka's TopicCommand does (Sluice's tool and Kafka's
  print the same).

Three combined nodes (the `cluster` fixture) and a broker-only node 4, so
that killing the replicas (2 and 4) never costs the quorum its majority.
Replicas leave the ISR by fencing (broker.session.timeout.ms after the
kill), which Kafka's controller does too."""

import re

import pytest

import harness
from test_broker_log_dirs import fetch_raw, produce_raw
from test_cluster_forwarding import cluster  # noqa: F401
from toolcli import kafka, run

PROPS = {
    "broker.session.timeout.ms": "4000",
    "broker.heartbeat.interval.ms": "500",
    "unclean.leader.election.interval.ms": "1000",
    "unclean.leader.election.enable": "false",
}

LEADER_NOT_AVAILABLE = 5
NOT_LEADER_OR_FOLLOWER = 6


def state(bs, topic):
    """(leader, sorted ISR, partition error code) of partition 0."""
    try:
        md = harness.admin(bs).list_topics(topic, timeout=10)
    except Exception:
        return None
    t = md.topics.get(topic)
    if t is None or 0 not in t.partitions:
        return None
    p = t.partitions[0]
    return p.leader, sorted(p.isrs), (p.error.code() if p.error else 0)


def wait_state(bs, topic, leader, isr, timeout=60):
    harness.wait_for(lambda: (state(bs, topic) or (None, None))[:2] == (leader, isr), timeout,
                     interval=0.3, what="%s: leader %s, ISR %s" % (topic, leader, isr))


def offline(bs, topic):
    """Partition 0 has no leader and its last ISR member was node 2: Sluice
    keeps it in the ISR (Kafka's behaviour without Eligible Leader
    Replicas); Kafka 4.3 with ELR (its default for a new cluster) empties
    the ISR and keeps 2 in the ELR."""
    s = state(bs, topic)
    return s is not None and s[0] == -1 and s[1] in ([2], []) and s[2] == LEADER_NOT_AVAILABLE


def wait_offline(bs, topic):
    harness.wait_for(lambda: offline(bs, topic), 60, interval=0.3,
                     what="%s offline" % topic)


def values(bs, topic, n):
    return [m.value() for m in harness.consume(bs, topic, n, timeout=60)]


def describe(bs, topics, *flags):
    """kafka-topics --describe with flags: Sluice's tool and Kafka's print the
    same; returns the lines."""
    args = ["--bootstrap-server", bs, "--describe"] + list(flags)
    r = run("topics", *args, check=True)
    k = kafka("topics", *args)
    assert k.returncode == 0, k.stderr
    mine = sorted(l for l in r.stdout.splitlines() if any(t in l for t in topics))
    theirs = sorted(l for l in k.stdout.splitlines() if any(t in l for t in topics))
    assert mine == theirs, "sluice:\n%s\nkafka:\n%s" % (r.stdout, k.stdout)
    return mine


def node_log(c, n):
    """Node n's output and, on Kafka, its server.log."""
    text = ""
    for p in (c.dir / ("node-%d.log" % n), c.dir / ("logs-%d" % n) / "server.log"):
        if p.exists():
            text += p.read_text(errors="replace")
    return text


@pytest.mark.parametrize("cluster", [PROPS], indirect=True)
def test_unclean_leader_election_off_on_and_truncation(cluster):
    c = cluster
    port = harness.free_port()
    c.run("add-broker", "4", str(port))
    b4 = "127.0.0.1:%d" % port
    bs = c.addr(1)
    harness.wait_for(lambda: sorted(harness.admin(bs).list_topics(timeout=10).brokers) ==
                     [1, 2, 3, 4], 60, what="four brokers")
    # a: stays clean; b: unclean set dynamically later; k: elected by the tool
    a, b, k = (harness.unique_topic(p) for p in ("ucA", "ucB", "ucK"))
    for t in (a, b, k):
        harness.create_topic(bs, t, replica_assignment=[[2, 4]])
        wait_state(bs, t, 2, [2, 4])
    first = [b"first-%d" % i for i in range(5)]
    for t in (a, b, k):
        harness.produce(bs, t, first, partition=0, acks="all")
    assert describe(bs, (a, b, k), "--under-replicated-partitions") == []

    # the follower dies: fenced, it leaves the ISR; the leader goes on alone
    c.run("kill9", "4")
    for t in (a, b, k):
        wait_state(bs, t, 2, [2])
    lines = describe(bs, (a, b, k), "--under-replicated-partitions")
    assert len(lines) == 3 and all("\tLeader: 2\tReplicas: 2,4\tIsr: 2\t" in l for l in lines), lines
    assert len(describe(bs, (a, b, k), "--at-min-isr-partitions")) == 3
    assert describe(bs, (a, b, k), "--under-min-isr-partitions") == []
    second = [b"second-%d" % i for i in range(5)]
    for t in (a, b, k):
        harness.produce(bs, t, second, partition=0, acks="all")

    # the last ISR member dies: offline
    c.run("kill9", "2")
    for t in (a, b, k):
        wait_offline(bs, t)
    # the stale replica comes back: with unclean elections off nothing changes
    c.run("start-node", "4")
    harness.wait_for(lambda: 4 in harness.admin(bs).list_topics(timeout=10).brokers, 60,
                     what="node 4 back")
    for t in (a, b, k):
        assert offline(bs, t), (t, state(bs, t))
        assert produce_raw(b4, t, 0) == NOT_LEADER_OR_FOLLOWER
        assert fetch_raw(b4, t, 0) == NOT_LEADER_OR_FOLLOWER
    lines = describe(bs, (a, b, k), "--unavailable-partitions")
    assert len(lines) == 3 and all(re.search(r"\tLeader: none\tReplicas: 2,4\tIsr: 2?\t", l)
                                   for l in lines), lines
    assert len(describe(bs, (a, b, k), "--under-min-isr-partitions")) == 3

    # b allows it now: the controller's periodic task elects node 4
    r = run("configs", "--bootstrap-server", bs, "--alter", "--entity-type", "topics",
            "--entity-name", b, "--add-config", "unclean.leader.election.enable=true",
            check=True)
    assert "Completed updating config" in r.stdout, r.stdout
    wait_state(bs, b, 4, [4], timeout=30)
    # k by hand, whatever its config says
    r = run("leader-election", "--bootstrap-server", bs, "--election-type", "unclean",
            "--topic", k, "--partition", "0", check=True)
    assert "Successfully completed leader election (UNCLEAN) for partitions %s-0" % k in \
        r.stdout, r.stdout
    wait_state(bs, k, 4, [4])
    # a does not allow it: still offline (the task ran since node 4 came back)
    assert offline(bs, a), state(bs, a)
    r = run("leader-election", "--bootstrap-server", bs, "--election-type", "unclean",
            "--topic", b, "--partition", "0")
    assert "Valid replica already elected for partitions %s-0" % b in r.stdout, r.stdout
    # the unclean leader serves what it had: the second batch is lost
    assert values(b4, b, 5) == first
    third = [b"third-%d" % i for i in range(3)]
    harness.produce(b4, b, third, partition=0, acks="all")

    # the old leader returns: a is back on it with everything; on b and k
    # it truncates the batch the new leader never had
    c.run("start-node", "2")
    harness.wait_for(lambda: (state(bs, a) or (None,))[0] == 2, 60, what="a led by 2 again")
    assert values(bs, a, 10) == first + second
    for t in (b, k):
        harness.wait_for(lambda: re.search(r"Truncat\w* (partition )?%s-0" % t, node_log(c, 2)),
                         60, what="node 2 logs the truncation of %s-0" % t)
    assert values(c.addr(2), b, 8) == first + third
    harness.wait_for(lambda: fetch_raw(b4, b, 0) == 0, 30, what="b served by 4")
