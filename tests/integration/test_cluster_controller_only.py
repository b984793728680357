"""Dedicated controllers, the layout Kafka recommends in production: three
controller-only nodes (process.roles=controller, a controller listener
alone) form the KRaft quorum, and the brokers are other processes
(process.roles=broker) that follow it as observers and register with the
active controller. scripts/cluster.sh with CLUSTER_ROLES=controller starts
the three controllers; `add-broker` adds brokers 4 and 5. Clients reach the
brokers only; the tools reach the controllers with --bootstrap-controller
(KIP-919). On Sluice, or with SLUICE_TARGET=kafka on Apache Kafka 4.3.1
(the same files)."""

import os
import socket
import subprocess
import struct

import pytest

import harness
from test_cluster_forwarding import NODES, _running
from toolcli import kafka, run

PROPS = {"offsets.topic.replication.factor": 2,
         "transaction.state.log.replication.factor": 2,
         "transaction.state.log.min.isr": 1}
BROKERS = (4, 5)


def listed_brokers(addr):
    try:
        return set(harness.admin(addr).list_topics(timeout=10).brokers)
    except Exception:
        return set()


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    with _running(tmp_path_factory.mktemp("ctl"), PROPS, roles="controller") as c:
        c.broker_addr = {}
        for b in BROKERS:
            port = harness.free_port()
            c.run("add-broker", str(b), str(port))
            c.broker_addr[b] = "127.0.0.1:%d" % port
        for b in BROKERS:
            harness.wait_for(lambda: listed_brokers(c.broker_addr[b]) == set(BROKERS), 60,
                             what="brokers 4 and 5 listed by broker %d" % b)
        c.bootstrap = ",".join(c.broker_addr.values())
        yield c


def ids(field):
    """The ids in a describe --status voter or observer list."""
    import json
    return sorted(x["id"] for x in json.loads(field))


def quorum_status(c, n, tool=kafka):
    r = tool("metadata-quorum", "--bootstrap-controller", c.controller_addr(n),
             "describe", "--status")
    assert r.returncode == 0, r.stderr
    return dict((k.strip(), v.strip()) for k, _, v in
                (line.partition(":") for line in r.stdout.splitlines()) if v)


def test_controllers_are_the_voters_and_brokers_observe(split):
    c = split
    for tool in (kafka, run):  # Kafka's tool and Sluice's give the same
        st = quorum_status(c, 1, tool)
        assert ids(st["CurrentVoters"]) == [1, 2, 3], st
        assert ids(st["CurrentObservers"]) == [4, 5], st
        assert int(st["LeaderId"]) in NODES
        assert st["ClusterId"] == (c.dir / "cluster.id").read_text().strip()
    # the controllers are no brokers: Metadata lists brokers 4 and 5 only
    md = harness.admin(c.bootstrap).list_topics(timeout=10)
    assert set(md.brokers) == set(BROKERS)
    r = kafka("cluster", "cluster-id", "--bootstrap-controller", c.controller_addr(2))
    assert r.returncode == 0 and st["ClusterId"] in r.stdout, r.stdout + r.stderr
    r = kafka("features", "--bootstrap-controller", c.controller_addr(3), "describe")
    assert r.returncode == 0 and "Feature: metadata.version" in r.stdout, r.stderr


def test_a_controller_listener_serves_no_client_requests(split):
    """A Produce sent to a controller's listener is refused by closing the
    connection (the API is not in the controller listener's ApiVersions)."""
    c = split
    host, port = c.controller_addr(1).split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        # Produce v3 header with client id "t", body: null transactional id,
        # acks 1, timeout 1000, no topics
        body = struct.pack(">hhih", 0, 3, 7, 1) + b"t" + struct.pack(">hhii", -1, 1, 1000, 0)
        s.sendall(struct.pack(">i", len(body)) + body)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        assert got == b"", "a controller answered a Produce: %r" % got[:64]
    finally:
        s.close()


