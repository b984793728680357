"""Integration-test harness: start a broker (Sluice, or Apache Kafka when
SLUICE_TARGET=kafka) on free ports with a temporary data directory, and drive
it with real clients (confluent-kafka, kafka-python, kcat, Kafka's own tools).

Everything here is importable from tests as `import harness` (pytest puts
tests/integration on sys.path); conftest.py wraps it in fixtures.
"""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SLUICE_BIN = os.path.abspath(os.environ.get("SLUICE_BIN", os.path.join(ROOT, "build", "sluice")))
KAFKA_SH = os.path.join(ROOT, "scripts", "kafka.sh")
TARGET = os.environ.get("SLUICE_TARGET", "sluice").lower()
if TARGET not in ("sluice", "kafka"):
    raise RuntimeError("SLUICE_TARGET must be 'sluice' or 'kafka', not %r" % TARGET)

# Config every test broker gets (Kafka's keys, valid for both targets): a
# single node must be able to create its internal topics, and groups should
# not wait 3 s for more members.
COMMON_CONFIG = {
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
}

_reserved_ports = set()
_ports_lock = threading.Lock()


def _port_free(port):
    # Servers listen on 0.0.0.0, so check the wildcard address: a port bound
    # on any local address would make their bind fail.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _port_window():
    """Ports to hand out: just below the kernel's ephemeral range. A port in
    that range can be taken at any moment as the local end of some outgoing
    connection (a client, a broker talking to its peers), and a listener
    started a moment later then fails with 'Address already in use'."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    hi = low - 2
    lo = max(1024, hi - 20000)
    if hi - lo < 1000:  # an unusual range: fall back to the kernel's choice
        return None
    return lo, hi


_port_rng = random.Random(os.getpid() ^ int(time.time() * 1000))


def free_port(pair=False):
    """A TCP port nobody listens on (and port+1 too when pair), outside the
    ephemeral range, never handed out twice in this process."""
    window = _port_window()
    for _ in range(500):
        if window:
            port = _port_rng.randint(*window)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
        want = [port, port + 1] if pair else [port]
        if port + 1 > 65535:
            continue
        with _ports_lock:
            if any(p in _reserved_ports for p in want):
                continue
            if all(_port_free(p) for p in want):
                _reserved_ports.update(want)
                return port
    raise RuntimeError("no free port found")


def wait_for(pred, timeout=30.0, interval=0.1, what="condition"):
    """Poll pred() until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# --------------------------------------------------------------------------
# Raw protocol probe (no client library): ApiVersions v0 and back.

