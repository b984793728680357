"""Every node's broker registers and heartbeats with the active controller
(KIP-631, Kafka's BrokerLifecycleManager), three combined nodes from
config/cluster on one machine:
  - Metadata lists all three brokers, at their advertised addresses, from
    any node;
  - a topic of 3 partitions with replication factor 3 gets replicas on all
    three brokers with the leaders spread; replication factor 4 is refused
    with INVALID_REPLICATION_FACTOR;
  - kill -9 of a node: after broker.session.timeout.ms it is fenced (gone
    from Metadata) and its partitions are led by another ISR member;
    restarted, it registers again and shows again;
  - kill -9 of the active controller: the new one rebuilds the heartbeat
    sessions (nobody else fenced) and fences the dead node one session
    timeout later;
  - SIGTERM of a node leading partitions: controlled shutdown moves its
    leaderships away before the process exits.
Partition data is not replicated yet (the fetcher is the next step), so
these tests look at metadata only: replicas, leaders, ISRs, brokers.
The same tests run against three Apache Kafka 4.3 processes
(SLUICE_TARGET=kafka)."""

import os
import re
import signal
import subprocess
import time

import pytest

import harness

NODES = (1, 2, 3)
SESSION_MS = 3000
HEARTBEAT_MS = 300
INVALID_REPLICATION_FACTOR = 38


def node_file(n):
    return os.path.join(harness.ROOT, "config", "cluster", "node-%d.properties" % n)


class Cluster:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.ports = {n: harness.free_port(pair=True) for n in NODES}
        self.files = {}
        for n in NODES:
            text = open(node_file(n)).read()
            for m in NODES:
                text = text.replace(":%d9092" % m, ":%d" % self.ports[m])
                text = text.replace(":%d9093" % m, ":%d" % (self.ports[m] + 1))
            text = re.sub(r"(?m)^log\.dirs=.*$",
                          "log.dirs=%s" % (tmp_path / ("data-%d" % n)), text)
            # the internal topics on one replica: data is not replicated yet
            text = re.sub(r"(?m)^(offsets|transaction)\.(topic|state\.log)\."
                          r"(replication\.factor|min\.isr)=.*$", "", text)
            text += ("\nbroker.session.timeout.ms=%d\nbroker.heartbeat.interval.ms=%d\n"
                     "offsets.topic.replication.factor=1\n"
                     "transaction.state.log.replication.factor=1\n"
                     "transaction.state.log.min.isr=1\n" % (SESSION_MS, HEARTBEAT_MS))
            self.files[n] = tmp_path / ("node-%d.properties" % n)
            self.files[n].write_text(text)
        self.cluster_id = "MkU3OEVBNTcwNTJENDM2Qg"
        self.procs = {}
        if harness.TARGET == "kafka":
            for n in NODES:
                harness.kafka_tool("kafka-storage", ["format", "-t", self.cluster_id,
                                                     "-c", str(self.files[n])])
            self.cp = subprocess.run([harness.KAFKA_SH, "classpath"], capture_output=True,
                                     text=True, check=True).stdout.strip()

    def start(self, n):
        log = open(str(self.tmp / ("node-%d.log" % n)), "ab")
        if harness.TARGET == "kafka":
            logs = self.tmp / ("logs-%d" % n)
            logs.mkdir(exist_ok=True)
            cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
                   "-Dkafka.logs.dir=%s" % logs,
                   "-Dlog4j2.configurationFile=%s" % os.path.join(
                       harness.ROOT, "build", "kafka", "log4j2-broker.xml"),
                   "-cp", self.cp, "kafka.Kafka", str(self.files[n])]
            self.procs[n] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            return
        d = self.tmp / ("cwd-%d" % n)
        d.mkdir(exist_ok=True)
        env = dict(os.environ, CLUSTER_ID=self.cluster_id)
        self.procs[n] = subprocess.Popen([harness.SLUICE_BIN, "server", str(self.files[n])],
                                         cwd=str(d), stdout=log, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True)

    def addr(self, n):
        return "localhost:%d" % self.ports[n]

    def log(self, n):
        return open(str(self.tmp / ("node-%d.log" % n)), errors="replace").read()

    def metadata(self, n, topic=None):
        return harness.admin(self.addr(n)).list_topics(topic, timeout=10)

    def brokers(self, n):
        """{id: (host, port)} of node n's Metadata, None if it does not answer."""
        try:
            md = self.metadata(n)
        except Exception:
            return None
        return {b.id: (b.host, b.port) for b in md.brokers.values()}

    def wait_brokers(self, alive, want, timeout):
        """Every node in alive lists exactly the brokers want."""
        expect = {m: ("localhost", self.ports[m]) for m in want}

        def ok():
            for n in alive:
                assert self.procs[n].poll() is None, "node %d exited:\n%s" % (
                    n, self.log(n)[-3000:])
            return all(self.brokers(n) == expect for n in alive)
        try:
            harness.wait_for(ok, timeout, interval=0.2,
                             what="brokers %s in Metadata of %s" % (sorted(want), sorted(alive)))
        except AssertionError as e:
            raise AssertionError("%s; they list %s\n%s" % (
                e, {n: self.brokers(n) for n in alive},
                "\n".join("--- node %d\n%s" % (n, self.log(n)[-4000:]) for n in NODES)))

    def controller(self, n):
        return self.metadata(n).controller_id

    def partitions(self, n, topic):
        md = self.metadata(n, topic)
        t = md.topics[topic]
        assert t.error is None, t.error
        return {p.id: (p.leader, list(p.replicas), list(p.isrs))
                for p in t.partitions.values()}

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        for p in self.procs.values():
            p.wait(30)


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        for n in NODES:
            c.start(n)
        c.wait_brokers(NODES, NODES, 120 if harness.TARGET == "kafka" else 40)
        yield c
    finally:
        c.stop()


