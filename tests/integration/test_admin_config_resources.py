"""ListConfigResources (API 74, KIP-1142) and the broker version clients
infer from ApiVersions, on one broker shared by the module.

ListConfigResources is checked byte for byte with a raw client (error code,
which resources of which types) and through Kafka 4.3.1's own kafka-configs,
which lists group and client-metrics config resources with it."""

import socket
import struct

import pytest

import harness
from test_groups_consumer_lib import Conn, Reader, TAGS, carr, cstr

LIST_CONFIG_RESOURCES = 74
UNSUPPORTED_VERSION = 35
TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP = 2, 4, 8, 16, 32


def list_config_resources(bootstrap, version, types=None):
    """(error_code, [(name, type)]) of one ListConfigResources request;
    type is None for v0 (the field is v1+)."""
    body = b""
    if version >= 1:
        body += carr(types or [], lambda t: struct.pack(">b", t))
    body += TAGS
    c = Conn(bootstrap)
    try:
        r = c.request(LIST_CONFIG_RESOURCES, version, body)
    finally:
        c.close()
    assert r.i32() == 0  # throttle
    err = r.i16()

    def res(rd):
        name = rd.cstr()
        typ = rd.i8() if version >= 1 else None
        rd.tags()
        return (name, typ)
    out = r.carr(res)
    r.tags()
    return err, out


def api_versions(bootstrap):
    """{api_key: (min, max)} from ApiVersions v3 (flexible request,
    response header v0 as KIP-511 specifies)."""
    body = cstr("sluice-test") + cstr("1.0.0") + TAGS
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        hdr = struct.pack(">hhi", 18, 3, 5) + struct.pack(">h", 4) + b"test" + TAGS
        frame = hdr + body
        s.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", harness._recv_exact(s, 4))[0]
        resp = harness._recv_exact(s, size)
    r = Reader(resp)
    assert r.i32() == 5
    assert r.i16() == 0

    def key(rd):
        k, lo, hi = rd.i16(), rd.i16(), rd.i16()
        rd.tags()
        return (k, (lo, hi))
    return dict(r.carr(key))


@pytest.fixture(scope="module")
def setup(module_broker):
    b = module_broker.bootstrap
    topic = harness.create_topic(b, harness.unique_topic("lcr"), partitions=1)
    group = harness.unique_topic("lcr-group")
    # A config override on a group that has no members: only
    # ListConfigResources(GROUP) knows it exists.
    harness.kafka_tool("kafka-configs", [
        "--bootstrap-server", b, "--alter", "--entity-type", "groups",
        "--entity-name", group, "--add-config", "consumer.session.timeout.ms=50000"])

    def listed():
        return (group, GROUP) in list_config_resources(b, 1, [GROUP])[1]
    harness.wait_for(listed, timeout=30, what="group config listed")
    return module_broker, topic, group


def test_list_config_resources_all_types(setup):
    broker, topic, group = setup
    err, res = list_config_resources(broker.bootstrap, 1)
    assert err == 0
    assert (group, GROUP) in res
    assert (topic, TOPIC) in res
    # The one broker, as a broker and as a broker-logger resource.
    assert ("1", BROKER) in res and ("1", BROKER_LOGGER) in res
    assert {t for _, t in res} == {GROUP, BROKER_LOGGER, BROKER, TOPIC}
    # Kafka's order: groups, client metrics, broker loggers, brokers, topics.
    order = [t for _, t in res]
    rank = {GROUP: 0, CLIENT_METRICS: 1, BROKER_LOGGER: 2, BROKER: 3, TOPIC: 4}
    assert order == sorted(order, key=rank.get)


def test_list_config_resources_by_type(setup):
    broker, topic, group = setup
    b = broker.bootstrap
    err, res = list_config_resources(b, 1, [GROUP])
    assert (err, res) == (0, [(group, GROUP)])
    err, res = list_config_resources(b, 1, [BROKER])
    assert (err, res) == (0, [("1", BROKER)])
    err, res = list_config_resources(b, 1, [TOPIC])
    assert err == 0 and (topic, TOPIC) in res and {t for _, t in res} == {TOPIC}
    # No client-metrics subscription is configured.
    assert list_config_resources(b, 1, [CLIENT_METRICS]) == (0, [])
    # v0 (ListClientMetricsResources) lists client-metrics resources only.
    assert list_config_resources(b, 0) == (0, [])