def api_versions_probe(host, port, timeout=2.0):
    """Send ApiVersions v0 and return the error code of the answer, or None
    if the broker does not answer a well-formed response."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            client = b"probe"
            hdr = struct.pack(">hhih", 18, 0, 1, len(client)) + client
            s.sendall(struct.pack(">i", len(hdr)) + hdr)
            size = struct.unpack(">i", _recv_exact(s, 4))[0]
            body = _recv_exact(s, size)
            corr, err = struct.unpack(">ih", body[:6])
            return err if corr == 1 else None
    except (OSError, struct.error, EOFError):
        return None


def kstr(s):
    """Kafka STRING (int16 length) of a str."""
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def uvarint(n):
    """Kafka UNSIGNED_VARINT."""
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(s):
    """Kafka COMPACT_(NULLABLE_)STRING of a str (None: null)."""
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def karray(items):
    """Kafka ARRAY (int32 count) of already-encoded items."""
    return struct.pack(">i", len(items)) + b"".join(items)


def kafka_request(bootstrap, api_key, api_version, body, timeout=10.0):
    """Send one request with a v1 (non-flexible) request header and return
    the response body after the correlation id (v0 response header). For
    checks that must see the broker's own answer, not a client library's
    interpretation of it."""
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.settimeout(timeout)
        hdr = struct.pack(">hhi", api_key, api_version, 7) + kstr("sluice-test")
        frame = hdr + body
        s.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", _recv_exact(s, 4))[0]
        resp = _recv_exact(s, size)
    assert struct.unpack(">i", resp[:4])[0] == 7, "correlation id mismatch"
    return resp[4:]


def list_offsets_raw(bootstrap, topic, partition, timestamp=-1):
    """ListOffsets v1 for one partition: (error_code, timestamp, offset)."""
    body = struct.pack(">i", -1) + karray([kstr(topic) + karray(
        [struct.pack(">iq", partition, timestamp)])])
    r = kafka_request(bootstrap, 2, 1, body)
    # topics[1]: name, partitions[1]: partition, error, timestamp, offset
    n = struct.unpack(">h", r[4:6])[0]
    off = 6 + n + 4
    _, err, ts, offset = struct.unpack(">ihqq", r[off:off + 22])
    return err, ts, offset


def delete_records_raw(bootstrap, topic, partition, offset, timeout_ms=10000):
    """DeleteRecords v1 for one partition: (error_code, low_watermark)."""
    body = karray([kstr(topic) + karray([struct.pack(">iq", partition, offset)])]) + \
        struct.pack(">i", timeout_ms)
    r = kafka_request(bootstrap, 21, 1, body)
    # throttle, topics[1]: name, partitions[1]: partition, low_watermark, error
    n = struct.unpack(">h", r[8:10])[0]
    off = 10 + n + 4
    _, low, err = struct.unpack(">iqh", r[off:off + 14])
    return err, low


def _recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise EOFError("connection closed")
        out += chunk
    return out


# --------------------------------------------------------------------------
# Broker processes.

def server_properties(path=os.path.join(ROOT, "config", "server.properties")):
    """The key=value settings of a shipped properties file (the simple form
    our files use: no continuations or escapes)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and line[0] not in "#!" and "=" in line:
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip()
    return out


class BrokerStartError(RuntimeError):
    pass


_sluice_broken = None  # first Sluice start failure, to fail the rest fast


