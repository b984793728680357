"""Topic, partition and config administration through confluent-kafka's
AdminClient, plus Metadata auto-creation and configuration from the
environment. Error codes are Kafka's (run with SLUICE_TARGET=kafka to check
the expectations against Apache Kafka)."""

import os
import struct
import subprocess
import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ConfigSource, NewPartitions, NewTopic)

import harness

sluice_only = pytest.mark.skipif(harness.TARGET != "sluice", reason="Sluice process behaviour")


def create(a, topics, **kw):
    out = {}
    for name, f in a.create_topics(topics, operation_timeout=30, request_timeout=30,
                                   **kw).items():
        try:
            f.result(30)
            out[name] = None
        except KafkaException as e:
            out[name] = e.args[0].code()
    return out


def describe_topic_config(a, topic):
    res = a.describe_configs([ConfigResource("topic", topic)], request_timeout=30)
    return list(res.values())[0].result(30)


def test_create_topics_errors(broker):
    a = harness.admin(broker.bootstrap)
    ok = harness.unique_topic("ok")
    res = create(a, [
        NewTopic(ok, 3, 1, config={"retention.ms": "60000", "cleanup.policy": "compact"}),
        NewTopic("bad name!", 1, 1),
        NewTopic("x" * 250, 1, 1),
        NewTopic(harness.unique_topic("rf"), 1, 3),
        NewTopic(harness.unique_topic("cfg"), 1, 1, config={"no.such.config": "1"}),
        NewTopic(harness.unique_topic("cfgv"), 1, 1, config={"retention.ms": "abc"}),
        NewTopic(harness.unique_topic("zero"), 0, 1),
    ])
    codes = list(res.values())
    assert codes[0] is None
    assert codes[1] == KafkaError.TOPIC_EXCEPTION
    assert codes[2] == KafkaError.TOPIC_EXCEPTION
    assert codes[3] == KafkaError.INVALID_REPLICATION_FACTOR
    assert codes[4] == KafkaError.INVALID_CONFIG
    assert codes[5] == KafkaError.INVALID_CONFIG
    assert codes[6] == KafkaError.INVALID_PARTITIONS
    assert create(a, [NewTopic(ok, 1, 1)])[ok] == KafkaError.TOPIC_ALREADY_EXISTS
    md = a.list_topics(timeout=10)
    assert len(md.topics[ok].partitions) == 3
    c = describe_topic_config(a, ok)
    assert c["retention.ms"].value == "60000"
    assert c["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert c["cleanup.policy"].value == "compact"


def test_validate_only_creates_nothing(broker):
    a = harness.admin(broker.bootstrap)
    t = harness.unique_topic("vo")
    assert create(a, [NewTopic(t, 2, 1)], validate_only=True)[t] is None
    assert t not in a.list_topics(timeout=10).topics


def test_replica_assignment(broker):
    a = harness.admin(broker.bootstrap)
    t = harness.unique_topic("ra")
    assert create(a, [NewTopic(t, 2, -1, replica_assignment=[[1], [1]])])[t] is None
    p = a.list_topics(timeout=10).topics[t].partitions
    assert sorted(p) == [0, 1] and all(x.replicas == [1] for x in p.values())
    bad = harness.unique_topic("rb")
    assert create(a, [NewTopic(bad, 1, -1, replica_assignment=[[7]])])[bad] == \
        KafkaError.INVALID_REPLICA_ASSIGNMENT


def test_delete_topics_and_create_partitions(broker):
    a = harness.admin(broker.bootstrap)
    t = harness.create_topic(broker.bootstrap, harness.unique_topic("cp"), partitions=2)
    a.create_partitions([NewPartitions(t, 5)], request_timeout=30)[t].result(30)
    harness.wait_for(lambda: len(a.list_topics(timeout=10).topics[t].partitions) == 5,
                     20, what="5 partitions")
    for n, code in ((5, KafkaError.INVALID_PARTITIONS), (3, KafkaError.INVALID_PARTITIONS)):
        with pytest.raises(KafkaException) as e:
            a.create_partitions([NewPartitions(t, n)], request_timeout=30)[t].result(30)
        assert e.value.args[0].code() == code
    nope = harness.unique_topic("nope")
    with pytest.raises(KafkaException) as e:
        a.create_partitions([NewPartitions(nope, 3)], request_timeout=30)[nope].result(30)
    assert e.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    a.delete_topics([t], operation_timeout=30)[t].result(30)
    harness.wait_for(lambda: t not in a.list_topics(timeout=10).topics, 20, what="deleted")
    with pytest.raises(KafkaException) as e:
        a.delete_topics([t], operation_timeout=30)[t].result(30)
    assert e.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


@pytest.mark.broker_config({"log.retention.hours": "100", "message.max.bytes": "2000000"})
def test_describe_configs_synonyms_and_sources(broker):
    a = harness.admin(broker.bootstrap)
    t = harness.create_topic(broker.bootstrap, harness.unique_topic("dc"),
                             config={"segment.ms": "100000"})
    res = a.describe_configs([ConfigResource("topic", t)], request_timeout=30)
    c = list(res.values())[0].result(30)
    r = c["retention.ms"]
    assert r.value == str(100 * 3600 * 1000)  # from the broker's hours, in ms
    # Kafka's quirk: the synonym list starts at the primary synonym
    # (log.retention.ms, unset), so the source reads DEFAULT_CONFIG.
    assert r.source == ConfigSource.DEFAULT_CONFIG.value
    m = c["max.message.bytes"]
    assert m.value == "2000000"
    assert m.source == ConfigSource.STATIC_BROKER_CONFIG.value
    # (confluent-kafka keys synonyms by name, so one entry per broker key)
    assert "message.max.bytes" in m.synonyms
    s = c["segment.ms"]
    assert s.value == "100000" and s.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert c["segment.bytes"].value == "1073741824"
    assert c["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    b = list(a.describe_configs([ConfigResource("broker", "1")],
                                request_timeout=30).values())[0].result(30)
    assert b["delete.topic.enable"].value == "true"
    assert b["delete.topic.enable"].source == ConfigSource.DEFAULT_CONFIG.value
    assert b["log.retention.hours"].value == "100"
    assert b["log.retention.hours"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert b["offsets.topic.replication.factor"].source == \
        ConfigSource.STATIC_BROKER_CONFIG.value


def test_alter_configs_persist_across_restart(broker):
    a = harness.admin(broker.bootstrap)
    t = harness.create_topic(broker.bootstrap, harness.unique_topic("ac"))
    fs = a.incremental_alter_configs([ConfigResource("topic", t, incremental_configs=[
        ConfigEntry("retention.ms", "12345", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET),
    ])], request_timeout=30)
    list(fs.values())[0].result(30)
    # invalid value: INVALID_CONFIG, nothing changed
    fs = a.incremental_alter_configs([ConfigResource("topic", t, incremental_configs=[
        ConfigEntry("retention.ms", "x", incremental_operation=AlterConfigOpType.SET)])],
        request_timeout=30)
    with pytest.raises(KafkaException) as e:
        list(fs.values())[0].result(30)
    assert e.value.args[0].code() == KafkaError.INVALID_CONFIG
    # delete one override
    fs = a.incremental_alter_configs([ConfigResource("topic", t, incremental_configs=[
        ConfigEntry("cleanup.policy", None, incremental_operation=AlterConfigOpType.DELETE)])],
        request_timeout=30)
    list(fs.values())[0].result(30)
    # a dynamic broker config
    fs = a.incremental_alter_configs([ConfigResource("broker", "1", incremental_configs=[
        ConfigEntry("log.retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)])],
        request_timeout=30)
    list(fs.values())[0].result(30)
    broker.restart(clean=True)
    a = harness.admin(broker.bootstrap)
    c = describe_topic_config(a, t)
    assert c["retention.ms"].value == "12345"
    assert c["cleanup.policy"].value == "delete"
    b = list(a.describe_configs([ConfigResource("broker", "1")],
                                request_timeout=30).values())[0].result(30)
    assert b["log.retention.ms"].value == "7200000"
    assert b["log.retention.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value


@pytest.mark.broker_config({"num.partitions": "3"})
def test_metadata_auto_creates_with_num_partitions(broker):
    t = harness.unique_topic("auto")
    a = harness.admin(broker.bootstrap)

    def made():
        md = a.list_topics(t, timeout=10)
        tm = md.topics.get(t)
        return tm is not None and tm.error is None and len(tm.partitions) == 3
    harness.wait_for(made, 30, what="auto-created topic")


@pytest.mark.broker_config({"auto.create.topics.enable": "false"})
def test_metadata_unknown_topic_without_auto_create(broker):
    a = harness.admin(broker.bootstrap)
    md = a.list_topics(harness.unique_topic("none"), timeout=10)
    (tm,) = md.topics.values()
    assert tm.error is not None and tm.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def raw_metadata_v1(b, topic):
    import socket
    with socket.create_connection((b.host, b.port), timeout=10) as s:
        body = struct.pack(">ih", 1, len(topic)) + topic.encode()
        hdr = struct.pack(">hhih", 3, 1, 5, 1) + b"t"
        s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
        size = struct.unpack(">i", harness._recv_exact(s, 4))[0]
        return harness._recv_exact(s, size)


def test_metadata_invalid_topic_name(broker):
    body = raw_metadata_v1(broker, "bad topic")
    # correlation, brokers[...], controller id, topics[1]: error code first
    corr, nb = struct.unpack(">ii", body[:8])
    pos = 8
    for _ in range(nb):
        pos += 4
        hl = struct.unpack(">h", body[pos:pos + 2])[0]
        pos += 2 + hl + 4
        rl = struct.unpack(">h", body[pos:pos + 2])[0]
        pos += 2 + max(rl, 0)
    pos += 4  # controller id
    nt, err = struct.unpack(">ih", body[pos:pos + 6])
    assert corr == 5 and nt == 1
    assert err == 17  # INVALID_TOPIC_EXCEPTION


def test_describe_cluster(broker):
    a = harness.admin(broker.bootstrap)
    d = a.describe_cluster(request_timeout=30).result(30)
    assert d.cluster_id
    assert [n.port for n in d.nodes] == [broker.port]
    assert d.controller is not None


@sluice_only
def test_environment_configures_the_broker(broker_factory, monkeypatch):
    monkeypatch.setenv("KAFKA_CFG_NUM_PARTITIONS", "4")          # bitnami style
    monkeypatch.setenv("KAFKA_DEFAULT_REPLICATION_FACTOR", "1")  # confluent style
    monkeypatch.setenv("KAFKA_HEAP_OPTS", "-Xmx1G")              # not a config
    b = broker_factory()
    a = harness.admin(b.bootstrap)
    t = harness.unique_topic("env")

    def made():
        tm = a.list_topics(t, timeout=10).topics.get(t)
        return tm is not None and tm.error is None and len(tm.partitions) == 4
    harness.wait_for(made, 30, what="4-partition auto-created topic")
    # --override beats the environment
    monkeypatch.setenv("KAFKA_CFG_NUM_PARTITIONS", "2")
    c = broker_factory(config={"num.partitions": "5"})
    t2 = harness.unique_topic("env")
    a2 = harness.admin(c.bootstrap)
    harness.wait_for(lambda: len(a2.list_topics(t2, timeout=10).topics[t2].partitions) == 5,
                     30, what="override wins")


@sluice_only
def test_invalid_config_value_fails_start_naming_the_key(tmp_path):
    r = subprocess.run([harness.SLUICE_BIN, "server", "--override",
                        "log.dirs=%s" % tmp_path, "--override", "num.partitions=zero",
                        "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % harness.free_port()],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "num.partitions" in r.stderr
    env = dict(os.environ, KAFKA_CFG_LOG_RETENTION_HOURS="-x")
    r = subprocess.run([harness.SLUICE_BIN, "server", "--override", "log.dirs=%s" % tmp_path],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode != 0 and "log.retention.hours" in r.stderr


@sluice_only
def test_node_id_mismatch_refuses_to_start(broker):
    broker.stop()
    r = subprocess.run([harness.SLUICE_BIN, "server", "--override", "log.dirs=%s" % broker.data_dir,
                        "--override", "node.id=2", "--override",
                        "listeners=PLAINTEXT://127.0.0.1:%d" % harness.free_port()],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "node id" in r.stderr


@sluice_only
def test_server_properties_file_and_unknown_key_warning(tmp_path):
    port = harness.free_port()
    p = tmp_path / "server.properties"
    p.write_text("# comment\nnode.id=1\nlisteners=PLAINTEXT://127.0.0.1:%d\n"
                 "log.dirs=%s\nnum.partitions : 2\nmade.up.key=1\n" % (port, tmp_path / "data"))
    proc = subprocess.Popen([harness.SLUICE_BIN, "server", str(p)], stderr=subprocess.PIPE,
                            text=True)
    try:
        harness.wait_for(lambda: harness.api_versions_probe("127.0.0.1", port) == 0, 20,
                         what="broker from server.properties")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "made.up.key" in err and "WARN" in err


@sluice_only
def test_two_listeners_advertise_their_own_addresses(broker_factory):
    p1, p2 = harness.free_port(), harness.free_port()
    b = broker_factory(config={
        "listeners": "INTERNAL://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d" % (p1, p2),
        "advertised.listeners": "INTERNAL://127.0.0.1:%d,EXTERNAL://localhost:%d" % (p1, p2),
        "listener.security.protocol.map": "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
        "inter.broker.listener.name": "INTERNAL"}, start=False)
    b.port = p1
    b.start()
    r1 = harness.kcat("-b", "127.0.0.1:%d" % p1, "-L").stdout
    r2 = harness.kcat("-b", "127.0.0.1:%d" % p2, "-L").stdout
    assert "broker 1 at 127.0.0.1:%d" % p1 in r1
    assert "broker 1 at localhost:%d" % p2 in r2


@sluice_only
def test_container_env_cluster_id_and_create_topics(broker_factory, monkeypatch):
    monkeypatch.setenv("CLUSTER_ID", "MkU3OEVBNTcwNTJENDM2Qk")  # confluent compose files
    monkeypatch.setenv("KAFKA_CREATE_TOPICS", "Orders:3:1,Compacted:1:1:compact")  # wurstmeister
    b = broker_factory()
    a = harness.admin(b.bootstrap)
    md = a.list_topics(timeout=10)
    assert md.cluster_id == "MkU3OEVBNTcwNTJENDM2Qk"
    assert len(md.topics["Orders"].partitions) == 3
    c = describe_topic_config(a, "Compacted")
    assert c["cleanup.policy"].value == "compact"
    with open(os.path.join(b.data_dir, "meta.properties")) as f:
        assert "cluster.id=MkU3OEVBNTcwNTJENDM2Qk" in f.read()