def create(c, n, topic, partitions, rf):
    """CreateTopics through node n: None, or the KafkaError."""
    from confluent_kafka.admin import NewTopic
    a = harness.admin(c.addr(n))
    fs = a.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=rf)],
        operation_timeout=30, request_timeout=30)
    try:
        fs[topic].result(60)
        return None
    except Exception as e:
        return e.args[0]


def spread_topic(c, n):
    """A topic of 3 partitions with replication factor 3 through node n:
    its {partition: (leader, replicas, isr)} once every node sees it."""
    topic = harness.unique_topic("rf3")
    err = create(c, n, topic, 3, 3)
    assert err is None, err

    def seen():
        try:
            return all(len(c.partitions(m, topic)) == 3 and
                       all(l >= 0 for l, _, _ in c.partitions(m, topic).values())
                       for m in NODES if c.procs[m].poll() is None)
        except Exception:
            return False
    harness.wait_for(seen, 30, what="%s on every node" % topic)
    return topic, c.partitions(n, topic)


def test_every_broker_in_metadata_and_replicas_spread(cluster):
    c = cluster
    # the controller id is a live broker (Kafka names a random one, which
    # forwards; Sluice names the active controller's, the same everywhere)
    ctl = {c.controller(n) for n in NODES}
    assert ctl <= set(NODES), ctl
    if harness.TARGET == "sluice":
        assert len(ctl) == 1, ctl
    topic, parts = spread_topic(c, 1)
    for pid, (leader, replicas, isr) in parts.items():
        assert sorted(replicas) == list(NODES), parts
        assert sorted(isr) == list(NODES), parts
        assert leader == replicas[0], parts
    # the leaders are spread: each broker leads one partition
    assert sorted(l for l, _, _ in parts.values()) == list(NODES), parts
    # the same through every node
    for n in NODES:
        assert c.partitions(n, topic) == parts
    # more replicas than brokers
    err = create(c, 2, harness.unique_topic("rf4"), 1, 4)
    assert err is not None and err.code() == INVALID_REPLICATION_FACTOR, err


def test_kill9_fences_after_session_timeout_and_restart_registers_again(cluster):
    c = cluster
    ctl = c.controller(1)
    topic, parts = spread_topic(c, ctl)
    victim = next(n for n in NODES if n != ctl)
    led = [pid for pid, (l, _, _) in parts.items() if l == victim]
    assert led, parts
    c.procs[victim].send_signal(signal.SIGKILL)
    c.procs[victim].wait(10)
    killed = time.time()
    alive = tuple(n for n in NODES if n != victim)
    c.wait_brokers(alive, alive, SESSION_MS / 1000.0 + 20)
    # not before the session timeout
    assert time.time() - killed >= SESSION_MS / 1000.0 * 0.8
    for n in alive:
        now = c.partitions(n, topic)
        for pid in led:
            leader, replicas, isr = now[pid]
            assert leader in alive and leader in parts[pid][2], now
            assert victim not in isr and sorted(replicas) == list(NODES), now
        assert all(l != victim for l, _, _ in now.values()), now
    # back: it registers again (a new incarnation, once the old session
    # expired) and unfences
    c.start(victim)
    c.wait_brokers(NODES, NODES, 60)


def test_controller_failover_rebuilds_sessions(cluster):
    c = cluster
    ctl = c.controller(1)
    topic, parts = spread_topic(c, ctl)
    c.procs[ctl].send_signal(signal.SIGKILL)
    c.procs[ctl].wait(10)
    alive = tuple(n for n in NODES if n != ctl)
    # a new controller among the survivors; the dead one fenced by it
    # (its session rebuilt at activation expires), the others not
    c.wait_brokers(alive, alive, SESSION_MS / 1000.0 + 30)
    harness.wait_for(lambda: all(c.controller(n) in alive for n in alive), 30,
                     what="a new controller")
    def moved():
        return all(all(l in alive for l, _, _ in c.partitions(n, topic).values())
                   for n in alive)
    try:
        harness.wait_for(moved, 10, what="leaders moved off node %d" % ctl)
    except AssertionError as e:
        raise AssertionError("%s: %s; brokers %s\n%s" % (
            e, {n: c.partitions(n, topic) for n in alive}, {n: c.brokers(n) for n in alive},
            "\n".join("--- node %d\n%s" % (n, c.log(n)[-5000:]) for n in alive)))
    # the survivors stay registered and unfenced for several session
    # timeouts: their heartbeats reach the new controller
    time.sleep(2 * SESSION_MS / 1000.0)
    for n in alive:
        assert set(c.brokers(n)) == set(alive)
    c.start(ctl)
    c.wait_brokers(NODES, NODES, 60)


def test_sigterm_moves_leadership_before_exit(cluster):
    c = cluster
    ctl = c.controller(1)
    topic, parts = spread_topic(c, ctl)
    victim = next(n for n in NODES if n != ctl)
    assert any(l == victim for l, _, _ in parts.values()), parts
    c.procs[victim].send_signal(signal.SIGTERM)
    c.procs[victim].wait(60)
    alive = tuple(n for n in NODES if n != victim)
    # at once, well inside a session timeout: controlled shutdown fenced it
    # and moved its leaderships while it was still running
    for n in alive:
        now = c.partitions(n, topic)
        assert all(l in alive for l, _, _ in now.values()), (n, now)
        for pid, (leader, replicas, isr) in now.items():
            assert victim not in isr and sorted(replicas) == list(NODES), now
    c.wait_brokers(alive, alive, 5)
    if harness.TARGET == "sluice":
        log = c.log(victim)
        assert "Beginning controlled shutdown" in log
        assert "The controller has asked us to exit controlled shutdown" in log
