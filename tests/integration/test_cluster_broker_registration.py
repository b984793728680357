"""Brokers joining the cluster (KIP-631), asked of the controller the way a
broker asks it: BrokerRegistration and BrokerHeartbeat on the controller
listener, raw over the wire, as a second broker (id 2) of the node's
cluster. What a user sees follows from the controller's answers: a broker
appears in Metadata once a heartbeat unfences it (caught up to its
registration), and disappears again when its heartbeats stop for
broker.session.timeout.ms. Kafka's errors for a wrong cluster id, a second
incarnation while the first one's session lives, a stale epoch, and a
broker that cannot run the finalized metadata.version."""

import os
import socket
import struct
import uuid

import pytest

import harness
from harness import cstr, uvarint

SESSION_MS = 3000

INCONSISTENT_CLUSTER_ID = 104
DUPLICATE_BROKER_REGISTRATION = 101
STALE_BROKER_EPOCH = 77
UNSUPPORTED_VERSION = 35
INVALID_REGISTRATION = 119


def carr(items):
    return uvarint(len(items) + 1) + b"".join(items)


TAGS = b"\x00"


def call(port, api_key, version, body, timeout=15.0):
    """One flexible request (header v2) on a fresh connection: the response
    body after the v1 response header."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        frame = struct.pack(">hhi", api_key, version, 11) + \
            struct.pack(">h", 8) + b"reg-test" + TAGS + body
        s.sendall(struct.pack(">i", len(frame)) + frame)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = s.recv(65536)
            assert chunk, "the controller closed the connection"
            data += chunk
    assert struct.unpack(">i", data[4:8])[0] == 11
    assert data[8] == 0  # no tagged fields in the header
    return data[9:]


# Every feature a Kafka 4.3 broker can name, with ranges wide enough for any
# level the controller finalized: what the test checks is the controller's
# answers, not feature negotiation (one case below narrows metadata.version).
FEATURES = ["metadata.version", "kraft.version", "group.version",
            "transaction.version", "eligible.leader.replicas.version",
            "share.version", "streams.version"]


def register(port, cluster_id, incarnation, broker_id=2, listen_port=1,
             mv_max=999, log_dirs=None):
    feats = []
    for name in FEATURES:
        lo = 1 if name == "metadata.version" else 0
        hi = mv_max if name == "metadata.version" else 999
        feats.append(cstr(name) + struct.pack(">hh", lo, hi) + TAGS)
    listeners = [cstr("PLAINTEXT") + cstr("127.0.0.1") +
                 struct.pack(">Hh", listen_port, 0) + TAGS]
    dirs = log_dirs if log_dirs is not None else [uuid.uuid4().bytes]
    body = (struct.pack(">i", broker_id) + cstr(cluster_id) + incarnation +
            carr(listeners) + carr(feats) + cstr(None) + b"\x00" +
            carr(dirs) + struct.pack(">q", -1) + TAGS)
    r = call(port, 62, 4, body)
    _throttle, err, epoch = struct.unpack(">ihq", r[:14])
    return err, epoch


def heartbeat(port, epoch, broker_id=2, offset=1 << 40, want_shutdown=False):
    body = struct.pack(">iqq??", broker_id, epoch, offset, False,
                       want_shutdown) + TAGS
    r = call(port, 63, 1, body)
    _throttle, err, caught_up, fenced, shutdown = struct.unpack(">ih???", r[:9])
    return err, caught_up, fenced, shutdown


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """Broker listener on port, controller listener on port+1 (both
    targets), with a short broker session."""
    b = harness.Broker(harness.new_workdir(tmp_path_factory.mktemp("reg"), "reg"))
    b.config.update({
        "listeners": "PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" % (b.port, b.port + 1),
        "controller.quorum.voters": "1@127.0.0.1:%d" % (b.port + 1),
        "broker.session.timeout.ms": str(SESSION_MS),
    })
    b.start()
    try:
        yield b
    finally:
        b.cleanup()


def brokers(node):
    md = harness.admin(node.bootstrap).list_topics(timeout=10)
    return {b.id: (b.host, b.port) for b in md.brokers.values()}


def test_refused_registrations(node):
    ctl = node.port + 1
    cid = node.cluster_id()
    inc = uuid.uuid4().bytes
    err, epoch = register(ctl, "AAAAAAAAAAAAAAAAAAAAAA", inc)
    assert (err, epoch) == (INCONSISTENT_CLUSTER_ID, -1)
    err, _ = register(ctl, cid, inc, mv_max=1)
    assert err == UNSUPPORTED_VERSION
    err, _ = register(ctl, cid, inc, log_dirs=[])
    assert err == INVALID_REGISTRATION
    d = uuid.uuid4().bytes
    err, _ = register(ctl, cid, inc, log_dirs=[d, d])
    assert err == INVALID_REGISTRATION
    # a heartbeat from a broker that never registered
    err, *_ = heartbeat(ctl, 5, broker_id=7)
    assert err == STALE_BROKER_EPOCH


def test_broker_joins_and_is_fenced_when_its_heartbeats_stop(node):
    ctl = node.port + 1
    cid = node.cluster_id()
    inc = uuid.uuid4().bytes
    fake_port = harness.free_port()
    err, epoch = register(ctl, cid, inc, listen_port=fake_port)
    assert err == 0 and epoch >= 0
    # registered but fenced: not in Metadata yet
    assert 2 not in brokers(node)
    # the same incarnation again keeps its epoch
    assert register(ctl, cid, inc, listen_port=fake_port) == (0, epoch)
    err, *_ = heartbeat(ctl, epoch - 1)
    assert err == STALE_BROKER_EPOCH
    # behind its registration: stays fenced
    err, caught_up, fenced, shutdown = heartbeat(ctl, epoch, offset=0)
    assert err == 0 and fenced and not shutdown
    assert not caught_up or epoch == 0
    # a heartbeat opened its session: another incarnation is refused now
    err, _ = register(ctl, cid, uuid.uuid4().bytes, listen_port=fake_port)
    assert err == DUPLICATE_BROKER_REGISTRATION
    # caught up: unfenced, and every client sees it
    err, caught_up, fenced, shutdown = heartbeat(ctl, epoch)
    assert (err, caught_up, fenced, shutdown) == (0, True, False, False)
    harness.wait_for(lambda: brokers(node).get(2) == ("127.0.0.1", fake_port),
                     timeout=20, what="broker 2 in Metadata")
    assert 1 in brokers(node)
    # silence: fenced after the session timeout, gone from Metadata
    harness.wait_for(lambda: 2 not in brokers(node), timeout=SESSION_MS / 1000 + 20,
                     what="broker 2 fenced after broker.session.timeout.ms")
    # its session is over: a new incarnation may take the id
    err, epoch2 = register(ctl, cid, uuid.uuid4().bytes, listen_port=fake_port)
    assert err == 0 and epoch2 > epoch
    err, *_ = heartbeat(ctl, epoch)
    assert err == STALE_BROKER_EPOCH
