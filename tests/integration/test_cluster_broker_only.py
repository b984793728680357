"""A broker-only node (process.roles=broker) joins the three combined nodes
of scripts/cluster.sh (`cluster.sh add-broker 4 <port>`): it follows the
metadata log as a Raft observer, registers with the active controller,
appears in every node's Metadata and in DescribeQuorum's observers, and
serves the partitions placed on it. On Sluice, or with
SLUICE_TARGET=kafka on Apache Kafka 4.3.1 (the same files)."""

import os
import subprocess

import pytest

import harness
from test_cluster_forwarding import NODES, cluster, topics_on  # noqa: F401


def brokers_on(c, addr):
    try:
        return sorted(harness.admin(addr).list_topics(timeout=10).brokers)
    except Exception:
        return []


def test_a_broker_only_node_joins_and_serves(cluster):
    c = cluster
    port = harness.free_port()
    c.run("add-broker", "4", str(port))
    b4 = "127.0.0.1:%d" % port
    for addr in [c.addr(n) for n in NODES] + [b4]:
        harness.wait_for(lambda: brokers_on(c, addr) == [1, 2, 3, 4], 60,
                         what="four brokers listed by %s" % addr)
    st = c.status(1)
    assert '"id": 4' in st["CurrentObservers"], st
    assert '"id": 4' not in st["CurrentVoters"], st
    # a partition placed on the broker-only node, written and read through it
    topic = harness.unique_topic("b4")
    harness.create_topic(c.addr(1), topic, replica_assignment=[[4]])
    md = harness.admin(b4).list_topics(topic, timeout=10)
    assert md.topics[topic].partitions[0].leader == 4
    harness.produce(b4, topic, [b"b%d" % i for i in range(10)], acks="all")
    got = harness.consume(c.addr(2), topic, 10, timeout=60)
    assert [m.value() for m in got] == [b"b%d" % i for i in range(10)]
    # admin requests through it reach the active controller
    t2 = harness.unique_topic("via4")
    harness.create_topic(b4, t2)
    harness.wait_for(lambda: t2 in topics_on(c, 3), 30, what="topic made through node 4")
    # restarted, it comes back with its data
    pid = c.pid(4)
    c.run("kill9", "4")
    c.run("start-node", "4")
    harness.wait_for(lambda: brokers_on(c, b4) == [1, 2, 3, 4], 60, what="node 4 back")
    got = harness.consume(b4, topic, 10, timeout=60)
    assert [m.value() for m in got] == [b"b%d" % i for i in range(10)]
    assert c.pid(4) != pid


@pytest.mark.skipif(harness.TARGET != "sluice", reason="Sluice's start-up checks")
def test_broker_only_settings_kafka_refuses_are_refused(tmp_path):
    """KafkaConfig's requirements for the broker role alone, word for word."""
    base = ["--override", "process.roles=broker", "--override", "node.id=2"]
    cases = [
        (["--override", "controller.quorum.voters=1@localhost:9093,2@localhost:9095"],
         "requirement failed: If process.roles contains just the 'broker' role, the node "
         "id 2 must not be included in the set of voters "
         "controller.quorum.voters=Set(1, 2)"),
        (["--override", "controller.quorum.voters=1@localhost:9093"],
         "requirement failed: controller.listener.names must not contain a value appearing "
         "in the 'listeners' configuration when running KRaft with just the broker role"),
    ]
    for extra, msg in cases:
        d = tmp_path / ("cwd%d" % len(os.listdir(str(tmp_path))))
        d.mkdir()
        r = subprocess.run([harness.SLUICE_BIN, "server"] + base + extra, cwd=str(d),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, r.stdout + r.stderr
        assert msg in r.stdout + r.stderr, r.stdout + r.stderr
        assert os.listdir(str(d)) == []
