"""The README's first command on a fresh clone, and Apache Kafka's
quickstart on it: `sluice server` with no file must be a working single
node, as Kafka is when started from its config/server.properties (issue 15:
with Kafka's built-in defaults, offsets.topic.replication.factor=3 and
transaction.state.log.min.isr=2, __consumer_offsets is never created on one
node and every consumer group waits forever).

Sluice: `build/sluice server` in an empty working directory (data in
./sluice-data), no file; only the listener is moved to a free port (tests
run side by side), which also drops the file's advertised.listeners and
controller bootstrap server (they name ports 9092/9093). Kafka: the
settings of the shipped config/server.properties."""

import os
import re
import uuid

import pytest

import harness


@pytest.fixture
def quickstart_broker(tmp_path_factory):
    d = harness.new_workdir(str(tmp_path_factory.getbasetemp()), "quickstart")
    b = harness.Broker(d, quickstart=True)
    try:
        b.start()
        yield b
    finally:
        b.cleanup()
        b.check_sanitizers()


def broker_log(b):
    text = ""
    for p in b.log_paths():
        with open(p, errors="replace") as f:
            text += f.read()
    return text


def test_quickstart_topic_console_producer_consumer_group(quickstart_broker):
    b = quickstart_broker
    bs = b.bootstrap
    topic = "quickstart-events"
    group = "quickstart-" + uuid.uuid4().hex[:6]

    # Kafka's quickstart, step by step.
    r = harness.kafka_tool("kafka-topics", ["--create", "--topic", topic,
                                            "--bootstrap-server", bs])
    assert "Created topic %s." % topic in r.stdout
    r = harness.kafka_tool("kafka-topics", ["--describe", "--topic", topic,
                                            "--bootstrap-server", bs])
    assert re.search(r"PartitionCount: 1\s+ReplicationFactor: 1", r.stdout), r.stdout
    harness.kafka_tool("kafka-console-producer", ["--topic", topic, "--bootstrap-server", bs],
                       input="This is my first event\nThis is my second event\n")
    r = harness.kafka_tool("kafka-console-consumer", [
        "--topic", topic, "--from-beginning", "--bootstrap-server", bs,
        "--group", group, "--max-messages", "2", "--timeout-ms", "60000"])
    assert r.stdout.splitlines() == ["This is my first event", "This is my second event"]
    assert "Processed a total of 2 messages" in r.stderr

    # The group committed its position: kafka-consumer-groups shows it.
    r = harness.kafka_tool("kafka-consumer-groups", ["--bootstrap-server", bs,
                                                     "--describe", "--group", group])
    rows = [l.split() for l in r.stdout.splitlines() if l.startswith(group + " ")]
    assert [row[1:6] for row in rows] == [[topic, "0", "2", "2", "0"]], r.stdout

    # The notes' walk-through (seeds): a topic with options, keys through
    # the console producer, keys printed by a console consumer in a group.
    t2 = "hello.kafka"
    harness.kafka_tool("kafka-topics", ["--create", "--bootstrap-server", bs,
                                        "--partitions", "3", "--replication-factor", "1",
                                        "--config", "retention.ms=172800000", "--topic", t2])
    r = harness.kafka_tool("kafka-topics", ["--describe", "--bootstrap-server", bs,
                                            "--topic", t2])
    m = re.search(r"PartitionCount: 3\s+ReplicationFactor: 1\s+Configs: (\S*)", r.stdout)
    assert m, r.stdout
    # Every config not at Kafka's default: the topic's own and the file's
    # static log.segment.bytes. Kafka 4.3.1 also lists min.insync.replicas=1,
    # a cluster-wide dynamic config its storage format writes along with
    # the eligible-leader-replicas feature, which Sluice does not enable.
    shown = set(m.group(1).split(","))
    assert {"retention.ms=172800000", "segment.bytes=1073741824"} <= shown
    assert shown - {"retention.ms=172800000", "segment.bytes=1073741824"} <= {
        "min.insync.replicas=1"}, r.stdout
    harness.kafka_tool("kafka-console-producer", [
        "--bootstrap-server", bs, "--topic", t2, "--property", "parse.key=true",
        "--property", "key.separator=:"], input="my_key:my_value\n")
    r = harness.kafka_tool("kafka-console-consumer", [
        "--bootstrap-server", bs, "--topic", t2, "--property", "print.key=true",
        "--property", "key.separator=-", "--group", "test-group", "--from-beginning",
        "--max-messages", "1", "--timeout-ms", "60000"])
    # (Kafka 4.x notes on stdout that --property is now --formatter-property)
    assert [l for l in r.stdout.splitlines()
            if not l.startswith("Option --property is deprecated")] == ["my_key-my_value"]
    r = harness.kafka_tool("kafka-consumer-groups", ["--list", "--bootstrap-server", bs])
    assert {group, "test-group"} <= set(r.stdout.split())
    r = harness.kafka_tool("kafka-consumer-groups", ["--describe", "--bootstrap-server", bs,
                                                     "--group", "test-group"])
    rows = sorted(l.split()[1:6] for l in r.stdout.splitlines()
                  if l.startswith("test-group "))
    assert [row[:2] for row in rows] == [[t2, "0"], [t2, "1"], [t2, "2"]], r.stdout
    assert sum(int(row[3]) for row in rows) == 1  # LOG-END-OFFSETs: one record
    assert [row[2] for row in rows if row[3] == "1"] == ["1"]  # ...committed
    assert all(row[4] == "0" for row in rows if row[3] == "1")  # no lag

    # The README's examples: kcat with a group (-G) and the topics tool.
    harness.kcat("-b", bs, "-t", "demo", "-P", input="hello\n")
    out = harness.kcat("-b", bs, "-G", group + "-kcat", "-o", "beginning", "-e", "demo",
                       timeout=90).stdout
    assert out.splitlines() == ["hello"]
    r = harness.kafka_tool("kafka-topics", ["--list", "--bootstrap-server", bs])
    assert {topic, t2, "demo"} <= set(r.stdout.split())

    # The internal topics' settings are the file's (static broker config),
    # Kafka's defaults stay visible as such.
    r = harness.kafka_tool("kafka-configs", ["--bootstrap-server", bs, "--describe",
                                             "--entity-type", "brokers", "--entity-name", "1",
                                             "--all"])
    for key, default in (("offsets.topic.replication.factor", "3"),
                         ("transaction.state.log.replication.factor", "3"),
                         ("transaction.state.log.min.isr", "2")):
        line = [l for l in r.stdout.splitlines() if l.strip().startswith(key + "=")]
        assert len(line) == 1, r.stdout
        assert ("%s=1 sensitive=false synonyms={STATIC_BROKER_CONFIG:%s=1, "
                "DEFAULT_CONFIG:%s=%s}" % (key, key, key, default)) in line[0]

    # No broker complaining that it cannot create __consumer_offsets
    # (Sluice: "cannot create __consumer_offsets", Kafka: "does not meet the
    # required replication factor").
    log = broker_log(b)
    assert "cannot create __consumer_offsets" not in log
    assert "does not meet the required replication factor" not in log
    if b.target == "sluice":
        assert os.path.isdir(os.path.join(b.workdir, "sluice-data", topic + "-0"))
