"""Listener scope of the APIs: a node running broker and controller answers on
its broker listener only the APIs whose request JSON names "broker" in its
"listeners", and on its controller listener (controller.listener.names) only
those naming "controller" (Kafka's ApiKeys.inScope). ApiVersions on each
listener lists that listener's set; a request for an API outside the scope
closes the connection without an answer (Kafka's
SocketServer.Processor.parseRequestHeader: "Received request for disabled
api"). The spec is read from the kafka-clients jar Kafka ships."""

import json
import os
import re
import socket
import struct
import zipfile

import pytest

import harness
from harness import kstr
from toolcli import kafka

LIBS = os.path.join(harness.ROOT, "build", "kafka", "libs")
HANDLERS = os.path.join(harness.ROOT, "src", "broker", "handlers.def")

# Fetch is in the controller's scope for Raft replication of
# __cluster_metadata; Sluice's controller listener offers it as Kafka's does
# (the quorum's Raft Fetch), so nothing is left out.
SLUICE_NOT_ON_CONTROLLER = set()


def spec_scopes():
    """api key -> set of listeners from the request JSON in kafka-clients."""
    jar = [j for j in os.listdir(LIBS) if re.fullmatch(r"kafka-clients-[\d.]+\.jar", j)][0]
    out = {}
    with zipfile.ZipFile(os.path.join(LIBS, jar)) as z:
        for name in z.namelist():
            if re.fullmatch(r"common/message/\w+Request\.json", name):
                text = re.sub(r"^\s*//.*$", "", z.read(name).decode(), flags=re.M)
                d = json.loads(text)
                out[d["apiKey"]] = set(d.get("listeners", []))
    return out


def handlers_def_keys():
    with open(HANDLERS) as f:
        return {int(k) for k in re.findall(r"^BRK_API\((\d+),", f.read(), flags=re.M)}


