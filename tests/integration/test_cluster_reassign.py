"""Partition reassignment with data movement (KIP-455) on the three combined
nodes of scripts/cluster.sh, as Apache Kafka 4.3.1 does it
(ReplicationControlManager.changePartitionReassignment; the AlterPartition
that brings the last new replica into the ISR completes it):

- a partition's replicas move to other brokers while a producer writes
  (kafka-reassign-partitions --execute --throttle, --verify until it is
  complete, which also removes the throttles): every acknowledged record is
  read back, in order, from each new replica as it leads, and the old
  replica's log is gone;
- a topic's replication factor is raised from 1 to 3 as the operations notes
  show: the ISR becomes the three brokers and the three logs are the same
  size (DescribeLogDirs);
- a reassignment to a stopped broker (SIGSTOP) stays in progress: --list
  shows it as Kafka's tool prints it (curReassignmentsToString), --cancel
  reverts it, and --list then shows none.

Every test leaves the three nodes running (module_cluster). Runs on Kafka
too (SLUICE_TARGET=kafka)."""

import json
import os
import signal
import threading

import harness
from test_broker_log_dirs import describe_log_dirs
from test_cluster_forwarding import module_cluster  # noqa: F401
from toolcli import kafka, run


def plan(tmp_path, topic, replicas, name="plan.json"):
    p = tmp_path / name
    p.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "replicas": replicas}]}))
    return str(p)


def part_state(bs, topic):
    """(leader, replicas, sorted ISR) of partition 0, or None."""
    try:
        md = harness.admin(bs).list_topics(topic, timeout=10)
    except Exception:
        return None
    t = md.topics.get(topic)
    if t is None or 0 not in t.partitions:
        return None
    p = t.partitions[0]
    return p.leader, list(p.replicas), sorted(p.isrs)


def verify_until_complete(bs, plan_file, topic, timeout=60):
    out = {}

    def done():
        r = run("reassign-partitions", "--bootstrap-server", bs,
                "--reassignment-json-file", plan_file, "--verify")
        out["r"] = r
        return "Reassignment of partition %s-0 is completed." % topic in r.stdout
    harness.wait_for(done, timeout, interval=0.5, what="reassignment of %s complete" % topic)
    return out["r"]


def log_sizes(c, topic):
    """{broker: size of topic-0} from each broker's DescribeLogDirs."""
    sizes = {}
    for n in (1, 2, 3):
        for d in describe_log_dirs(c.addr(n), {topic: [0]}).values():
            for (name, p, future), (size, _) in d["parts"].items():
                if name == topic and p == 0 and not future:
                    sizes[n] = size
    return sizes


def read_all(bs, topic, n):
    return [m.value() for m in harness.consume(bs, topic, n, timeout=60)]


def test_move_replicas_under_throttle_while_producing(module_cluster, tmp_path):
    c = module_cluster
    bs = ",".join(c.addr(n) for n in (1, 2, 3))
    topic = harness.unique_topic("mv")
    harness.create_topic(c.addr(1), topic, replica_assignment=[[1, 2]])
    first = [b"a-%04d" % i for i in range(200)]
    harness.produce(bs, topic, first, acks="all", enable_idempotence=True)
    # a producer writes through the whole move (the leader leaves)
    acked, stop, errors = [], threading.Event(), []

    def write():
        p = harness.producer(bs, acks="all", enable_idempotence=True, linger_ms=2)
        i = 0

        def cb(err, msg):
            if err is None:
                acked.append(msg.value())
            else:
                errors.append(err)
        while not stop.is_set():
            p.produce(topic, b"b-%05d" % i, partition=0, on_delivery=cb)
            i += 1
            p.poll(0.005)
        p.flush(60)
    th = threading.Thread(target=write)
    th.start()
    try:
        harness.wait_for(lambda: len(acked) >= 50, 30, what="the producer writing")
        f = plan(tmp_path, topic, [2, 3])
        r = run("reassign-partitions", "--bootstrap-server", c.addr(2),
                "--reassignment-json-file", f, "--execute", "--throttle", "50000000",
                check=True)
        lines = r.stdout.splitlines()
        assert lines[0] == "Current partition replica assignment", r.stdout
        assert json.loads(lines[2])["partitions"][0]["replicas"] == [1, 2]
        assert ("Warning: You must run --verify periodically, until the reassignment "
                "completes, to ensure the throttle is removed.") in lines
        assert "The inter-broker throttle limit was set to 50000000 B/s" in lines
        assert lines[-1] == "Successfully started partition reassignment for %s-0" % topic
        # Kafka's throttles: leader on the sources, follower on the new one
        # (the brokers' rates are quota configs DescribeConfigs never shows)
        d = run("configs", "--bootstrap-server", bs, "--describe", "--entity-type", "topics",
                "--entity-name", topic, check=True).stdout
        assert "leader.replication.throttled.replicas=0:1,0:2" in d, d
        assert "follower.replication.throttled.replicas=0:3" in d, d
        v = verify_until_complete(c.addr(3), f, topic)
        # the throttles go once it is done (Kafka's --verify)
        assert "Clearing broker-level throttles on brokers 1,2,3" in v.stdout, v.stdout
        assert "Clearing topic-level throttles on topic %s" % topic in v.stdout, v.stdout
        n_done = len(acked)
        harness.wait_for(lambda: len(acked) >= n_done + 50, 30, what="writes after the move")
    finally:
        stop.set()
        th.join(90)
    assert not errors, errors[:3]
    harness.wait_for(lambda: (part_state(bs, topic) or (0, 0, 0))[1:] == ([2, 3], [2, 3]), 30,
                     what="replicas [2, 3] in sync")
    want = first + acked
    leader = part_state(bs, topic)[0]
    assert leader in (2, 3)
    assert read_all(bs, topic, len(want)) == want
    # the other new replica leads: its log holds the same records
    other = 5 - leader
    f2 = plan(tmp_path, topic, [other, leader], "plan2.json")
    run("reassign-partitions", "--bootstrap-server", bs, "--reassignment-json-file", f2,
        "--execute", check=True)
    verify_until_complete(bs, f2, topic)
    r = run("leader-election", "--bootstrap-server", bs, "--election-type", "preferred",
            "--topic", topic, "--partition", "0", check=True)
    harness.wait_for(lambda: (part_state(bs, topic) or (0,))[0] == other, 30,
                     what="%d leading" % other)
    assert read_all(bs, topic, len(want)) == want
    # broker 1 no longer holds the partition; the two replicas are the same
    harness.wait_for(lambda: sorted(log_sizes(c, topic)) == [2, 3], 30,
                     what="the log gone from broker 1")
    s = log_sizes(c, topic)
    assert s[2] == s[3] and s[2] > 0, s


