"""The shipped three-node set, config/cluster/node-{1,2,3}.properties
(Kafka's server.properties with a static quorum of three combined nodes).

Both Apache Kafka and Sluice run them as a cluster of three brokers with
replicated internal topics; Sluice's KRaft quorum of the three combined
nodes is test_quorum_cluster.py's;
a node it cannot run yet is refused at start naming the key."""

import os
import re
import signal
import subprocess
import time
import uuid

import pytest

import harness

NODES = (1, 2, 3)


def node_file(n):
    return os.path.join(harness.ROOT, "config", "cluster", "node-%d.properties" % n)


@pytest.mark.skipif(harness.TARGET != "sluice", reason="Sluice's refusal of a node it cannot run")
def test_a_controller_outside_the_voters_is_refused(tmp_path):
    """The three files are a KRaft quorum Sluice runs (test_quorum_cluster.py);
    a fourth node with the controller role that is not one of the voters is
    refused at start with KafkaConfig's requirement (a fourth node with the
    broker role only joins: test_cluster_broker_only.py)."""
    text = open(node_file(1)).read().replace("node.id=1", "node.id=4")
    path = tmp_path / "node-4.properties"
    path.write_text(text)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    r = subprocess.run([harness.SLUICE_BIN, "server", str(path)], cwd=str(cwd),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert ("Exiting Kafka due to fatal exception: requirement failed: If process.roles "
            "contains the 'controller' role, the node id 4 must be included in the set of "
            "voters controller.quorum.voters=Set(1, 2, 3)") in out, out
    # Refused before anything is formatted or bound.
    assert os.listdir(str(cwd)) == []


def test_the_file_quickstart_itself_runs_on_sluice(tmp_path):
    """config/server.properties given as the file (not the no-file layer):
    its controller bootstrap server is this node's own controller listener."""
    if harness.TARGET != "sluice":
        pytest.skip("Kafka runs the file in test_quickstart.py")
    port = harness.free_port(pair=True)
    text = open(os.path.join(harness.ROOT, "config", "server.properties")).read()
    text = text.replace(":9092", ":%d" % port).replace(":9093", ":%d" % (port + 1))
    path = tmp_path / "server.properties"
    path.write_text(text)
    p = subprocess.Popen([harness.SLUICE_BIN, "server", str(path)], cwd=str(tmp_path),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        harness.wait_for(lambda: p.poll() is not None or
                         harness.api_versions_probe("127.0.0.1", port) == 0, 30,
                         what="sluice server started from config/server.properties")
        assert p.poll() is None, p.stdout.read().decode()
        md = harness.admin("127.0.0.1:%d" % port).list_topics(timeout=20)
        assert [(b.id, b.host, b.port) for b in md.brokers.values()] == [(1, "localhost", port)]
        assert os.path.isdir(str(tmp_path / "sluice-data"))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(60)


def test_three_node_files_run_a_cluster(tmp_path):
    """The three files, on free ports and temporary directories, make one
    cluster of three brokers: internal topics with three replicas, a topic
    with three replicas, a consumer group."""
    ports = {n: harness.free_port(pair=True) for n in NODES}
    files = {}
    for n in NODES:
        text = open(node_file(n)).read()
        for m in NODES:
            text = text.replace(":%d9092" % m, ":%d" % ports[m])
            text = text.replace(":%d9093" % m, ":%d" % (ports[m] + 1))
        text = re.sub(r"(?m)^log\.dirs=.*$", "log.dirs=%s" % (tmp_path / ("data-%d" % n)), text)
        files[n] = tmp_path / ("node-%d.properties" % n)
        files[n].write_text(text)
    procs = []
    try:
        if harness.TARGET == "kafka":
            cid = subprocess.run([harness.KAFKA_SH, "tool", "kafka-storage", "random-uuid"],
                                 capture_output=True, text=True, check=True).stdout.strip()
            for n in NODES:
                harness.kafka_tool("kafka-storage", ["format", "-t", cid, "-c", str(files[n])])
            cp = subprocess.run([harness.KAFKA_SH, "classpath"], capture_output=True, text=True,
                                check=True).stdout.strip()
            for n in NODES:
                logs = tmp_path / ("logs-%d" % n)
                logs.mkdir()
                cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
                       "-Dkafka.logs.dir=%s" % logs,
                       "-Dlog4j2.configurationFile=%s" % os.path.join(
                           harness.ROOT, "build", "kafka", "log4j2-broker.xml"),
                       "-cp", cp, "kafka.Kafka", str(files[n])]
                procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True))
        else:
            for n in NODES:
                d = tmp_path / ("cwd-%d" % n)
                d.mkdir()
                # one cluster id for the three (formatted at first start)
                env = dict(os.environ, CLUSTER_ID="MkU3OEVBNTcwNTJENDM2Qg")
                procs.append(subprocess.Popen([harness.SLUICE_BIN, "server", str(files[n])],
                                              cwd=str(d), stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True,
                                              env=env))
        bs = ",".join("127.0.0.1:%d" % ports[n] for n in NODES)

        def three_brokers():
            assert all(p.poll() is None for p in procs), "a node exited"
            try:
                return len(harness.admin(bs).list_topics(timeout=5).brokers) == 3
            except Exception:
                return False
        harness.wait_for(three_brokers, 240, interval=1, what="three brokers in Metadata")
        topic = harness.create_topic(bs, harness.unique_topic("three"), partitions=3,
                                     replication_factor=3, timeout=120)
        harness.produce(bs, topic, [b"m%d" % i for i in range(30)], acks="all")
        group = "g-" + uuid.uuid4().hex[:6]
        c = harness.consumer(bs, group=group)
        try:
            c.subscribe([topic])
            got = []
            deadline = time.monotonic() + 120
            while len(got) < 30 and time.monotonic() < deadline:
                for m in c.consume(30, timeout=1):
                    assert m.error() is None, m.error()
                    got.append(m.value())
            assert sorted(got) == sorted(b"m%d" % i for i in range(30))
            c.commit(asynchronous=False)
        finally:
            c.close()
        md = harness.admin(bs).list_topics("__consumer_offsets", timeout=20)
        assert {len(p.replicas) for p in md.topics["__consumer_offsets"].partitions.values()} == {3}
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(30)
