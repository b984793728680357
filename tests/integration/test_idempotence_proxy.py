"""An idempotent producer whose Produce responses are lost: a proxy between
client and broker closes the connection after the broker appended a batch
but before the client saw the answer. The producer retries the same
batches (same producer id, epoch and sequences); the broker must answer
them with their original offsets and write nothing twice.

The broker advertises the proxy's address, so every connection of the
client goes through it. Runs against Sluice and Apache Kafka.
"""

import random
import socket
import struct
import threading

import pytest

import harness


class DropProxy:
    """TCP proxy that drops (connection closed instead of forwarded) every
    Produce response chosen by `drop(n)` (n = count of Produce responses
    seen so far)."""

    def __init__(self, upstream_port, port, drop):
        self.upstream = ("127.0.0.1", upstream_port)
        self.drop = drop
        self.lock = threading.Lock()
        self.produce_responses = 0
        self.dropped = 0
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(64)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.ls.close()
        except OSError:
            pass

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.upstream, timeout=10)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            pending = {}
            threading.Thread(target=self._up, args=(c, u, pending), daemon=True).start()
            threading.Thread(target=self._down, args=(c, u, pending), daemon=True).start()

    @staticmethod
    def _frame(s):
        hdr = b""
        while len(hdr) < 4:
            d = s.recv(4 - len(hdr))
            if not d:
                return None
            hdr += d
        n = struct.unpack(">i", hdr)[0]
        body = b""
        while len(body) < n:
            d = s.recv(min(65536, n - len(body)))
            if not d:
                return None
            body += d
        return hdr + body

    @staticmethod
    def _kill(c, u):
        for s in (c, u):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _up(self, c, u, pending):
        try:
            while True:
                f = self._frame(c)
                if f is None:
                    break
                key, _ver, corr = struct.unpack(">hhi", f[4:12])
                pending[corr] = key
                u.sendall(f)
        except OSError:
            pass
        self._kill(c, u)

    def _down(self, c, u, pending):
        try:
            while True:
                f = self._frame(u)
                if f is None:
                    break
                corr = struct.unpack(">i", f[4:8])[0]
                if pending.pop(corr, None) == 0:
                    with self.lock:
                        self.produce_responses += 1
                        n = self.produce_responses
                        drop = self.drop(n)
                        if drop:
                            self.dropped += 1
                    if drop:
                        break  # the broker appended; the client never hears of it
                c.sendall(f)
        except OSError:
            pass
        self._kill(c, u)


@pytest.fixture
def proxied(broker_factory):
    proxy_port = harness.free_port()
    b = broker_factory({"advertised.listeners": "PLAINTEXT://127.0.0.1:%d" % proxy_port},
                       start=False)
    b.start()
    seed = random.randrange(1 << 30)
    print("drop seed", seed)
    rnd = random.Random(seed)
    proxy = DropProxy(b.port, proxy_port, lambda n: n > 2 and rnd.random() < 0.25)
    yield b, proxy, "127.0.0.1:%d" % proxy_port
    proxy.close()


def test_idempotent_retries_after_lost_responses_write_once(proxied):
    b, proxy, bootstrap = proxied
    t = harness.create_topic(b.bootstrap, harness.unique_topic("lost"), partitions=2)
    n = 400
    vals = ["v%04d" % i for i in range(n)]
    msgs = harness.produce(bootstrap, t, [{"value": v, "partition": i % 2}
                                          for i, v in enumerate(vals)],
                           timeout=120,
                           **{"enable.idempotence": True, "linger.ms": 2,
                              "batch.num.messages": 10, "retry.backoff.ms": 20,
                              "reconnect.backoff.ms": 10, "reconnect.backoff.max.ms": 100,
                              "message.timeout.ms": 120000})
    assert proxy.dropped >= 3, "the proxy dropped only %d responses" % proxy.dropped
    # every message reported once, offsets unique per partition
    seen = {}
    for m in msgs:
        assert m.error() is None
        seen.setdefault(m.partition(), set()).add(m.offset())
    for p in (0, 1):
        lo, hi = harness.watermarks(b.bootstrap, t, p)
        assert hi == n // 2, "partition %d holds %d records for %d sent" % (p, hi, n // 2)
    got = harness.consume(b.bootstrap, t, n, partitions=[0, 1])
    assert sorted(m.value().decode() for m in got) == vals
    for p in (0, 1):
        in_p = [m.value().decode() for m in got if m.partition() == p]
        assert in_p == [v for i, v in enumerate(vals) if i % 2 == p]