class Broker:
    """One broker process: Sluice (`build/sluice server`) or Apache Kafka
    (`scripts/kafka.sh start`), chosen by SLUICE_TARGET.

    config: Kafka config keys (str -> str), applied as overrides on both
    targets. `listeners`, when given, replaces the default single PLAINTEXT
    listener on 127.0.0.1:<port>; `log.dirs` is the broker's data_dir unless
    config gives it (several dirs: JBOD tests).
    """

    def __init__(self, workdir, config=None, target=TARGET, port=None, env=None,
                 quickstart=False):
        self.target = target
        self.env = dict(env or {})
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.port = port or free_port(pair=True)  # port+1: Kafka's controller
        self.host = "127.0.0.1"
        # quickstart: the README's broker. Sluice: `sluice server` with no
        # file in workdir (data in ./sluice-data), only the listener moved to
        # a free port. Kafka: the settings of config/server.properties.
        self.quickstart = quickstart
        self.data_dir = os.path.join(self.workdir, "sluice-data" if quickstart else "data")
        self.config = {} if quickstart else dict(COMMON_CONFIG)
        self.config.update({k: str(v) for k, v in (config or {}).items()})
        self.proc = None
        self.pid = None
        self.out_path = os.path.join(self.workdir, "%s.out" % target)
        self.starts = 0

    # ---- addresses
    @property
    def bootstrap(self):
        return "%s:%d" % (self.host, self.port)

    def __repr__(self):
        return "<Broker %s %s pid=%s dir=%s>" % (self.target, self.bootstrap, self.pid, self.workdir)

    def _overrides(self):
        conf = {"listeners": "PLAINTEXT://127.0.0.1:%d" % self.port}
        if self.quickstart and self.target == "sluice":
            conf.update(self.config)
            return conf
        if self.quickstart:
            # The file's settings; its addresses and log.dirs are this
            # broker's (scripts/kafka.sh adds the controller listener). What
            # the file leaves to Kafka's defaults gets them back here, where
            # scripts/kafka.sh would otherwise set its own test values.
            conf.update({"group.initial.rebalance.delay.ms": "3000",
                         "offsets.topic.num.partitions": "50",
                         "transaction.state.log.num.partitions": "50"})
            conf.update({k: v for k, v in server_properties().items()
                         if k not in ("listeners", "advertised.listeners", "log.dirs",
                                      "controller.quorum.bootstrap.servers")})
        conf.update(self.config)
        conf.setdefault("log.dirs", self.data_dir)
        return conf

    # ---- lifecycle
    def start(self, extra_config=None, timeout=None):
        """Start (or start again) with the stored config plus extra_config,
        which is kept for later restarts. Returns self once the broker
        answers requests."""
        global _sluice_broken
        if self.running():
            raise RuntimeError("%r already running" % self)
        if extra_config:
            self.config.update({k: str(v) for k, v in extra_config.items()})
        conf = self._overrides()
        self.starts += 1
        if self.target == "kafka":
            args = [KAFKA_SH, "start", self.workdir, str(self.port)]
            args += ["%s=%s" % kv for kv in conf.items()]
            env = dict(os.environ)
            env.update(self.env)
            r = subprocess.run(args, capture_output=True, text=True, env=env,
                               timeout=timeout or 180)
            if r.returncode != 0:
                # Leave no JVM behind whatever went wrong.
                try:
                    with open(os.path.join(self.workdir, "kafka.pid")) as f:
                        os.kill(int(f.read().strip()), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
                raise BrokerStartError("Apache Kafka did not start:\n%s\n%s\n%s" % (
                    r.stdout, r.stderr, self.log_tail()))
            self.pid = int(r.stdout.strip().splitlines()[-1])
        else:
            if _sluice_broken:
                raise BrokerStartError("Sluice cannot start (see the first failure): %s"
                                       % _sluice_broken)
            if not os.access(SLUICE_BIN, os.X_OK):
                _sluice_broken = "%s does not exist; run `make` first" % SLUICE_BIN
                raise BrokerStartError(_sluice_broken)
            args = [SLUICE_BIN, "server"]
            if not self.quickstart:
                # A file, as scripts/kafka.sh gives Kafka, with the same
                # node identity: what it and the test leave out has Kafka's
                # defaults. (With no file Sluice runs with
                # config/server.properties, as test_quickstart.py checks.)
                props = os.path.join(self.workdir, "server.properties")
                with open(props, "w") as f:
                    f.write("# written by tests/integration/harness.py; "
                            "the test's config comes as --override\n"
                            "process.roles=broker,controller\nnode.id=1\n"
                            "controller.listener.names=CONTROLLER\n")
                args.append(props)
            for k, v in conf.items():
                args += ["--override", "%s=%s" % (k, v)]
            out = open(self.out_path, "ab")
            out.write(("\n=== start %d: %s\n" % (self.starts, " ".join(args))).encode())
            out.flush()
            env = dict(os.environ)
            env.update(self.env)
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.workdir,
                                         start_new_session=True, env=env)
            out.close()
            self.pid = self.proc.pid
            deadline = time.monotonic() + (timeout or 30)
            while True:
                if self.proc.poll() is not None:
                    msg = "build/sluice server exited with status %s during start:\n%s" % (
                        self.proc.returncode, self.log_tail())
                    # A broker that refuses its configuration (exit status 1
                    # with a message) says nothing about the next one.
                    if self.starts == 1 and self.proc.returncode != 1:
                        _sluice_broken = msg.splitlines()[0]
                    self.proc = None
                    raise BrokerStartError(msg)
                if api_versions_probe(self.host, self.port, timeout=1.0) == 0:
                    break
                if time.monotonic() >= deadline:
                    self._kill(signal.SIGKILL)
                    msg = "build/sluice server did not answer ApiVersions on %s within %ss" % (
                        self.bootstrap, timeout or 30)
                    if self.starts == 1:
                        _sluice_broken = msg
                    raise BrokerStartError(msg + "\n" + self.log_tail())
                time.sleep(0.05)
        _active.add(self)
        return self

    def running(self):
        if self.pid is None:
            return False
        if self.proc is not None:
            return self.proc.poll() is None
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        # A zombie is not running.
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def _wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while self.running():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        if self.proc is not None:
            self.proc.wait()
        # A killed JVM's main thread turns zombie before its other threads
        # have closed the sockets: wait until the client port is released.
        while time.monotonic() < deadline + 10:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
            except OSError:
                break
            time.sleep(0.05)
        return True

    def _kill(self, sig):
        if self.pid is not None:
            try:
                os.kill(self.pid, sig)
            except OSError:
                pass

    def stop(self, timeout=60):
        """Clean shutdown (SIGTERM); raises if the broker ignores it."""
        if not self.running():
            self._forget()
            return
        if self.target == "kafka":
            subprocess.run([KAFKA_SH, "stop", self.workdir], check=True, timeout=timeout + 30)
            ok = self._wait_exit(5)
        else:
            self._kill(signal.SIGTERM)
            ok = self._wait_exit(timeout)
            if not ok:
                self._kill(signal.SIGKILL)
                self._wait_exit(10)
        self._forget()
        if not ok:
            raise AssertionError("%s did not exit within %ss of SIGTERM" % (self.target, timeout))

    def kill9(self):
        """SIGKILL, no shutdown work at all."""
        if self.running():
            self._kill(signal.SIGKILL)
            if not self._wait_exit(30):
                raise AssertionError("pid %s survived SIGKILL" % self.pid)
        if self.target == "kafka":
            try:
                os.unlink(os.path.join(self.workdir, "kafka.pid"))
            except OSError:
                pass
        self._forget()

    def restart(self, extra_config=None, clean=True):
        """Stop (cleanly, or kill -9 when clean=False) and start again on the
        same ports and data."""
        if clean:
            self.stop()
        else:
            self.kill9()
        return self.start(extra_config)

    def _forget(self):
        self.proc = None
        self.pid = None
        _active.discard(self)

    def cleanup(self):
        """Teardown: stop whatever way works, never raise."""
        try:
            if self.running():
                self._kill(signal.SIGTERM)
                if not self._wait_exit(20):
                    self._kill(signal.SIGKILL)
                    self._wait_exit(10)
        finally:
            self._forget()

    # ---- sanitizer reports
    # The test build (`make asan`, SLUICE_BIN=build/asan/sluice) aborts on
    # the first AddressSanitizer or UndefinedBehaviorSanitizer finding; the
    # report lands in the broker's output file. A finding fails the test even
    # when the clients saw nothing wrong (a kill -9 test restarts the broker).
    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                         "runtime error:", "AddressSanitizer:DEADLYSIGNAL")

    def sanitizer_findings(self):
        if self.target != "sluice" or not os.path.exists(self.out_path):
            return []
        found = []
        with open(self.out_path, "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                if any(m in line for m in self.SANITIZER_MARKERS):
                    found.append(line.strip())
        return found

    def check_sanitizers(self):
        found = self.sanitizer_findings()
        if found:
            raise AssertionError("sanitizer findings in %s:\n%s\n%s" % (
                self.out_path, "\n".join(found[:10]), self.log_tail(80)))

    # ---- logs and files
    def log_paths(self):
        paths = [self.out_path]
        if self.target == "kafka":
            paths.append(os.path.join(self.workdir, "logs", "server.log"))
        return [p for p in paths if os.path.exists(p)]

    def log_tail(self, lines=40):
        out = []
        for p in self.log_paths():
            try:
                with open(p, "rb") as f:
                    f.seek(0, 2)
                    f.seek(max(0, f.tell() - 200000))
                    text = f.read().decode("utf-8", "replace").splitlines()[-lines:]
            except OSError:
                continue
            out.append("---- %s (last %d lines)\n%s" % (p, len(text), "\n".join(text)))
        return "\n".join(out) or "(no broker output in %s)" % self.workdir

    def cluster_id(self):
        """cluster.id from meta.properties in the data dir."""
        with open(os.path.join(self.data_dir, "meta.properties")) as f:
            for line in f:
                if line.startswith("cluster.id="):
                    return line.strip().split("=", 1)[1]
        return None

    def partition_dir(self, topic, partition=0):
        return os.path.join(self.data_dir, "%s-%d" % (topic, partition))

    def segment_files(self, topic, partition=0, ext=".log"):
        d = self.partition_dir(topic, partition)
        if not os.path.isdir(d):
            return []
        return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(ext))


