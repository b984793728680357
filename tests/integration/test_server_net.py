"""Network behaviour of the server, driven over raw sockets: what Apache
Kafka does with unknown api keys and versions, oversize and garbage frames,
pipelining, slow clients and idle connections. Runs against both targets
unless marked sluice-only."""

import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

import harness

sluice_only = pytest.mark.skipif(harness.TARGET != "sluice", reason="Sluice process behaviour")


def connect(b, timeout=10):
    s = socket.create_connection((b.host, b.port), timeout=timeout)
    s.settimeout(timeout)
    return s


def frame(api_key, version, corr, body=b"", client=b"t", flexible=False):
    hdr = struct.pack(">hhih", api_key, version, corr, len(client)) + client
    if flexible:
        hdr += b"\x00"  # request header v2: empty tagged fields
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


def read_frame(s):
    size = struct.unpack(">i", harness._recv_exact(s, 4))[0]
    return harness._recv_exact(s, size)


def closed_by_peer(s, timeout=10):
    """True if the peer closes the connection (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        data = s.recv(65536)
        while data:
            data = s.recv(65536)
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def metadata_v1_body(topics):
    if topics is None:
        return struct.pack(">i", -1)
    out = struct.pack(">i", len(topics))
    for t in topics:
        out += struct.pack(">h", len(t)) + t.encode()
    return out


def test_api_versions_v0_lists_ranges(broker):
    with connect(broker) as s:
        s.sendall(frame(18, 0, 7))
        body = read_frame(s)
    corr, err, n = struct.unpack(">ihi", body[:10])
    assert (corr, err) == (7, 0)
    apis = {}
    for i in range(n):
        k, lo, hi = struct.unpack(">hhh", body[10 + 6 * i:16 + 6 * i])
        apis[k] = (lo, hi)
    assert apis[18][0] == 0 and apis[18][1] >= 3
    assert 3 in apis  # Metadata


def test_api_versions_unknown_version_answers_v0_with_unsupported_version(broker):
    # A version newer than any broker knows (clients send it with the
    # flexible header v2); Kafka answers in v0 with UNSUPPORTED_VERSION (35)
    # and only ApiVersions' own range (KIP-511).
    with connect(broker) as s:
        s.sendall(frame(18, 127, 9, b"\x02x\x021\x00", flexible=True))
        body = read_frame(s)
    corr, err, n = struct.unpack(">ihi", body[:10])
    assert corr == 9
    assert err == 35
    keys = [struct.unpack(">h", body[10 + 6 * i:12 + 6 * i])[0] for i in range(n)]
    assert keys == [18]
    assert len(body) == 10 + 6 * n  # exactly a v0 body: no throttle field


def test_unknown_api_key_closes_connection(broker):
    with connect(broker) as s:
        s.sendall(frame(9999, 0, 1))
        assert closed_by_peer(s)
    assert harness.api_versions_probe(broker.host, broker.port) == 0


def test_unsupported_version_of_other_api_closes_connection(broker):
    with connect(broker) as s:
        s.sendall(frame(3, 99, 1, metadata_v1_body(None)))
        assert closed_by_peer(s)
    assert harness.api_versions_probe(broker.host, broker.port) == 0


@pytest.mark.broker_config({"socket.request.max.bytes": "4096"})
def test_request_larger_than_socket_request_max_bytes_closes_before_body(broker):
    with connect(broker) as s:
        # Only the size prefix: the broker must close without waiting for
        # the 100000 bytes it announces.
        s.sendall(struct.pack(">i", 100000))
        assert closed_by_peer(s, timeout=10)
    with connect(broker) as s:
        s.sendall(struct.pack(">i", -5))
        assert closed_by_peer(s, timeout=10)
    # a request under the limit still works
    assert harness.api_versions_probe(broker.host, broker.port) == 0


def test_garbage_bytes_close_the_connection_and_broker_survives(broker):
    rnd = os.urandom(4096)
    for payload in (struct.pack(">i", 12) + rnd[:12],          # short frame
                    struct.pack(">i", 6) + b"\x00\x12\x00\x00\x00",  # truncated header
                    struct.pack(">i", 64) + rnd[:64]):
        with connect(broker) as s:
            s.sendall(payload)
            closed_by_peer(s, timeout=3)  # closed (or ignored): never a crash
    # A truncated frame (size says more than was sent) then EOF from us.
    with connect(broker) as s:
        s.sendall(struct.pack(">i", 1000) + b"\x00\x03")
    assert harness.api_versions_probe(broker.host, broker.port) == 0


def test_pipelined_requests_are_answered_in_order(broker):
    reqs = b""
    n = 200
    for i in range(n):
        if i % 2:
            reqs += frame(18, 0, i)
        else:
            reqs += frame(3, 1, i, metadata_v1_body([]))
    with connect(broker) as s:
        s.sendall(reqs)
        got = [struct.unpack(">i", read_frame(s)[:4])[0] for _ in range(n)]
    assert got == list(range(n))


def test_slow_client_byte_by_byte_is_answered(broker):
    data = frame(18, 0, 42)
    with connect(broker) as s:
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            time.sleep(0.01)
        body = read_frame(s)
    assert struct.unpack(">ih", body[:6]) == (42, 0)


@sluice_only
def test_client_that_never_reads_does_not_grow_the_broker(broker):
    def rss_kb():
        with open("/proc/%d/status" % broker.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    before = rss_kb()
    req = frame(18, 0, 1)
    s = connect(broker)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            sent += s.send(req * 100)
        except BlockingIOError:
            time.sleep(0.05)
            continue
    # The broker stopped reading from us (back-pressure), and others are
    # still served.
    assert harness.api_versions_probe(broker.host, broker.port) == 0
    after = rss_kb()
    s.close()
    assert after - before < 200 * 1024, (before, after, sent)


@pytest.mark.broker_config({"connections.max.idle.ms": "1000"})
def test_idle_connection_is_closed(broker):
    with connect(broker) as s:
        s.sendall(frame(18, 0, 1))
        read_frame(s)
        t0 = time.monotonic()
        assert closed_by_peer(s, timeout=30)
        assert time.monotonic() - t0 >= 0.9


@sluice_only
def test_sigterm_exits_zero_and_keeps_topics(broker):
    topic = harness.create_topic(broker.bootstrap, harness.unique_topic("keep"), partitions=2)
    with connect(broker) as s:  # an open connection does not block shutdown
        os.kill(broker.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while broker.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert broker.proc.returncode == 0
    broker.proc = None
    broker.pid = None
    broker.start()
    md = harness.admin(broker.bootstrap).list_topics(timeout=10)
    assert topic in md.topics and len(md.topics[topic].partitions) == 2


def test_two_instances_side_by_side(broker_factory):
    a = broker_factory()
    b = broker_factory()
    ta = harness.create_topic(a.bootstrap, harness.unique_topic("a"))
    tb = harness.create_topic(b.bootstrap, harness.unique_topic("b"))
    ma = harness.admin(a.bootstrap).list_topics(timeout=10)
    mb = harness.admin(b.bootstrap).list_topics(timeout=10)
    assert ta in ma.topics and ta not in mb.topics
    assert tb in mb.topics and tb not in ma.topics
    assert ma.cluster_id != mb.cluster_id


def test_kcat_lists_metadata(broker):
    r = harness.kcat("-b", broker.bootstrap, "-L")
    assert "1 brokers:" in r.stdout
    assert "127.0.0.1:%d" % broker.port in r.stdout


def _api_ranges(b):
    with connect(b) as s:
        s.sendall(frame(18, 0, 1))
        body = read_frame(s)
    n = struct.unpack(">i", body[6:10])[0]
    return [struct.unpack(">hhh", body[10 + 6 * i:16 + 6 * i]) for i in range(n)]


@sluice_only
def test_random_bodies_for_every_api_never_crash_the_broker(broker):
    """Every advertised api/version gets truncated and random bodies with a
    valid header: the broker answers or closes, and keeps serving."""
    import random
    seed = int.from_bytes(os.urandom(4), "big")
    print("seed", seed)
    rnd = random.Random(seed)
    flex_from = {0: 9, 1: 12, 2: 6, 3: 9, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4,
                 15: 5, 16: 3, 18: 3, 19: 5, 20: 4, 21: 2, 23: 4, 32: 4, 33: 2, 35: 2,
                 37: 2, 42: 2, 44: 1, 47: 0, 60: 0, 75: 0}
    ranges = _api_ranges(broker)
    assert len(ranges) >= 10
    sent = 0
    for key, lo, hi in ranges:
        for ver in range(lo, hi + 1):
            for trial in range(4):
                n = rnd.choice([0, 1, 3, 8, 30, 200])
                body = bytes(rnd.getrandbits(8) for _ in range(n))
                flex = ver >= flex_from.get(key, 99)
                try:
                    with connect(broker, timeout=5) as s:
                        s.sendall(frame(key, ver, 3, body, flexible=flex))
                        sent += 1
                        s.settimeout(2)
                        try:
                            s.recv(65536)
                        except (socket.timeout, ConnectionResetError):
                            pass
                except OSError:
                    pass
        assert broker.running(), "broker died on api %d (seed %d)" % (key, seed)
    print("sent", sent)
    assert sent > 100
    assert harness.api_versions_probe(broker.host, broker.port) == 0


@pytest.mark.broker_config({"max.connections.per.ip": "3"})
def test_max_connections_per_ip(broker):
    held = [connect(broker) for _ in range(3)]
    try:
        for s in held:  # the first three work
            s.sendall(frame(18, 0, 1))
            assert struct.unpack(">ih", read_frame(s)[:6]) == (1, 0)
        extra = connect(broker)
        assert closed_by_peer(extra, timeout=10)
        extra.close()
    finally:
        for s in held:
            s.close()
    harness.wait_for(lambda: harness.api_versions_probe(broker.host, broker.port) == 0, 10,
                     what="a connection once the others closed")


@sluice_only
def test_announced_large_frames_cost_nothing_until_sent(broker):
    """Connections that announce a frame just under socket.request.max.bytes
    (100 MB) and send a few bytes must not make the broker reserve it."""
    def rss_kb():
        with open("/proc/%d/status" % broker.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    before = rss_kb()
    conns = []
    try:
        for _ in range(200):
            s = connect(broker)
            s.sendall(struct.pack(">i", 100 * 1024 * 1024) + b"\x00\x12\x00\x00")
            conns.append(s)
        time.sleep(0.5)
        assert harness.api_versions_probe(broker.host, broker.port) == 0
        assert rss_kb() - before < 100 * 1024
    finally:
        for s in conns:
            s.close()


def _server_skmem(port):
    """skmem of the broker's side of an established connection to port
    (rb = receive buffer, tb = send buffer, as ss prints them)."""
    out = subprocess.run(
        ["ss", "-tmnH", "state", "established", "( sport = :%d )" % port],
        capture_output=True, text=True, check=True).stdout
    m = re.search(r"skmem:\(([^)]*)\)", out)
    assert m, out
    return dict(re.findall(r"([a-z]+)(\d+)", m.group(1)))


def test_socket_buffer_sizes_apply_to_client_connections(broker_factory):
    """socket.send.buffer.bytes / socket.receive.buffer.bytes set SO_SNDBUF /
    SO_RCVBUF of the sockets the broker accepts (Linux doubles the value)."""
    b = broker_factory(config={"socket.send.buffer.bytes": "65536",
                               "socket.receive.buffer.bytes": "49152"})
    s = connect(b)
    s.sendall(frame(18, 0, 1))
    read_frame(s)  # answered: the broker has accepted and served it
    mem = _server_skmem(b.port)
    s.close()
    assert int(mem["tb"]) == 2 * 65536, mem
    assert int(mem["rb"]) == 2 * 49152, mem
