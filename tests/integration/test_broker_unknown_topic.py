"""Issue 3: with auto.create.topics.enable=false, unknown topics and
partitions get UNKNOWN_TOPIC_OR_PARTITION from every API a client uses, and
nothing is created behind the user's back."""

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import ConfigResource, NewPartitions, OffsetSpec, ResourceType

import harness

pytestmark = pytest.mark.broker_config({"auto.create.topics.enable": "false"})

UNKNOWN = KafkaError.UNKNOWN_TOPIC_OR_PART  # 3


def error_code(fut):
    with pytest.raises(KafkaException) as ei:
        fut.result(30)
    return ei.value.args[0].code()


def test_metadata_for_unknown_topic(module_broker):
    a = harness.admin(module_broker.bootstrap)
    t = harness.unique_topic("nope")
    md = a.list_topics(t, timeout=20)
    assert md.topics[t].error is not None and md.topics[t].error.code() == UNKNOWN
    assert t not in a.list_topics(timeout=20).topics


def test_produce_to_unknown_topic_fails_and_creates_nothing(module_broker):
    b = module_broker.bootstrap
    t = harness.unique_topic("nope")
    p = harness.producer(b, message_timeout_ms=5000, topic_metadata_propagation_max_ms=1000)
    errs = []
    p.produce(t, value=b"x", on_delivery=lambda e, m: errs.append(e))
    p.flush(20)
    assert errs and errs[0] is not None
    assert errs[0].code() in (KafkaError._UNKNOWN_TOPIC, UNKNOWN, KafkaError._MSG_TIMED_OUT)
    assert t not in harness.admin(b).list_topics(timeout=20).topics

    # kafka-python waits for metadata that never lists the topic.
    from kafka.errors import KafkaTimeoutError
    with pytest.raises(KafkaTimeoutError):
        harness.kp_produce(b, t, [b"x"], max_block_ms=3000)


def test_admin_calls_on_unknown_topic(module_broker):
    b = module_broker.bootstrap
    a = harness.admin(b)
    t = harness.unique_topic("nope")
    res = ConfigResource(ResourceType.TOPIC, t)
    assert error_code(a.describe_configs([res])[res]) == UNKNOWN
    assert error_code(a.delete_topics([t], operation_timeout=20)[t]) == UNKNOWN
    assert error_code(a.create_partitions([NewPartitions(t, 3)])[t]) == UNKNOWN
    # librdkafka answers these from Metadata itself; ask the broker directly.
    assert harness.list_offsets_raw(b, t, 0)[0] == UNKNOWN
    assert harness.delete_records_raw(b, t, 0, 1)[0] == UNKNOWN


def test_unknown_partition_of_existing_topic(module_broker):
    b = module_broker.bootstrap
    a = harness.admin(b)
    t = harness.create_topic(b, harness.unique_topic("one"), partitions=1)
    harness.produce(b, t, [b"a", b"b"], partition=0)
    assert harness.list_offsets_raw(b, t, 0) == (0, -1, 2)  # latest: fine
    assert harness.list_offsets_raw(b, t, 5)[0] == UNKNOWN
    assert harness.delete_records_raw(b, t, 5, 1)[0] == UNKNOWN
    assert harness.delete_records_raw(b, t, 0, 1) == (0, 1)


def test_tools_report_unknown_topic(module_broker):
    b = module_broker.bootstrap
    t = harness.unique_topic("nope")
    r = harness.kcat("-b", b, "-C", "-t", t, "-o", "beginning", "-e", check=False, timeout=60)
    assert r.returncode != 0
    assert "Unknown topic" in r.stderr or "UNKNOWN_TOPIC" in r.stderr, r.stderr
    r = harness.kafka_tool("kafka-topics", ["--bootstrap-server", b, "--describe", "--topic", t],
                           check=False)
    assert r.returncode == 1
    assert "does not exist" in r.stdout + r.stderr