_active = set()


def active_brokers():
    return list(_active)


def new_workdir(base, name):
    d = os.path.join(base, "%s-%s" % (name, uuid.uuid4().hex[:8]))
    os.makedirs(d)
    return d


# --------------------------------------------------------------------------
# Command-line clients.

def kcat(*args, input=None, timeout=60, check=True, text=True):
    """Run kcat with the given arguments; returns CompletedProcess."""
    if isinstance(input, str) and not text:
        input = input.encode()
    r = subprocess.run(["kcat"] + [str(a) for a in args], input=input, capture_output=True,
                       timeout=timeout, text=text)
    if check and r.returncode != 0:
        raise AssertionError("kcat %s failed (%d):\n%s\n%s" % (
            " ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
    return r


def kafka_tool(name, args, input=None, timeout=120, check=True):
    """Run one of Apache Kafka's CLI tools (e.g. "kafka-topics") through
    scripts/kafka.sh tool. Returns CompletedProcess (text)."""
    r = subprocess.run([KAFKA_SH, "tool", name] + [str(a) for a in args], input=input,
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("%s %s failed (%d):\n%s\n%s" % (
            name, " ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
    return r


# --------------------------------------------------------------------------
# confluent-kafka (librdkafka) helpers.

def _ck():
    import confluent_kafka
    return confluent_kafka


def admin(bootstrap, **conf):
    ck = _ck()
    from confluent_kafka.admin import AdminClient
    c = {"bootstrap.servers": bootstrap}
    c.update(conf)
    return AdminClient(c)


def create_topic(bootstrap, name, partitions=1, replication_factor=1, config=None,
                 timeout=60, wait_leaders=True, replica_assignment=None):
    """Create a topic through AdminClient and wait until every partition has
    a leader in Metadata and that leader serves it (answers ListOffsets).

    The second wait matters on Apache Kafka: a KRaft broker publishes a new
    partition's leader in its metadata cache before ReplicaManager has
    created the partition (BrokerMetadataPublisher), so for a moment the
    leader answers NOT_LEADER_OR_FOLLOWER, which an acks=0 producer never
    hears of: its records are lost. replica_assignment: a list of replica
    lists, one per partition (then partitions/replication_factor come from
    it)."""
    from confluent_kafka.admin import NewTopic
    a = admin(bootstrap)
    if replica_assignment is not None:
        partitions = len(replica_assignment)
        nt = NewTopic(name, num_partitions=partitions, replication_factor=-1,
                      replica_assignment=replica_assignment,
                      config={k: str(v) for k, v in (config or {}).items()})
    else:
        nt = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor,
                      config={k: str(v) for k, v in (config or {}).items()})
    fs = a.create_topics([nt], operation_timeout=timeout, request_timeout=timeout)
    fs[name].result(timeout)
    if wait_leaders:
        def ready():
            md = a.list_topics(name, timeout=10)
            t = md.topics.get(name)
            if t is None or t.error is not None or len(t.partitions) != partitions:
                return False
            return all(p.leader >= 0 for p in t.partitions.values())
        wait_for(ready, timeout, what="leaders of %s" % name)
        ck = _ck()
        c = consumer(bootstrap)
        serving = set()

        def all_serving():
            for p in range(partitions):
                if p in serving:
                    continue
                try:
                    c.get_watermark_offsets(ck.TopicPartition(name, p), timeout=5, cached=False)
                except ck.KafkaException:
                    return False
                serving.add(p)
            return True
        try:
            wait_for(all_serving, timeout, what="leaders of %s serving its partitions" % name)
        finally:
            c.close()
    return name


def unique_topic(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def producer(bootstrap, **conf):
    ck = _ck()
    c = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    c.update({k.replace("_", "."): v for k, v in conf.items()})
    return ck.Producer(c)


def produce(bootstrap, topic, messages, partition=None, timeout=60, **conf):
    """Produce messages (each a value, or a dict with value/key/headers/
    partition/timestamp) with confluent-kafka and wait for every delivery
    report. Returns the delivered Message objects in send order; raises
    AssertionError naming the first delivery error."""
    p = producer(bootstrap, **conf)
    results = [None] * len(messages)

    def cb_for(i):
        def cb(err, msg):
            results[i] = (err, msg)
        return cb

    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            m = {"value": m}
        kw = {"value": m.get("value"), "key": m.get("key"), "on_delivery": cb_for(i)}
        if m.get("headers") is not None:
            kw["headers"] = m["headers"]
        part = m.get("partition", partition)
        if part is not None:
            kw["partition"] = part
        if m.get("timestamp") is not None:
            kw["timestamp"] = m["timestamp"]
        while True:
            try:
                p.produce(topic, **kw)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(timeout)
    if left:
        raise AssertionError("%d messages still in flight after %ss" % (left, timeout))
    errs = [r[0] for r in results if r is None or r[0] is not None]
    if errs:
        raise AssertionError("delivery failed: %s" % errs[0])
    return [r[1] for r in results]


def consumer(bootstrap, group=None, **conf):
    ck = _ck()
    c = {"bootstrap.servers": bootstrap, "group.id": group or "g-" + uuid.uuid4().hex[:8],
         "auto.offset.reset": "earliest", "enable.auto.commit": False,
         "enable.partition.eof": False}
    c.update({k.replace("_", "."): v for k, v in conf.items()})
    return ck.Consumer(c)


def consume(bootstrap, topic, count, timeout=60, partitions=None, group=None, **conf):
    """Read `count` messages from the beginning of topic (all partitions, or
    the given list) with confluent-kafka, assigning partitions directly (no
    group rebalance). Raises on a message error; fails if fewer arrive."""
    ck = _ck()
    c = consumer(bootstrap, group=group, **conf)
    try:
        if partitions is None:
            md = c.list_topics(topic, timeout=20)
            partitions = sorted(md.topics[topic].partitions)
        c.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in partitions])
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            batch = c.consume(min(1000, count - len(out)), timeout=0.5)
            for m in batch:
                if m.error():
                    raise AssertionError("consume error: %s" % m.error())
                out.append(m)
        if len(out) < count:
            raise AssertionError("consumed %d of %d messages from %s in %ss" % (
                len(out), count, topic, timeout))
        return out
    finally:
        c.close()


def watermarks(bootstrap, topic, partition=0, timeout=20):
    """(low, high) watermark offsets of one partition."""
    ck = _ck()
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, partition), timeout=timeout,
                                       cached=False)
    finally:
        c.close()


# --------------------------------------------------------------------------
# kafka-python helpers.

def kp_producer(bootstrap, **conf):
    from kafka import KafkaProducer
    return KafkaProducer(bootstrap_servers=bootstrap, **conf)


def kp_produce(bootstrap, topic, messages, timeout=60, **conf):
    """Produce (value or (key, value[, headers]) tuples) with kafka-python;
    returns the RecordMetadata of each send."""
    p = kp_producer(bootstrap, **conf)
    try:
        futs = []
        for m in messages:
            if isinstance(m, tuple):
                key, value = m[0], m[1]
                headers = m[2] if len(m) > 2 else None
            else:
                key, value, headers = None, m, None
            futs.append(p.send(topic, value=value, key=key, headers=headers))
        p.flush(timeout)
        return [f.get(timeout) for f in futs]
    finally:
        p.close(timeout=10)


def kp_consume(bootstrap, topic, count, timeout=60, **conf):
    """Read `count` records from the beginning of every partition of topic
    with kafka-python (manual assignment)."""
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      auto_offset_reset="earliest", **conf)
    try:
        parts = wait_for(lambda: c.partitions_for_topic(topic), 30,
                         what="kafka-python metadata for %s" % topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                out.extend(recs)
        if len(out) < count:
            raise AssertionError("kafka-python consumed %d of %d from %s" % (len(out), count, topic))
        return out
    finally:
        c.close()


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