def test_clients_use_the_brokers_and_survive_a_controller_failover(split):
    c = split
    topic = harness.unique_topic("ctl")
    harness.create_topic(c.bootstrap, topic, partitions=2, replication_factor=2)
    first = [b"a%d" % i for i in range(50)]
    harness.produce(c.bootstrap, topic, first, acks="all")
    leader = int(quorum_status(c, 1)["LeaderId"])
    c.run("kill9", str(leader))
    others = [n for n in NODES if n != leader]

    def new_leader():
        try:
            got = int(quorum_status(c, others[0])["LeaderId"])
        except AssertionError:
            return False
        return got in others and got
    harness.wait_for(new_leader, 60, interval=0.5, what="a new active controller")
    # metadata changes go through the new active controller
    topic2 = harness.unique_topic("ctl2")
    harness.wait_for(lambda: _created(c.bootstrap, topic2), 60, interval=1,
                     what="topic created after the failover")
    second = [b"b%d" % i for i in range(50)]
    harness.produce(c.bootstrap, topic, second, acks="all")
    harness.produce(c.bootstrap, topic2, second, acks="all")
    got = harness.consume(c.bootstrap, topic, 100, group=harness.unique_topic("g"))
    assert sorted(m.value() for m in got) == sorted(first + second)
    # the killed controller restarts and catches up as a follower
    c.run("start-node", str(leader))
    harness.wait_for(lambda: _voter_caught_up(c, others[0], leader), 60, interval=0.5,
                     what="controller %d back in the quorum" % leader)


def _created(bootstrap, topic):
    try:
        harness.create_topic(bootstrap, topic, partitions=1, replication_factor=2)
        return True
    except Exception as e:
        return "already exists" in str(e)


def _voter_caught_up(c, via, node):
    r = kafka("metadata-quorum", "--bootstrap-controller", c.controller_addr(via),
              "describe", "--replication")
    if r.returncode != 0:
        return False
    rows = [line.split() for line in r.stdout.splitlines()[1:] if line.strip()]
    row = [x for x in rows if x[0] == str(node)]
    return bool(row) and row[0][3] == "0" and row[0][-1] == "Follower"


@pytest.mark.skipif(harness.TARGET != "sluice", reason="Sluice's start-up checks")
def test_controller_only_settings_kafka_refuses_are_refused(tmp_path):
    """KafkaConfig's requirements for the controller role alone, word for
    word, refused at start before anything is written."""
    base = ["--override", "process.roles=controller", "--override", "node.id=1",
            "--override", "controller.quorum.voters=1@localhost:9093",
            "--override", "controller.listener.names=CONTROLLER"]
    cases = [
        (["--override", "listeners=PLAINTEXT://:9092,CONTROLLER://:9093"],
         "requirement failed: The listeners config must only contain KRaft controller "
         "listeners from controller.listener.names when process.roles=controller"),
        (["--override", "listeners=CONTROLLER://:9093",
          "--override", "inter.broker.listener.name=CONTROLLER"],
         "requirement failed: controller.listener.names must not contain an explicitly set "
         "inter.broker.listener.name configuration value when process.roles=controller'"),
        (["--override", "listeners=CONTROLLER://:9093",
          "--override", "controller.quorum.voters=2@localhost:9095"],
         "requirement failed: If process.roles contains the 'controller' role, the node id 1 "
         "must be included in the set of voters controller.quorum.voters=Set(2)"),
        (["--override", "listeners=CONTROLLER://:9093", "--override", "process.roles=observer"],
         "Invalid value observer for configuration process.roles: String must be one of: "
         "broker, controller"),
    ]
    for i, (extra, msg) in enumerate(cases):
        d = tmp_path / ("cwd%d" % i)
        d.mkdir()
        r = subprocess.run([harness.SLUICE_BIN, "server"] + base + extra, cwd=str(d),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, r.stdout + r.stderr
        assert msg in r.stdout + r.stderr, r.stdout + r.stderr
        assert os.listdir(str(d)) == []
