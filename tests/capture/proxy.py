#!/usr/bin/env python3
"""Recording TCP proxy for the Kafka protocol.

    proxy.py --listen PORT --upstream HOST:PORT --out DIR [--max-per-version N]

Forwards every connection to the upstream broker unchanged and records each
request frame and the response with the same correlation id on that
connection as

    DIR/NNNN_<apikey>_v<version>_req.bin   (request header + body)
    DIR/NNNN_<apikey>_v<version>_resp.bin  (response header + body)

i.e. the bytes after the 4-byte size prefix. NNNN counts requests in arrival
order (continuing after the highest number already in DIR). A request without
a response (Produce with acks=0) leaves only its _req file; other requests
left unanswered when the connection closes (a long-polling Fetch cut off by
the client) are dropped. At most N
requests per (api key, version) are kept (default 4); frames over
--max-frame bytes (default 256 KiB) are not recorded. SIGTERM/SIGINT stop it.
The broker must advertise the proxy's address so clients reconnect through it.
"""

import argparse
import os
import re
import signal
import socket
import struct
import sys
import threading


class Recorder:
    def __init__(self, out, max_per_version, max_frame):
        self.out = out
        os.makedirs(out, exist_ok=True)
        self.max_per_version = max_per_version
        self.max_frame = max_frame
        self.lock = threading.Lock()
        self.counts = {}
        self.seq = 0
        for f in os.listdir(out):
            m = re.match(r"(\d+)_(\d+)_v(\d+)_req\.bin$", f)
            if m:
                self.seq = max(self.seq, int(m.group(1)))
                k = (int(m.group(2)), int(m.group(3)))
                self.counts[k] = self.counts.get(k, 0) + 1

    def request(self, frame):
        """Record a request frame; returns a name stem for its response, or
        None when it is not kept."""
        if len(frame) < 8:
            return None
        api_key, api_version = struct.unpack(">hh", frame[:4])
        k = (api_key, api_version)
        with self.lock:
            if self.counts.get(k, 0) >= self.max_per_version or len(frame) > self.max_frame:
                return None
            self.counts[k] = self.counts.get(k, 0) + 1
            self.seq += 1
            stem = "%04d_%d_v%d" % (self.seq, api_key, api_version)
        with open(os.path.join(self.out, stem + "_req.bin"), "wb") as f:
            f.write(frame)
        return stem

    def forget(self, stem):
        try:
            os.unlink(os.path.join(self.out, stem + "_req.bin"))
        except OSError:
            pass

    def response(self, stem, frame):
        if len(frame) > self.max_frame:
            # Keep the pair consistent: drop the request as well.
            try:
                os.unlink(os.path.join(self.out, stem + "_req.bin"))
            except OSError:
                pass
            return
        with open(os.path.join(self.out, stem + "_resp.bin"), "wb") as f:
            f.write(frame)


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def pump(src, dst, on_frame):
    """Copy size-prefixed frames from src to dst, calling on_frame on each."""
    try:
        while True:
            hdr = recv_exact(src, 4)
            if hdr is None:
                break
            (size,) = struct.unpack(">i", hdr)
            if size < 0 or size > 512 * 1024 * 1024:
                break
            body = recv_exact(src, size)
            if body is None:
                break
            try:
                on_frame(body)
            except Exception as e:  # recording must never break the stream
                print("proxy: record error: %s" % e, file=sys.stderr)
            dst.sendall(hdr + body)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client, upstream, rec):
    try:
        server = socket.create_connection(upstream, timeout=10)
        server.settimeout(None)
    except OSError as e:
        print("proxy: upstream %s:%d: %s" % (upstream + (e,)), file=sys.stderr)
        client.close()
        return
    pending = {}  # correlation id -> stem
    plock = threading.Lock()
    with _conns_lock:
        _conns.append(pending)

    def on_request(frame):
        stem = rec.request(frame)
        if stem is not None and len(frame) >= 8:
            (corr,) = struct.unpack(">i", frame[4:8])
            with plock:
                pending[corr] = stem

    def on_response(frame):
        if len(frame) < 4:
            return
        (corr,) = struct.unpack(">i", frame[:4])
        with plock:
            stem = pending.pop(corr, None)
        if stem is not None:
            rec.response(stem, frame)

    t = threading.Thread(target=pump, args=(server, client, on_response), daemon=True)
    t.start()
    pump(client, server, on_request)
    t.join()
    client.close()
    server.close()
    # Requests still unanswered when the connection closed (a long-polling
    # Fetch the client gave up on) are dropped; only Produce with acks=0
    # legitimately has no response.
    drop_unanswered(pending, rec)
    with _conns_lock:
        _conns.remove(pending)


_conns = []  # the pending maps of open connections
_conns_lock = threading.Lock()


def drop_unanswered(pending, rec):
    for stem in list(pending.values()):
        if stem.split("_")[1] != "0":
            rec.forget(stem)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="host:port of the broker")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-per-version", type=int, default=4)
    ap.add_argument("--max-frame", type=int, default=256 * 1024)
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    rec = Recorder(a.out, a.max_per_version, a.max_frame)

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.listen))
    ls.listen(64)

    def stop(*_):
        with _conns_lock:
            for pending in _conns:
                drop_unanswered(pending, rec)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("proxy: 127.0.0.1:%d -> %s, recording to %s" % (a.listen, a.upstream, a.out),
          file=sys.stderr, flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c, (host, int(port)), rec), daemon=True).start()


if __name__ == "__main__":
    main()