def exchange(port, api_key, version, body, timeout=10.0):
    """One request (v1 header) on a fresh connection: the response body after
    the correlation id, or None when the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        frame = struct.pack(">hhi", api_key, version, 7) + kstr("scope-test") + body
        s.sendall(struct.pack(">i", len(frame)) + frame)
        data = b""
        try:
            while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    return None
                data += chunk
        except ConnectionResetError:
            return None
    assert struct.unpack(">i", data[4:8])[0] == 7
    return data[8:]


def api_keys(port, version=0):
    """ApiVersions (v0 body, or an unknown version answered with a v0 body):
    (error code, {api key: (min, max)})."""
    # v3+ is flexible: request header v2 ends with its tagged fields (none).
    r = exchange(port, 18, version, b"\x00" if version >= 3 else b"")
    assert r is not None, "ApiVersions was not answered on port %d" % port
    err, n = struct.unpack(">hi", r[:6])
    keys = {}
    for i in range(n):
        k, lo, hi = struct.unpack(">hhh", r[6 + 6 * i:12 + 6 * i])
        keys[k] = (lo, hi)
    return err, keys


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """Broker listener on port, controller listener on port+1, on both
    targets (scripts/kafka.sh names the controller listener CONTROLLER)."""
    b = harness.Broker(harness.new_workdir(tmp_path_factory.mktemp("scope"), "scope"))
    b.config.update({
        "listeners": "PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" % (b.port, b.port + 1),
        "controller.quorum.voters": "1@127.0.0.1:%d" % (b.port + 1),
    })
    b.start()
    try:
        yield b
    finally:
        b.cleanup()


def test_api_versions_per_listener(node):
    spec = spec_scopes()
    err_b, on_broker = api_keys(node.port)
    err_c, on_ctl = api_keys(node.port + 1)
    assert err_b == 0 and err_c == 0
    # Every advertised api is in that listener's scope, on both targets.
    assert {k for k in on_broker if "broker" not in spec[k]} == set()
    assert {k for k in on_ctl if "controller" not in spec[k]} == set()
    # Metadata, Produce, FindCoordinator: broker listener only.
    for k in (0, 3, 10):
        assert k in on_broker and k not in on_ctl
    # Both listeners: ApiVersions, CreateTopics, DescribeCluster, DescribeQuorum,
    # UpdateFeatures (the tools' --bootstrap-controller path).
    for k in (18, 19, 55, 57, 60):
        assert k in on_broker and k in on_ctl
        assert on_broker[k] == on_ctl[k]
    if node.target == "kafka":
        # Kafka lists its whole scope on each listener (no unstable-only api
        # is enabled by default in 4.3.1 among these).
        assert {52, 53, 54, 62, 63} <= set(on_ctl)           # Vote .. BrokerHeartbeat
        assert not {52, 53, 54, 62, 63} & set(on_broker)
        assert 1 in on_ctl                                   # Raft Fetch
    else:
        # Sluice: exactly its handler table cut to each listener's scope.
        mine = handlers_def_keys()
        assert set(on_broker) == {k for k in mine if "broker" in spec[k]}
        assert set(on_ctl) == {k for k in mine if "controller" in spec[k]} - \
            SLUICE_NOT_ON_CONTROLLER


def test_unknown_api_versions_version_on_both_listeners(node):
    """ApiVersions at a version the server does not know, on either
    listener: UNSUPPORTED_VERSION with a v0 body listing only ApiVersions'
    own range (KIP-511), the same as the v0 answer gives for key 18."""
    _, v0_b = api_keys(node.port)
    _, v0_c = api_keys(node.port + 1)
    err_b, keys_b = api_keys(node.port, version=127)
    err_c, keys_c = api_keys(node.port + 1, version=127)
    assert err_b == err_c == 35  # UNSUPPORTED_VERSION
    assert keys_b == {18: v0_b[18]} and keys_c == {18: v0_c[18]}


def test_broker_api_on_controller_listener_closes(node):
    """FindCoordinator and Metadata (broker scope only) on the controller
    listener: the connection is closed without an answer; the same
    requests are answered on the broker listener."""
    find_coord = kstr("g") + struct.pack(">b", 0)  # v1: key, key_type GROUP
    metadata = struct.pack(">i", 0)                # v0: no topics
    for key, ver, body in ((10, 1, find_coord), (3, 0, metadata)):
        assert exchange(node.port + 1, key, ver, body) is None, key
        assert exchange(node.port, key, ver, body) is not None, key
    # The controller listener keeps serving other connections.
    assert harness.api_versions_probe("127.0.0.1", node.port + 1) == 0


def test_controller_api_on_broker_listener_closes(node):
    """BeginQuorumEpoch and BrokerHeartbeat (controller scope only) on the
    broker listener: the connection is closed without an answer."""
    # BeginQuorumEpoch v0: cluster id, leader id, topics [].
    bqe = kstr("x") + struct.pack(">ii", 1, 0)
    # BrokerHeartbeat v0 (flexible): broker id 99, epoch -1, offset -1,
    # not fenced, no shutdown; compact-encoded, header v2 is not needed to be
    # right: the header is rejected before the body is read.
    hb = struct.pack(">iiq??b", 99, -1, -1, False, False, 0)
    for key, ver, body in ((53, 0, bqe), (63, 0, hb)):
        assert exchange(node.port, key, ver, body) is None, key
    assert harness.api_versions_probe("127.0.0.1", node.port) == 0


def test_tools_bootstrap_controller(node):
    """Kafka's tools that talk to the controller listener keep working on it:
    kafka-metadata-quorum and kafka-features with --bootstrap-controller."""
    ctl = ["--bootstrap-controller", "127.0.0.1:%d" % (node.port + 1)]
    r = kafka("metadata-quorum", *ctl, "describe", "--status")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^LeaderId:\s+1$", r.stdout, flags=re.M), r.stdout
    assert re.search(r"^CurrentVoters:\s+\[\{\"id\": 1,", r.stdout, flags=re.M), r.stdout
    r = kafka("features", *ctl, "describe")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^Feature: metadata.version\s", r.stdout, flags=re.M), r.stdout
    r = kafka("cluster", "cluster-id", *ctl)
    assert r.returncode == 0 and r.stdout.startswith("Cluster ID: "), r
    # DescribeConfigs is in the controller's scope: broker configs there.
    r = kafka("configs", *ctl, "--describe", "--entity-type", "brokers", "--entity-name", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Dynamic configs for broker 1 are:\n"), r.stdout
    # DescribeClientQuotas is not: the controller's ApiVersions leaves it out
    # and the Admin client refuses the call.
    r = kafka("configs", *ctl, "--describe", "--entity-type", "clients")
    assert r.returncode == 1
    assert "UnsupportedEndpointTypeException: This Admin API is not yet supported when " \
        "communicating directly with the controller quorum." in r.stderr, r.stderr
