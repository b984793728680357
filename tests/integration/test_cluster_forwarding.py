"""Admin requests work through any node of a cluster, as on Apache Kafka:
a broker forwards what Kafka's ApiKeys marks forwardable (CreateTopics,
DeleteTopics, configs, DescribeQuorum, ...) to the active controller in an
Envelope (KafkaApis.forwardToController, ControllerApis' Envelope).

The cluster is the README's: scripts/cluster.sh starts the three combined
nodes of config/cluster/ (on free ports), on Sluice, or with
SLUICE_TARGET=kafka on Apache Kafka 4.3.1 (`cluster.sh start --kafka`), and
stops them. Topics keep one replica here (placement over several brokers
and their replication are other tests)."""

import contextlib
import os
import re
import socket
import struct
import subprocess
import time

import pytest

import harness
from confluent_kafka.admin import NewTopic
from harness import cstr, uvarint
from toolcli import kafka

SCRIPT = os.path.join(harness.ROOT, "scripts", "cluster.sh")
NODES = (1, 2, 3)


class Cluster:
    def __init__(self, tmp_path, props=None, roles=None):
        """props: settings for every node; an int key maps node n to a dict
        of settings for that node alone (CLUSTER_PROPS_<n>). roles:
        "controller" makes nodes 1-3 controller-only (CLUSTER_ROLES)."""
        props = props or {}
        self.dir = tmp_path / "cluster"
        self.ports = [harness.free_port(pair=True) for _ in NODES]
        self.roles = roles or "broker,controller"
        self.env = dict(os.environ, CLUSTER_DIR=str(self.dir),
                        CLUSTER_PORTS=" ".join(map(str, self.ports)),
                        SLUICE_BIN=harness.SLUICE_BIN, CLUSTER_ROLES=self.roles,
                        CLUSTER_PROPS=" ".join("%s=%s" % kv for kv in props.items()
                                               if not isinstance(kv[0], int)))
        for n, own in props.items():
            if isinstance(n, int):
                self.env["CLUSTER_PROPS_%d" % n] = " ".join("%s=%s" % kv for kv in own.items())

    def run(self, *args, timeout=240):
        r = subprocess.run([SCRIPT] + list(args), env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        assert r.returncode == 0, "cluster.sh %s failed (%d):\n%s\n%s\n%s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr, self.logs())
        return r.stdout

    def logs(self):
        out = []
        for n in NODES:
            p = self.dir / ("node-%d.log" % n)
            if p.exists():
                out.append("--- node %d\n%s" % (n, p.read_text(errors="replace")[-3000:]))
        return "\n".join(out)

    def check_sanitizers(self):
        """An AddressSanitizer or UndefinedBehaviorSanitizer report in any
        node's output (the test build aborts on the first, and reports
        leaks at a clean exit) fails the test, as for a single broker."""
        if harness.TARGET != "sluice":
            return
        found = []
        for p in sorted(self.dir.glob("node-*.log")):
            for line in p.read_text(errors="replace").splitlines():
                if any(m in line for m in harness.Broker.SANITIZER_MARKERS):
                    found.append("%s: %s" % (p.name, line.strip()))
        assert not found, "sanitizer findings:\n%s\n%s" % ("\n".join(found[:10]), self.logs())

    def addr(self, n):
        return "127.0.0.1:%d" % self.ports[n - 1]

    def controller_addr(self, n):
        return "127.0.0.1:%d" % (self.ports[n - 1] + 1)

    def pid(self, n):
        p = self.dir / ("node-%d.pid" % n)
        return int(p.read_text()) if p.exists() else None

    def brokers(self, n):
        """The broker ids node n's Metadata lists (empty when it fails)."""
        try:
            return set(harness.admin(self.addr(n)).list_topics(timeout=10).brokers)
        except Exception:
            return set()

    def status(self, n):
        """kafka-metadata-quorum describe --status through node n's broker
        listener (its controller listener when it is controller-only), a
        dict, or None when it fails."""
        how = (["--bootstrap-controller", self.controller_addr(n)] if self.roles == "controller"
               else ["--bootstrap-server", self.addr(n)])
        r = kafka("metadata-quorum", *how, "describe", "--status", timeout=90)
        if r.returncode != 0:
            return None
        out = {}
        for line in r.stdout.splitlines():
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
        return out if "LeaderId" in out else None


@contextlib.contextmanager
def _running(path, props, roles=None):
    """roles="controller": nodes 1-3 are controller-only (cluster.sh's
    CLUSTER_ROLES), and the test adds the brokers."""
    c = Cluster(path, props, roles)
    try:
        c.run("start", *(["--kafka"] if harness.TARGET == "kafka" else []))
        # every broker registered and unfenced before the test runs: a
        # CreateTopics naming a broker that has not registered yet is
        # refused (INVALID_REPLICA_ASSIGNMENT / INVALID_REPLICATION_FACTOR)
        if c.roles != "controller":
            harness.wait_for(lambda: all(c.brokers(n) == set(NODES) for n in NODES), 120,
                             interval=0.3, what="every node's Metadata listing brokers %s"
                             % (NODES,))
        yield c
    finally:
        pids = [c.pid(n) for n in NODES]
        c.run("stop", "--now", timeout=200)
        for p in pids:
            if p:
                with pytest.raises(ProcessLookupError):
                    os.kill(p, 0)
        c.check_sanitizers()


@pytest.fixture
def cluster(tmp_path, request):
    """The three nodes; a test may give every node extra settings with
    @pytest.mark.parametrize("cluster", [{key: value}], indirect=True)."""
    with _running(tmp_path, getattr(request, "param", None)) as c:
        yield c


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory, request):
    """The same three nodes, shared by every test of a module that uses it
    (a cluster start costs seconds under ASan: tests that leave the
    cluster whole, with every node running, share one). Extra settings:
    @pytest.mark.parametrize("module_cluster", [{...}], indirect=True,
    scope="module")."""
    with _running(tmp_path_factory.mktemp("cluster"), getattr(request, "param", None)) as c:
        yield c


