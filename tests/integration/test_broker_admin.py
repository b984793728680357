"""Issue 3: topic, partition and config admin through AdminClient (and
Kafka's own kafka-topics / kafka-configs) - create with configs,
validate_only, describe configs with sources and synonyms, alter and
incremental alter, create partitions, delete. (That all of it persists
across a restart is checked in test_broker_recovery.py.)"""

import os
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ConfigSource, NewPartitions, NewTopic, ResourceType)

import harness

# shared_broker has a static log.segment.bytes=536870912 override, so a
# topic config can show STATIC_BROKER_CONFIG (conftest.SHARED_CONFIG).


def result(fut, timeout=30):
    return fut.result(timeout)


def error_code(fut, timeout=30):
    """The Kafka error code a failed admin future carries."""
    with pytest.raises(KafkaException) as ei:
        fut.result(timeout)
    return ei.value.args[0].code()


def describe(a, rtype, name):
    res = ConfigResource(rtype, name)
    return result(a.describe_configs([res])[res])


def describe_until(a, rtype, name, want, timeout=20):
    """Describe until every (key, value) in want shows: an alter is applied
    through the controller, and the broker answering may see it a moment
    later."""
    last = {}

    def ok():
        last["cfg"] = describe(a, rtype, name)
        return all(last["cfg"][k].value == v for k, v in want.items())
    try:
        harness.wait_for(ok, timeout, interval=0.2, what="configs %s" % want)
    except AssertionError:
        got = {k: last["cfg"][k].value for k in want}
        raise AssertionError("configs of %s: want %s, got %s" % (name, want, got))
    return last["cfg"]


def topic_names(a):
    return set(a.list_topics(timeout=20).topics)


def test_create_topic_with_configs_and_describe_sources(shared_broker):
    b = shared_broker.bootstrap
    a = harness.admin(b)
    t = harness.unique_topic("cfg")
    fs = a.create_topics([NewTopic(t, 3, 1, config={"retention.ms": "86400000",
                                                    "cleanup.policy": "compact",
                                                    "max.message.bytes": "64000"})])
    assert result(fs[t]) is None
    md = harness.wait_for(lambda: a.list_topics(t, timeout=10).topics.get(t), 20)
    assert len(md.partitions) == 3

    cfg = describe(a, ResourceType.TOPIC, t)
    assert cfg["retention.ms"].value == "86400000"
    assert cfg["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert not cfg["retention.ms"].is_default
    assert cfg["cleanup.policy"].value == "compact"
    assert cfg["max.message.bytes"].value == "64000"
    # Inherited from the broker's static config.
    assert cfg["segment.bytes"].value == "536870912"
    assert cfg["segment.bytes"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    # Synonyms name the broker key (confluent-kafka keys them by name, so
    # the STATIC and DEFAULT entries of log.segment.bytes collapse to one).
    assert "log.segment.bytes" in cfg["segment.bytes"].synonyms
    # Untouched: Kafka's defaults.
    assert cfg["min.insync.replicas"].value == "1"
    assert cfg["retention.bytes"].value == "-1"
    assert cfg["retention.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert cfg["compression.type"].value == "producer"
    assert cfg["message.timestamp.type"].value == "CreateTime"

    # Kafka's kafka-topics shows the same thing.
    out = harness.kafka_tool("kafka-topics", ["--bootstrap-server", b, "--describe",
                                              "--topic", t]).stdout
    first = out.splitlines()[0]
    assert "PartitionCount: 3" in first and "ReplicationFactor: 1" in first
    assert "retention.ms=86400000" in first and "cleanup.policy=compact" in first
    assert out.count("Leader: 1") == 3


def test_create_topics_errors_and_validate_only(shared_broker):
    a = harness.admin(shared_broker.bootstrap)
    t = harness.unique_topic("val")
    fs = a.create_topics([NewTopic(t, 2, 1)], validate_only=True)
    assert result(fs[t]) is None
    time.sleep(1)
    assert t not in topic_names(a)

    harness.create_topic(shared_broker.bootstrap, t, 2)
    assert error_code(a.create_topics([NewTopic(t, 2, 1)])[t]) == KafkaError.TOPIC_ALREADY_EXISTS
    bad = harness.unique_topic("bad")
    assert error_code(a.create_topics([NewTopic(bad, 1, 3)])[bad]) == \
        KafkaError.INVALID_REPLICATION_FACTOR
    assert error_code(a.create_topics([NewTopic(bad, 1, 1, config={"cleanup.policy": "bogus"})])[bad]) \
        == KafkaError.INVALID_CONFIG
    assert error_code(a.create_topics([NewTopic(bad, 1, 1, config={"retention.ms": "abc"})])[bad]) \
        == KafkaError.INVALID_CONFIG
    assert error_code(a.create_topics([NewTopic("bad/name", 1, 1)])["bad/name"]) == \
        KafkaError.TOPIC_EXCEPTION
    # validate_only reports the same errors it would on a real create.
    assert error_code(a.create_topics([NewTopic(bad, 1, 1, config={"cleanup.policy": "bogus"})],
                                      validate_only=True)[bad]) == KafkaError.INVALID_CONFIG
    assert error_code(a.create_topics([NewTopic(t, 1, 1)], validate_only=True)[t]) == \
        KafkaError.TOPIC_ALREADY_EXISTS
    assert bad not in topic_names(a)


def test_alter_and_incremental_alter_configs(shared_broker):
    b = shared_broker.bootstrap
    a = harness.admin(b)
    t = harness.create_topic(b, harness.unique_topic("alter"), config={"retention.ms": "1000000"})
    res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
        ConfigEntry("retention.ms", "2000000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET)])
    assert result(a.incremental_alter_configs([res])[res]) is None
    describe_until(a, ResourceType.TOPIC, t, {"retention.ms": "2000000",
                                              "cleanup.policy": "compact"})

    res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.APPEND),
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)])
    assert result(a.incremental_alter_configs([res])[res]) is None
    cfg = describe_until(a, ResourceType.TOPIC, t, {"cleanup.policy": "compact,delete",
                                                    "retention.ms": "604800000"})  # default
    assert cfg["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value

    # An invalid value is refused and changes nothing.
    res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
        ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)])
    assert error_code(a.incremental_alter_configs([res])[res]) == KafkaError.INVALID_CONFIG
    assert describe(a, ResourceType.TOPIC, t)["retention.ms"].value == "604800000"

    # Legacy AlterConfigs replaces the whole set of overrides.
    res = ConfigResource(ResourceType.TOPIC, t, set_config={"segment.ms": "3600000"})
    assert result(a.alter_configs([res])[res]) is None
    # cleanup.policy's override is gone: AlterConfigs replaces the set.
    describe_until(a, ResourceType.TOPIC, t, {"segment.ms": "3600000", "cleanup.policy": "delete"})

    # kafka-configs (IncrementalAlterConfigs) and its describe output.
    harness.kafka_tool("kafka-configs", ["--bootstrap-server", b, "--alter", "--entity-type",
                                         "topics", "--entity-name", t, "--add-config",
                                         "retention.bytes=123456789"])
    out = harness.kafka_tool("kafka-configs", ["--bootstrap-server", b, "--describe",
                                               "--entity-type", "topics", "--entity-name", t]).stdout
    assert "retention.bytes=123456789" in out and "segment.ms=3600000" in out