@pytest.mark.parametrize("types", [[64], [0], [TOPIC, 1]])
def test_list_config_resources_unsupported_type(setup, types):
    """A type outside TOPIC/BROKER/BROKER_LOGGER/CLIENT_METRICS/GROUP fails
    the whole request with UNSUPPORTED_VERSION and no resources."""
    broker, _, _ = setup
    assert list_config_resources(broker.bootstrap, 1, types) == (UNSUPPORTED_VERSION, [])


def test_kafka_configs_lists_group_and_client_metrics(setup):
    """kafka-configs --describe of every group lists the group that only has
    a config override (found through ListConfigResources(GROUP)); of every
    client-metrics resource, none (ListConfigResources(CLIENT_METRICS))."""
    broker, _, group = setup
    b = broker.bootstrap
    out = harness.kafka_tool("kafka-configs", [
        "--bootstrap-server", b, "--describe", "--entity-type", "groups"]).stdout
    assert "Dynamic configs for group %s are:" % group in out
    assert "consumer.session.timeout.ms=50000" in out
    r = harness.kafka_tool("kafka-configs", [
        "--bootstrap-server", b, "--describe", "--entity-type", "client-metrics"])
    assert r.stdout.strip() == ""


# kafka-python 3.x (kafka/protocol/broker_version_data.py,
# infer_broker_version_from_api_versions): the first (newest) broker version
# whose (api key, version) the broker supports.
KAFKA_PYTHON_TESTS = [
    ((4, 3), 35, 5), ((4, 2), 2, 11), ((4, 1), 0, 13), ((4, 0), 2, 10),
    ((3, 9), 1, 17), ((3, 8), 0, 11), ((3, 7), 1, 16), ((3, 6), 24, 4),
    ((3, 5), 1, 15), ((3, 4), 4, 7), ((3, 3), 29, 3), ((3, 2), 11, 9),
    ((3, 1), 1, 13), ((3, 0), 2, 7), ((2, 8), 0, 9), ((2, 7), 1, 12),
]


def kafka_python_guess(versions):
    for ver, key, v in sorted(KAFKA_PYTHON_TESTS, reverse=True):
        if key in versions and versions[key][0] <= v <= versions[key][1]:
            return ver
    return None


def test_api_versions_infer_kafka_4_3(setup):
    """kafka-python infers Kafka 4.3 from DescribeLogDirs v5 (KIP-1066);
    the APIs of this module are advertised with Kafka 4.3.1's ranges."""
    broker, _, _ = setup
    vs = api_versions(broker.bootstrap)
    assert kafka_python_guess(vs) == (4, 3)
    assert vs[34] == (1, 2)   # AlterReplicaLogDirs
    assert vs[35] == (1, 5)   # DescribeLogDirs
    assert vs[74] == (0, 1)   # ListConfigResources


def _api_versions_raw(bootstrap, version, body, flexible):
    hdr = struct.pack(">hhi", 18, version, 11) + struct.pack(">h", 4) + b"test"
    if flexible:
        hdr += TAGS
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(struct.pack(">i", len(hdr + body)) + hdr + body)
        size = struct.unpack(">i", harness._recv_exact(s, 4))[0]
        resp = harness._recv_exact(s, size)
    assert struct.unpack(">i", resp[:4])[0] == 11
    return resp[4:]  # ApiVersions responses always use header v0


def test_api_versions_unsupported_version_lists_only_api_versions(setup):
    """KIP-511: a version the broker does not know is answered in v0 with
    UNSUPPORTED_VERSION and only ApiVersions' own range."""
    broker, _, _ = setup
    body = _api_versions_raw(broker.bootstrap, 99, cstr("x") + cstr("1") + TAGS, True)
    assert body == struct.pack(">hihhh", 35, 1, 18, 0, 4)


def test_api_versions_invalid_software_name(setup):
    """v3+ with a client software name Kafka's ApiVersionsRequest.isValid
    rejects: INVALID_REQUEST and nothing else (no API keys, no features)."""
    broker, _, _ = setup
    r = Reader(_api_versions_raw(broker.bootstrap, 3, cstr("bad name!") + cstr("1.0") + TAGS,
                                 True))
    assert r.i16() == 42
    assert r.carr(lambda rd: rd.take(7)) == []
    assert r.i32() == 0  # throttle
    # Tagged fields: none (no features, no finalized epoch).
    assert r.uvarint() == 0
    assert r.p == len(r.b)