def create_through(c, n, name, timeout=60):
    """CreateTopics through node n alone (the client may only talk to n),
    retried as an application would while the cluster settles."""
    def created():
        a = harness.admin(c.addr(n))  # kept: the futures need their client
        futs = a.create_topics([NewTopic(name, 1, 1)], request_timeout=15)
        try:
            futs[name].result(30)
            return True
        except Exception as e:
            if "already exists" in str(e):
                return True
            print("create %s through %d: %s" % (name, n, e))
            return False
    harness.wait_for(created, timeout, interval=1, what="topic %s created through node %d" % (
        name, n))


def topics_on(c, n):
    try:
        return set(harness.admin(c.addr(n)).list_topics(timeout=10).topics)
    except Exception:
        return set()


def test_admin_requests_work_through_every_node(cluster):
    c = cluster
    leader = int(c.status(1)["LeaderId"])
    names = {n: harness.unique_topic("fwd%d" % n) for n in NODES}
    for n in NODES:
        create_through(c, n, names[n])
    for n in NODES:
        harness.wait_for(lambda: set(names.values()) <= topics_on(c, n), 60,
                         what="every topic seen from node %d" % n)
    # DescribeQuorum through every node names the same leader.
    for n in NODES:
        st = c.status(n)
        assert st is not None and int(st["LeaderId"]) == leader, (n, st)
    # Configs: altered through a follower, read through another node.
    follower = next(n for n in NODES if n != leader)
    other = next(n for n in NODES if n not in (leader, follower))
    r = kafka("configs", "--bootstrap-server", c.addr(follower), "--alter", "--entity-type",
              "topics", "--entity-name", names[leader], "--add-config", "retention.ms=123456")
    assert r.returncode == 0, r.stdout + r.stderr

    def described():
        r = kafka("configs", "--bootstrap-server", c.addr(other), "--describe",
                  "--entity-type", "topics", "--entity-name", names[leader])
        return r.returncode == 0 and "retention.ms=123456" in r.stdout
    harness.wait_for(described, 60, interval=1, what="the altered config seen elsewhere")
    # DeleteTopics through a follower.
    r = kafka("topics", "--bootstrap-server", c.addr(follower), "--delete", "--topic",
              names[other])
    assert r.returncode == 0, r.stdout + r.stderr
    for n in NODES:
        harness.wait_for(lambda: names[other] not in topics_on(c, n), 60,
                         what="the deleted topic gone from node %d" % n)


def test_forwarding_follows_a_new_active_controller(cluster):
    c = cluster
    old = int(c.status(1)["LeaderId"])
    c.run("kill9", str(old))
    alive = [n for n in NODES if n != old]

    def new_leader():
        st = c.status(alive[0])
        return st is not None and int(st["LeaderId"]) in alive
    harness.wait_for(new_leader, 60, interval=1, what="a new leader among %s" % alive)
    new = int(c.status(alive[0])["LeaderId"])
    follower = next(n for n in alive if n != new)
    name = harness.unique_topic("after")
    create_through(c, follower, name)
    harness.wait_for(lambda: name in topics_on(c, new), 30, what="topic on the new leader")
    c.run("start-node", str(old))
    harness.wait_for(lambda: name in topics_on(c, old), 60, what="the old node caught up")
    harness.wait_for(lambda: (c.status(old) or {}).get("LeaderId") == str(new), 60,
                     what="DescribeQuorum through the old node names the new leader")