def test_describe_broker_config(shared_broker):
    a = harness.admin(shared_broker.bootstrap)
    cfg = describe(a, ResourceType.BROKER, "1")
    assert cfg["log.segment.bytes"].value == "536870912"
    assert cfg["log.segment.bytes"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert cfg["num.partitions"].value == "2"
    assert cfg["num.partitions"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert cfg["message.max.bytes"].value == "1048588"
    assert cfg["auto.create.topics.enable"].value == "true"
    assert cfg["log.retention.hours"].value == "168"


def test_create_partitions(shared_broker):
    b = shared_broker.bootstrap
    a = harness.admin(b)
    t = harness.create_topic(b, harness.unique_topic("parts"), partitions=1)
    assert result(a.create_partitions([NewPartitions(t, 4)])[t]) is None
    harness.wait_for(lambda: len(a.list_topics(t, timeout=10).topics[t].partitions) == 4, 20,
                     what="4 partitions")
    d = harness.produce(b, t, [b"p3"], partition=3)
    assert (d[0].partition(), d[0].offset()) == (3, 0)
    assert error_code(a.create_partitions([NewPartitions(t, 2)])[t]) == KafkaError.INVALID_PARTITIONS
    assert error_code(a.create_partitions([NewPartitions(t, 4)])[t]) == KafkaError.INVALID_PARTITIONS
    fs = a.create_partitions([NewPartitions(t, 6)], validate_only=True)
    assert result(fs[t]) is None
    time.sleep(0.5)
    assert len(a.list_topics(t, timeout=10).topics[t].partitions) == 4


def test_delete_topic_and_recreate(shared_broker):
    b = shared_broker.bootstrap
    a = harness.admin(b)
    t = harness.create_topic(b, harness.unique_topic("del"), partitions=2)
    harness.produce(b, t, [b"old-%d" % i for i in range(5)], partition=0)
    assert result(a.delete_topics([t], operation_timeout=30)[t]) is None
    harness.wait_for(lambda: t not in topic_names(a), 30, what="topic gone")
    assert error_code(a.delete_topics([t], operation_timeout=30)[t]) == \
        KafkaError.UNKNOWN_TOPIC_OR_PART
    # The data directory of the deleted topic goes away (Kafka renames it
    # to <topic>-<p>.<id>-delete first, then removes it).
    harness.wait_for(lambda: not any(
        n.startswith(t + "-") and not n.endswith("-delete")
        for n in os.listdir(shared_broker.data_dir)), 30, what="partition dirs gone")

    harness.create_topic(b, t, partitions=1)
    assert harness.watermarks(b, t) == (0, 0)
    d = harness.produce(b, t, [b"new"], partition=0)
    assert d[0].offset() == 0
    assert [m.value() for m in harness.consume(b, t, 1)] == [b"new"]