def test_raise_replication_factor_from_one_to_three(module_cluster, tmp_path):
    c = module_cluster
    bs = ",".join(c.addr(n) for n in (1, 2, 3))
    topic = harness.unique_topic("rf")
    harness.create_topic(c.addr(1), topic, replica_assignment=[[2]])
    values = [b"r-%04d" % i for i in range(300)]
    harness.produce(bs, topic, values, acks="all")
    f = plan(tmp_path, topic, [2, 1, 3])
    r = run("reassign-partitions", "--bootstrap-server", bs, "--reassignment-json-file", f,
            "--execute", check=True)
    assert r.stdout.splitlines()[-1] == \
        "Successfully started partition reassignment for %s-0" % topic
    verify_until_complete(bs, f, topic)
    harness.wait_for(lambda: part_state(bs, topic) == (2, [2, 1, 3], [1, 2, 3]), 30,
                     what="ISR of three")
    def same_logs():
        s = log_sizes(c, topic)
        return sorted(s) == [1, 2, 3] and len(set(s.values())) == 1
    harness.wait_for(same_logs, 60, interval=0.5, what="the same log on the three brokers")
    assert read_all(bs, topic, len(values)) == values
    # Sluice's tool prints what Kafka's prints once it is done
    for args in (["--reassignment-json-file", f, "--verify"], ["--list"]):
        r = run("reassign-partitions", "--bootstrap-server", bs, *args, check=True)
        k = kafka("reassign-partitions", "--bootstrap-server", bs, *args)
        assert k.returncode == 0 and r.stdout == k.stdout, (args, r.stdout, k.stdout + k.stderr)
    assert r.stdout == "No partition reassignments found.\n"


def test_cancel_an_in_progress_reassignment(module_cluster, tmp_path):
    c = module_cluster
    quorum_leader = int(c.status(1)["LeaderId"])
    target = next(n for n in (3, 2, 1) if n != quorum_leader)
    source = next(n for n in (1, 2, 3) if n not in (target,))
    bs = ",".join(c.addr(n) for n in (1, 2, 3) if n != target)
    topic = harness.unique_topic("cx")
    harness.create_topic(c.addr(source), topic, replica_assignment=[[source]])
    harness.produce(bs, topic, [b"c-%d" % i for i in range(50)], acks="all")
    f = plan(tmp_path, topic, [source, target])
    pid = c.pid(target)
    os.kill(pid, signal.SIGSTOP)
    try:
        run("reassign-partitions", "--bootstrap-server", bs, "--reassignment-json-file", f,
            "--execute", check=True)
        r = run("reassign-partitions", "--bootstrap-server", bs, "--list", check=True)
        want = ("Current partition reassignments:\n%s-0: replicas: %d,%d. adding: %d.\n"
                % (topic, source, target, target))
        assert r.stdout == want, r.stdout
        # (Kafka's tool prints the same, but its AdminClient may pick the
        # stopped broker for the request and time out: not run here)
        r = run("reassign-partitions", "--bootstrap-server", bs, "--reassignment-json-file", f,
                "--verify", check=True)
        assert "Reassignment of partition %s-0 is still in progress." % topic in r.stdout
        # (no throttle to clear: clearing one would ask the stopped broker)
        r = run("reassign-partitions", "--bootstrap-server", bs, "--reassignment-json-file", f,
                "--cancel", "--preserve-throttles", check=True)
        assert r.stdout.splitlines()[0] == \
            "Successfully cancelled partition reassignments for: %s-0" % topic, r.stdout
        r = run("reassign-partitions", "--bootstrap-server", bs, "--list", check=True)
        assert r.stdout == "No partition reassignments found.\n"
        assert (part_state(bs, topic) or (0, 0))[1] == [source]
    finally:
        os.kill(pid, signal.SIGCONT)
    # whole again for the next test
    harness.wait_for(lambda: all(c.brokers(n) == {1, 2, 3} for n in (1, 2, 3)), 60,
                     interval=0.5, what="every node back")