# ---- Envelope on the controller listener, raw -------------------------------

def principal_bytes():
    """DefaultPrincipalData v0, version-prefixed (User:ANONYMOUS)."""
    return struct.pack(">h", 0) + cstr("User") + cstr("ANONYMOUS") + b"\x00" + uvarint(0)


def cbytes(b):
    return uvarint(0) if b is None else uvarint(len(b) + 1) + b


def header_v2(api_key, version, corr, client="fwd-test"):
    return struct.pack(">hhih", api_key, version, corr, len(client)) + client.encode() + uvarint(0)


def create_topics_v7(name, corr=11):
    body = uvarint(2) + cstr(name) + struct.pack(">ih", 1, 1) + uvarint(1) + uvarint(1) + \
        uvarint(0) + struct.pack(">ib", 30000, 0) + uvarint(0)
    return header_v2(19, 7, corr) + body


def metadata_v12(corr=12):
    # topics null (all), no auto-creation, no authorized operations
    body = uvarint(0) + b"\x00" + b"\x00" + uvarint(0)
    return header_v2(3, 12, corr) + body


def envelope(addr, data, principal, client_addr, timeout=30):
    """One Envelope v0; returns (error_code, response_data or None)."""
    host, port = addr.rsplit(":", 1)
    body = cbytes(data) + cbytes(principal) + cbytes(client_addr) + uvarint(0)
    frame = header_v2(58, 0, 99, "broker-test") + body
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", harness._recv_exact(s, 4))[0]
        resp = harness._recv_exact(s, size)
    assert struct.unpack(">i", resp[:4])[0] == 99
    rest = resp[4:]
    assert rest[0] == 0  # no tagged fields in the header
    rest = rest[1:]
    n, i = 0, 0
    shift = 0
    while True:
        b = rest[i]
        n |= (b & 0x7F) << shift
        i += 1
        shift += 7
        if not b & 0x80:
            break
    data = None if n == 0 else rest[i:i + n - 1]
    i += max(n - 1, 0)
    err = struct.unpack(">h", rest[i:i + 2])[0]
    return err, data


def test_envelope_on_the_controller_listener(cluster):
    c = cluster
    leader = int(c.status(1)["LeaderId"])
    ctl = c.controller_addr(leader)
    here = socket.inet_aton("127.0.0.1")
    # A forwardable request runs on the active controller; its response,
    # header included, comes back in ResponseData.
    name = harness.unique_topic("env")
    err, data = envelope(ctl, create_topics_v7(name), principal_bytes(), here)
    assert err == 0 and data is not None
    assert struct.unpack(">i", data[:4])[0] == 11  # the embedded correlation id
    assert name.encode() in data
    harness.wait_for(lambda: name in topics_on(c, leader), 30, what="topic from the envelope")
    # Not forwardable: INVALID_REQUEST (42).
    assert envelope(ctl, metadata_v12(), principal_bytes(), here)[0] == 42
    # No principal: PRINCIPAL_DESERIALIZATION_FAILURE (97).
    assert envelope(ctl, create_topics_v7(name + "x"), None, here)[0] == 97
    # A client address of three bytes: INVALID_REQUEST.
    assert envelope(ctl, create_topics_v7(name + "y"), principal_bytes(), b"\x7f\x00\x01")[0] == 42
    # An embedded header that does not parse: UNSUPPORTED_VERSION (35).
    assert envelope(ctl, b"\x00\x13", principal_bytes(), here)[0] == 35
    assert not {name + "x", name + "y"} & topics_on(c, leader)


def test_producer_ids_from_every_node(cluster):
    """InitProducerId (idempotent, no transactional id) through every node:
    a node's coordinator gets its producer-id blocks from the active
    controller (AllocateProducerIds), so every node answers, and no two
    producers share an id."""
    c = cluster
    body = struct.pack(">hi", -1, 60000)  # v1: transactional id null, timeout
    pids = {}
    for n in NODES:
        for _ in range(2):
            got = []

            def answered():
                r = harness.kafka_request(c.addr(n), 22, 1, body)
                _, err, pid, epoch = struct.unpack(">ihqh", r[:16])
                if err == 0:
                    got.append((pid, epoch))
                    return True
                # retriable while the node registers / its first block comes
                assert err in (14, 15, 41, 51), err
                return False
            harness.wait_for(answered, 60, interval=0.5,
                             what="InitProducerId answered by node %d" % n)
            pid, epoch = got[0]
            assert pid >= 0 and epoch == 0
            pids.setdefault(pid, []).append(n)
    assert len(pids) == 2 * len(NODES), pids
