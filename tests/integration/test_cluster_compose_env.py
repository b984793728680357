"""The three-broker docker-compose of the seed notes (bitnami/kafka images,
KRaft, three combined nodes; ../shared/seeds/003_*.txt), carried over line
for line to three Sluice processes: no properties file, only the
containers' KAFKA_CFG_* / KAFKA_KRAFT_CLUSTER_ID environment. Host names
become 127.0.0.1 and each container's ports 9092/9093/9094 become free
ports of this machine; nothing else changes.

The convention belongs to the container images (their entrypoint writes
the properties file), so this runs on Sluice only; the same settings as
files run on Kafka in test_cluster_forwarding.py."""

import os
import signal
import subprocess
import time

import pytest

import harness
from toolcli import kafka

pytestmark = pytest.mark.skipif(harness.TARGET != "sluice",
                                reason="KAFKA_CFG_* is the container images' convention")

# The compose file's environment, verbatim, for kafka-broker-01..03.
COMPOSE = [
    """KAFKA_CFG_BROKER_ID=0
KAFKA_CFG_NODE_ID=0
KAFKA_KRAFT_CLUSTER_ID=6bcA_X9JR0eN9YhP3dYKnw
KAFKA_CFG_CONTROLLER_QUORUM_VOTERS=0@kafka-broker-01:9093,1@kafka-broker-02:9093,2@kafka-broker-03:9093
KAFKA_CFG_AUTO_CREATE_TOPICS_ENABLE=true
KAFKA_CFG_LISTENERS=PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:9094
KAFKA_CFG_ADVERTISED_LISTENERS=PLAINTEXT://kafka-broker-01:9092,EXTERNAL://127.0.0.1:10000
KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT,PLAINTEXT:PLAINTEXT
KAFKA_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR=3
KAFKA_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=3
KAFKA_CFG_TRANSACTION_STATE_LOG_MIN_ISR=2
KAFKA_CFG_PROCESS_ROLES=controller,broker
KAFKA_CFG_CONTROLLER_LISTENER_NAMES=CONTROLLER""",
    """KAFKA_CFG_BROKER_ID=1
KAFKA_CFG_NODE_ID=1
KAFKA_KRAFT_CLUSTER_ID=6bcA_X9JR0eN9YhP3dYKnw
KAFKA_CFG_CONTROLLER_QUORUM_VOTERS=0@kafka-broker-01:9093,1@kafka-broker-02:9093,2@kafka-broker-03:9093
KAFKA_CFG_AUTO_CREATE_TOPICS_ENABLE=true
KAFKA_CFG_LISTENERS=PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:9094
KAFKA_CFG_ADVERTISED_LISTENERS=PLAINTEXT://kafka-broker-02:9092,EXTERNAL://127.0.0.1:10001
KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT,PLAINTEXT:PLAINTEXT
KAFKA_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR=3
KAFKA_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=3
KAFKA_CFG_TRANSACTION_STATE_LOG_MIN_ISR=2
KAFKA_CFG_PROCESS_ROLES=controller,broker
KAFKA_CFG_CONTROLLER_LISTENER_NAMES=CONTROLLER""",
    """KAFKA_CFG_BROKER_ID=2
KAFKA_CFG_NODE_ID=2
KAFKA_KRAFT_CLUSTER_ID=6bcA_X9JR0eN9YhP3dYKnw
KAFKA_CFG_CONTROLLER_QUORUM_VOTERS=0@kafka-broker-01:9093,1@kafka-broker-02:9093,2@kafka-broker-03:9093
KAFKA_CFG_AUTO_CREATE_TOPICS_ENABLE=true
KAFKA_CFG_LISTENERS=PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:9094
KAFKA_CFG_ADVERTISED_LISTENERS=PLAINTEXT://kafka-broker-03:9092,EXTERNAL://127.0.0.1:10002
KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT,PLAINTEXT:PLAINTEXT
KAFKA_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR=3
KAFKA_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=3
KAFKA_CFG_TRANSACTION_STATE_LOG_MIN_ISR=2
KAFKA_CFG_PROCESS_ROLES=controller,broker
KAFKA_CFG_CONTROLLER_LISTENER_NAMES=CONTROLLER""",
]


def test_the_seed_compose_environment_runs_a_cluster(tmp_path):
    # per container: PLAINTEXT, CONTROLLER, EXTERNAL ports, and the EXTERNAL
    # host port the compose file publishes (10000+i -> 9094)
    ports = [(harness.free_port(pair=True),) for _ in range(3)]
    ports = [(p[0], p[0] + 1, harness.free_port()) for p in ports]
    procs = []
    try:
        for i, block in enumerate(COMPOSE):
            env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
            for line in block.splitlines():
                k, _, v = line.partition("=")
                for j in range(3):
                    v = v.replace("kafka-broker-0%d:9093" % (j + 1), "127.0.0.1:%d" % ports[j][1])
                    v = v.replace("kafka-broker-0%d:9092" % (j + 1), "127.0.0.1:%d" % ports[j][0])
                    v = v.replace("127.0.0.1:1000%d" % j, "127.0.0.1:%d" % ports[j][2])
                v = v.replace("://:9092", "://:%d" % ports[i][0])
                v = v.replace("://:9093", "://:%d" % ports[i][1])
                v = v.replace("://:9094", "://:%d" % ports[i][2])
                env[k] = v
            d = tmp_path / ("kafka-broker-0%d" % (i + 1))
            d.mkdir()
            log = open(str(tmp_path / ("node-%d.log" % i)), "ab")
            procs.append(subprocess.Popen([harness.SLUICE_BIN, "server"], cwd=str(d), env=env,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))

        def logs():
            return "\n".join((tmp_path / ("node-%d.log" % i)).read_text(errors="replace")[-2000:]
                             for i in range(3))

        external = ["127.0.0.1:%d" % p[2] for p in ports]

        def leader():
            assert all(p.poll() is None for p in procs), "a node exited:\n" + logs()
            r = kafka("metadata-quorum", "--bootstrap-server", external[0], "describe",
                      "--status", timeout=60)
            if r.returncode != 0:
                return None
            st = dict((k.strip(), v.strip()) for k, _, v in
                      (l.partition(":") for l in r.stdout.splitlines()))
            return st
        harness.wait_for(leader, 120, interval=1, what="a quorum leader")
        st = leader()
        assert st["ClusterId"] == "6bcA_X9JR0eN9YhP3dYKnw"
        assert int(st["LeaderId"]) in (0, 1, 2)
        assert all('"id": %d' % n in st["CurrentVoters"] for n in (0, 1, 2)), st
        # A client outside the "containers" uses the EXTERNAL listeners; the
        # compose file enables auto-creation: a produce creates the topic.
        topic = harness.unique_topic("compose")
        lead = int(st["LeaderId"])
        harness.produce(external[lead], topic, [b"c%d" % k for k in range(10)], acks="all")
        got = harness.consume(external[lead], topic, 10, timeout=60)
        assert sorted(m.value() for m in got) == sorted(b"c%d" % k for k in range(10))
        # Every node, through its EXTERNAL listener, knows the topic.
        for i in range(3):
            harness.wait_for(
                lambda: topic in harness.admin(external[i]).list_topics(timeout=10).topics,
                60, what="topic seen through node %d" % i)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        assert all(p.returncode == 0 for p in procs), [p.returncode for p in procs]
