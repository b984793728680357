#!/usr/bin/env python3
"""Side-by-side benchmark: Sluice against Apache Kafka 4.3.1 (issue 8).

Run through `make bench` (bench/run.sh). Both brokers run on this machine as
single nodes with their log dirs under build/bench/work (one disk), the same
flush policy (Kafka's default: no fsync per message; the OS writes back) and
the same segment size. Identical workloads go to each, from the same
clients: bench/rdperf (librdkafka, built by run.sh) and Apache Kafka's own
ProducerPerformance / ConsumerPerformance / EndToEndLatency (jars installed by
scripts/kafka.sh), and bench/E2eLatency.java (EndToEndLatency's loop on a
microsecond clock). Runs alternate between the brokers so that the noise of a
shared machine hits both; the ratio column compares medians of the same run.
Each rdperf throughput run and each latency run also goes to bench/nullbroker
(a Kafka-protocol endpoint that stores nothing durable): the load client's
own ceiling and latency floor on this machine, printed beside the figures.

Environment:
  BENCH_QUICK=1        a few-minute run (smaller volumes and counts, 1 run)
  BENCH_RUNS=N         runs per figure (default 3; quick 1)
  BENCH_STARTUP_MB=N   data for the 1,000-partition start-up test (default
                       10240 = 10 GB; quick 200)
  BENCH_PARTS=a,b      partition counts for the scale test (default
                       10000,100000; quick 1000,5000)
  BENCH_SCALE_TIMEOUT=s how long the scale test waits for a broker's partitions
                       (default 600; quick 300)
  BENCH_ONLY=k1,k2     only these sections: produce consume e2e startup scale
                       cluster replication
  BENCH_TOPICS=N       topics timed for metadata propagation in the cluster
                       section (default 100; quick 30)
  BENCH_SLUICE=0       leave Sluice out (column shows n/a)
  BENCH_OUT=path       where to write the report (default docs/benchmarks.md)
  BENCH_FILL=0         do not keep free memory filled with page cache (see
                       PageCacheFill)
Output: the table on stdout, the report in docs/benchmarks.md, raw results
(one JSON object per measurement) in build/bench/results.jsonl.
"""

import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, "build")
WORK = os.path.join(BUILD, "bench", "work")
KAFKA_SH = os.path.join(ROOT, "scripts", "kafka.sh")
SLUICE_BIN = os.environ.get("SLUICE_BIN", os.path.join(BUILD, "sluice"))
RDPERF = os.path.join(BUILD, "bench", "rdperf")
NULLBROKER = os.path.join(BUILD, "bench", "nullbroker")
RESULTS = os.path.join(BUILD, "bench", "results.jsonl")
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "docs", "benchmarks.md"))

QUICK = os.environ.get("BENCH_QUICK", "0") not in ("", "0")
RUNS = int(os.environ.get("BENCH_RUNS", "1" if QUICK else "3"))
STARTUP_MB = int(os.environ.get("BENCH_STARTUP_MB", "200" if QUICK else "10240"))
SCALE_PARTS = [int(x) for x in os.environ.get(
    "BENCH_PARTS", "1000,5000" if QUICK else "10000,100000").split(",") if x]
ONLY = set(x for x in os.environ.get("BENCH_ONLY", "").split(",") if x)
WITH_SLUICE = os.environ.get("BENCH_SLUICE", "1") != "0"
CLUSTER_TOPICS = int(os.environ.get("BENCH_TOPICS", "30" if QUICK else "100"))

# Volumes per producer run (records) by record size.
# Full mode: each rdperf run lasts a second or more on the faster broker, so
# that start-up effects (connection, metadata, the first batches) and one-off
# stalls weigh little in a run.
PRODUCE_COUNT = {100: 1_000_000, 1024: 200_000} if QUICK else {100: 5_000_000, 1024: 1_000_000}
# The Java client tops out far lower on this machine: fewer records, same shape.
JAVA_PRODUCE_COUNT = {100: 300_000, 1024: 90_000} if QUICK else {100: 1_500_000, 1024: 450_000}
CONSUME_COUNT = 100_000 if QUICK else 2_000_000   # 1 KB records, 6 partitions
E2E_RATE = 1000 if QUICK else 2000                # records/s, 1 KB, 1 partition
E2E_SECS = 6 if QUICK else 30
E2E_JAVA_COUNT = 2000 if QUICK else 10000
# bench/E2eLatency.java: EndToEndLatency's loop on a microsecond clock, after
# a JIT warm-up that is sent but not counted
E2E_JAVA_US_COUNT, E2E_JAVA_US_WARMUP = (5000, 2000) if QUICK else (20000, 5000)
TIMEOUT = 300 if QUICK else 1800
# How long the scale test waits for a broker's partitions before giving up.
SCALE_TIMEOUT = int(os.environ.get("BENCH_SCALE_TIMEOUT", "300" if QUICK else "600"))
PAGE = os.sysconf("SC_PAGE_SIZE")
HZ = os.sysconf("SC_CLK_TCK")

# Same settings on both brokers (Kafka's names; Sluice reads the same keys).
# Flush policy: Kafka's default (never fsync on a count or timer).
COMMON = {
    "num.partitions": "1",
    "log.segment.bytes": "1073741824",
    "log.flush.interval.messages": "9223372036854775807",
    "log.retention.hours": "168",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "auto.create.topics.enable": "false",
    # Socket buffers: Kafka's send default (102400) and the OS's receive
    # buffer (-1) on both. Kafka's receive default is 102400; with -1 Kafka
    # ran ~5% faster on the 1 KB produce load and Sluice 1.3x (Sluice's own
    # default is -1; docs/server.md), so both get the setting that suits them.
    "socket.send.buffer.bytes": "102400",
    "socket.receive.buffer.bytes": "-1",
}

# The Kafka broker's heap: kafka-server-start.sh's default size (1 GB; the
# test harness's 512 MB default is too small for 100,000 partitions).
KAFKA_HEAP = os.environ.setdefault("KAFKA_HEAP_MAX", "1g")

# Java clients: run the tool classes with a normal (C2) JIT; scripts/kafka.sh
# tool pins C1 (TieredStopAtLevel=1) which is right for short CLI calls but
# would make the Java client, not the broker, the bottleneck here.
JAVA_OPTS = ["-Xmx512m", "-XX:+UseSerialGC", "-Xshare:auto", "-Djava.awt.headless=true"]

_results = []


def log(msg):
    sys.stderr.write("[bench %s load %s] %s\n" % (
        time.strftime("%H:%M:%S"), os.getloadavg()[0].__round__(2), msg))
    sys.stderr.flush()


def record(**kw):
    kw["t"] = time.time()
    _results.append(kw)
    with open(RESULTS, "a") as f:
        f.write(json.dumps(kw) + "\n")


# ---- /proc readers ---------------------------------------------------------
def cpu_secs(pid):
    """utime+stime of the process (all threads) in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def mem_kb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[k] = int(v.split()[0])
    return out


class RssSampler:
    """Peak VmRSS / RssAnon of a pid, sampled every 100 ms in a thread."""

    def __init__(self, pid):
        self.pid, self.peak_rss, self.peak_anon = pid, 0, 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                m = mem_kb(self.pid)
                self.peak_rss = max(self.peak_rss, m.get("VmRSS", 0))
                self.peak_anon = max(self.peak_anon, m.get("RssAnon", 0))
            except OSError:
                return
            self._stop.wait(0.1)

    def stop(self):
        self._stop.set()
        self._t.join()


# ---- the Metadata probe ----------------------------------------------------
def metadata_probe(port, timeout=0.5):
    """True when 127.0.0.1:port answers a Metadata v4 request (all topics)."""
    client = b"bench-probe"
    body = struct.pack(">hhih", 3, 4, 7, len(client)) + client + struct.pack(">ib", -1, 0)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(struct.pack(">i", len(body)) + body)
            hdr = b""
            while len(hdr) < 8:
                chunk = s.recv(8 - len(hdr))
                if not chunk:
                    return False
                hdr += chunk
            size, corr = struct.unpack(">ii", hdr)
            return corr == 7 and size >= 4
    except OSError:
        return False


def wait_metadata(port, deadline, alive=lambda: True, interval=0.002):
    while time.monotonic() < deadline:
        if metadata_probe(port):
            return time.monotonic()
        if not alive():
            return None
        time.sleep(interval)
    return None


def free_port_pair():
    for _ in range(100):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        ok = True
        for q in (p, p + 1):
            t = socket.socket()
            try:
                t.bind(("127.0.0.1", q))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok and p + 1 < 65536:
            return p
    raise RuntimeError("no free port pair")


# ---- brokers ---------------------------------------------------------------
class Broker:
    name = "?"

    def __init__(self, tag):
        self.dir = os.path.join(WORK, tag)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port_pair()
        self.pid = None

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def alive(self):
        if not self.pid:
            return False
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def wipe(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.data, exist_ok=True)


class Kafka(Broker):
    name = "kafka"

    def start(self, timeout=180):
        """Start via scripts/kafka.sh; returns seconds to the first answered
        Metadata request (our own 2 ms probe, racing the script's)."""
        kv = ["%s=%s" % (k, v) for k, v in COMMON.items()] + ["log.dirs=" + self.data]
        t0 = time.monotonic()
        p = subprocess.Popen([KAFKA_SH, "start", self.dir, str(self.port)] + kv,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t1 = wait_metadata(self.port, t0 + timeout, alive=lambda: p.poll() is None or
                           self.port_open())
        out, err = p.communicate(timeout=timeout)
        if p.returncode != 0 or t1 is None:
            raise RuntimeError("kafka.sh start failed: %s" % err.strip()[-500:])
        self.pid = int(out.strip().split()[-1])
        return t1 - t0

    def port_open(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def format(self):
        """First start formats the storage (a separate JVM); keep that out of
        the start-up figure by starting once and stopping."""
        if not os.path.exists(os.path.join(self.data, "meta.properties")):
            self.start()
            self.stop()

    def stop(self):
        subprocess.run([KAFKA_SH, "stop", self.dir], capture_output=True)
        self.pid = None

    def kill9(self):
        subprocess.run([KAFKA_SH, "kill9", self.dir], capture_output=True)
        self.pid = None

    def version(self):
        return "Apache Kafka 4.3.1 (kafka_2.13 from Maven Central), " + java_version()


class Sluice(Broker):
    name = "sluice"

    def start(self, timeout=180):
        args = [SLUICE_BIN, "server",
                "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
                "--override", "log.dirs=" + self.data]
        for k, v in COMMON.items():
            args += ["--override", "%s=%s" % (k, v)]
        os.makedirs(self.dir, exist_ok=True)
        out = open(os.path.join(self.dir, "sluice.out"), "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        t1 = wait_metadata(self.port, t0 + timeout, alive=lambda: self.proc.poll() is None)
        if t1 is None:
            rc = self.proc.poll()
            if rc is None:
                self.proc.kill()
                self.proc.wait()
            self.pid = None
            raise RuntimeError("sluice server %s" % (
                "exited with %s: %s" % (rc, self.tail()) if rc is not None
                else "did not answer Metadata in %ss" % timeout))
        return t1 - t0

    def tail(self):
        try:
            with open(os.path.join(self.dir, "sluice.out"), "rb") as f:
                return f.read()[-300:].decode(errors="replace").strip().replace("\n", " | ")
        except OSError:
            return ""

    def format(self):
        pass

    def stop(self):
        if self.pid and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.pid = None

    def kill9(self):
        if self.pid and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.pid = None

    def version(self):
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "src"],
                               capture_output=True, text=True).stdout.strip()
        return "Sluice (%s, built from git %s%s)" % (
            os.path.relpath(SLUICE_BIN, ROOT), rev,
            " plus uncommitted work in src/" if dirty else "")


class NullBroker(Broker):
    """bench/nullbroker.c: answers Produce without storing (or, keep=True,
    keeps the batches in memory to serve Fetch), no disk, no validation. What
    rdperf reaches against it is the load client's own ceiling on this
    machine: no broker, however fast, could be measured above it here."""
    name = "null"

    def start(self, keep=False, timeout=30):
        os.makedirs(self.dir, exist_ok=True)
        self.proc = subprocess.Popen([NULLBROKER, str(self.port)] + (["--keep"] if keep else []),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        if wait_metadata(self.port, time.monotonic() + timeout,
                         alive=lambda: self.proc.poll() is None) is None:
            self.stop()
            raise RuntimeError("nullbroker did not start")

    def stop(self):
        if self.pid and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.pid = None


# workload -> list of (MB/s, client CPU s/GB, nullbroker CPU s/GB) of rdperf
# against the null broker: the load client's ceiling.
CEILING = {}


def null_try(what, fn):
    """fn() against the null broker, or None: a failure only logs (the
    ceiling and floor are context for the table, not a figure of either
    broker)."""
    try:
        return fn()
    except (ClientError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        log("%s against the null broker failed: %s" % (what, e))
        return None


def ceiling_run(nb, workload, fn):
    """One rdperf throughput run against the null broker."""
    c0, k0, w0 = cpu_secs(nb.pid), children_cpu(), time.monotonic()
    v = null_try(workload, fn)
    if v is None:
        return
    gb = v["bytes"] / 1e9
    CEILING.setdefault(workload, []).append(
        (v["mbps"], (children_cpu() - k0) / gb, (cpu_secs(nb.pid) - c0) / gb))
    record(kind="ceiling", workload=workload, wall_s=time.monotonic() - w0, **v)


# (workload, client) -> list of latency results (lat_p50_ms, ...) of the same
# client against the null broker: the client's own latency floor.
LAT_FLOOR = {}


def floor_run(workload, client, fn):
    """One latency run against the null broker."""
    v = null_try("%s/%s" % (workload, client), fn)
    if v is None:
        return
    LAT_FLOOR.setdefault((workload, client), []).append(v)
    record(kind="e2e-floor", broker="null", client=client, workload=workload, **v)


def start_null(keep, topics=None):
    """A started null broker with topics ({name: partitions}) created, or
    None (logged) when it cannot serve."""
    if not os.access(NULLBROKER, os.X_OK):
        log("no %s: the client's ceiling is not measured" % os.path.relpath(NULLBROKER, ROOT))
        return None
    nb = NullBroker("null")
    STARTED.append(nb)
    try:
        nb.start(keep=keep)
        if topics:
            create_topics(nb, topics)
    except Exception as e:
        log("null broker: %s" % e)
        nb.stop()
        return None
    return nb


_java_version = None


def java_version():
    global _java_version
    if _java_version is None:
        r = subprocess.run(["java", "-version"], capture_output=True, text=True)
        _java_version = (r.stderr.splitlines() or ["java ?"])[0].strip()
    return _java_version


# ---- admin (confluent-kafka from build/venv when present, else Kafka's tool) -
try:
    from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
except ImportError:  # pragma: no cover
    AdminClient = None


def create_topics(b, topics, timeout=60):
    """topics: {name: partitions}. Returns seconds until every topic is
    created and its partitions all have a leader in Metadata."""
    t0 = time.monotonic()
    if AdminClient is None:
        for name, parts in topics.items():
            r = subprocess.run([KAFKA_SH, "tool", "kafka-topics", "--bootstrap-server",
                                b.bootstrap, "--create", "--topic", name, "--partitions",
                                str(parts), "--replication-factor", "1"],
                               capture_output=True, text=True, timeout=timeout)
            if r.returncode:
                raise RuntimeError("create %s: %s" % (name, r.stderr.strip()[-300:]))
        return time.monotonic() - t0
    a = AdminClient({"bootstrap.servers": b.bootstrap, "socket.timeout.ms": 300000})
    names = list(topics)
    # Kafka refuses a CreateTopics of more than 10,000 records or partitions
    # (POLICY_VIOLATION): at most 5,000 partitions per request, for both.
    step = max(1, 5000 // max(1, max(topics.values())))
    for i in range(0, len(names), step):
        fs = a.create_topics([NewTopic(n, topics[n], 1) for n in names[i:i + step]],
                             operation_timeout=timeout, request_timeout=timeout)
        for n, f in fs.items():
            try:
                f.result(timeout)
            except Exception as e:  # a broker restarted after a crash keeps its topics
                if "TOPIC_ALREADY_EXISTS" not in str(e) and "already exists" not in str(e):
                    raise
    deadline = t0 + timeout
    want = sum(topics.values())
    while time.monotonic() < deadline:
        md = a.list_topics(timeout=60)
        have = sum(len([p for p in md.topics[n].partitions.values() if p.leader >= 0])
                   for n in names if n in md.topics and md.topics[n].error is None)
        if have == want:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise RuntimeError("topics not ready after %ss" % timeout)


def delete_topics(b, names):
    if AdminClient is None or not names:
        return
    try:
        a = AdminClient({"bootstrap.servers": b.bootstrap})
        for f in a.delete_topics(list(names), operation_timeout=60).values():
            f.result(60)
    except Exception as e:  # a broker without DeleteTopics keeps the data
        log("delete topics on %s: %s" % (b.name, e))


# ---- clients ---------------------------------------------------------------
class ClientError(Exception):
    pass


def short_reason(text):
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    for l in reversed(lines):
        if "rror" in l or "xception" in l or "failed" in l:
            return l[-160:]
    return (lines[-1] if lines else "no output")[-160:]


def run_cmd(args, timeout):
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise ClientError("timed out after %ss (%s)" % (
            timeout, short_reason((e.stderr or b"").decode(errors="replace")
                                  if isinstance(e.stderr, bytes) else (e.stderr or ""))))
    return r


def rdperf_reason(stderr):
    lines = [l for l in stderr.splitlines() if l.startswith("rdperf: ")
             and not l.startswith("rdperf: librdkafka")]
    return (lines[-1][8:] if lines else short_reason(stderr))[:200]


def rdperf(mode, b, topic, timeout=TIMEOUT, **kw):
    args = [RDPERF, mode, "-b", b.bootstrap, "-t", topic, "-T", str(timeout)]
    for k, v in kw.items():
        if k == "X":
            for x in v:
                args += ["-X", x]
        else:
            args += ["-" + k, str(v)]
    r = run_cmd(args, timeout + 60)
    try:
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise ClientError(rdperf_reason(r.stderr))
    if r.returncode:
        raise ClientError(rdperf_reason(r.stderr))
    return res


def java_tool(cls, args, timeout=TIMEOUT):
    cp = subprocess.run([KAFKA_SH, "classpath"], capture_output=True, text=True).stdout.strip()
    cfg = os.path.join(BUILD, "kafka", "log4j2-tools.xml")
    return run_cmd(["java"] + JAVA_OPTS + ["-Dlog4j2.configurationFile=" + cfg, "-cp", cp, cls]
                   + args, timeout)


# ProducerPerformance --warmup-records: the first third of each Java run is
# left out of the figure (its "steady state" summary is reported), so that
# the JVM's JIT warm-up, which takes most of a short run, is not measured.
JAVA_WARMUP_FRACTION = 3
JAVA_WARMUP_TEXT = "a third"


def java_produce(b, topic, size, count, acks, throughput=-1):
    warm = count // JAVA_WARMUP_FRACTION
    r = java_tool("org.apache.kafka.tools.ProducerPerformance",
                  ["--bootstrap-server", b.bootstrap, "--topic", topic, "--num-records",
                   str(count), "--record-size", str(size), "--throughput", str(throughput),
                   "--warmup-records", str(warm),
                   "--command-property", "acks=%s" % acks, "request.timeout.ms=30000",
                   "delivery.timeout.ms=120000", "enable.idempotence=false"])
    m = re.search(r"(\d+) steady state records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), "
                  r"([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, "
                  r"(\d+) ms 99th, (\d+) ms 99.9th", r.stdout)
    if r.returncode or not m or int(m.group(1)) != count - warm:
        raise ClientError(short_reason(r.stderr + r.stdout))
    return {"records": int(m.group(1)), "rps": float(m.group(2)), "mbps": float(m.group(3)),
            "bytes": count * size, "steady_bytes": (count - warm) * size, "lat_p50_ms": float(m.group(6)),
            "lat_p99_ms": float(m.group(8)), "lat_p999_ms": float(m.group(9))}


def java_consume(b, topic, count):
    r = java_tool("org.apache.kafka.tools.ConsumerPerformance",
                  ["--bootstrap-server", b.bootstrap, "--topic", topic, "--num-records",
                   str(count), "--timeout", "20000", "--group", "bench-%d" % time.time_ns()])
    # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
    # rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    for line in r.stdout.splitlines():
        f = [x.strip() for x in line.split(",")]
        if len(f) >= 10 and re.match(r"^[\d.]+$", f[2]):
            if int(f[4]) < count:
                raise ClientError("consumed %s of %d records" % (f[4], count))
            return {"records": int(f[4]), "bytes": float(f[2]) * 1048576, "mbps": float(f[8]),
                    "mbps_incl_join": float(f[3]), "rps": float(f[9])}
    raise ClientError(short_reason(r.stderr + r.stdout))


def java_e2e(b, topic, count, size=1024, acks="all"):
    props = os.path.join(BUILD, "bench", "e2e-client.properties")
    with open(props, "w") as f:  # same client settings as the other tests
        f.write("enable.idempotence=false\n")
    r = java_tool("org.apache.kafka.tools.EndToEndLatency",
                  [b.bootstrap, topic, str(count), acks, str(size), props])
    avg = re.search(r"Avg latency: ([\d.]+) ms", r.stdout)
    m = re.search(r"Percentiles: 50th = (\d+), 99th = (\d+), 99.9th = (\d+)", r.stdout)
    if r.returncode or not m:
        raise ClientError(short_reason(r.stderr + r.stdout))
    return {"lat_avg_ms": float(avg.group(1)) if avg else None,
            "lat_p50_ms": float(m.group(1)), "lat_p99_ms": float(m.group(2)),
            "lat_p999_ms": float(m.group(3))}


def java_e2e_us(b, topic, count, warmup, size=1024, acks="all"):
    """bench/E2eLatency.java (the JDK's single-file launcher compiles it)."""
    props = os.path.join(BUILD, "bench", "e2e-client.properties")
    with open(props, "w") as f:
        f.write("enable.idempotence=false\n")
    r = java_tool(os.path.join(ROOT, "bench", "E2eLatency.java"),
                  [b.bootstrap, topic, str(count), str(warmup), acks, str(size), props])
    m = re.search(r"count=(\d+) avg_us=([\d.]+) p50_us=([\d.]+) p99_us=([\d.]+) "
                  r"p999_us=([\d.]+) max_us=([\d.]+)", r.stdout)
    if r.returncode or not m:
        raise ClientError(short_reason(r.stderr + r.stdout))
    return {"lat_avg_ms": float(m.group(2)) / 1e3, "lat_p50_ms": float(m.group(3)) / 1e3,
            "lat_p99_ms": float(m.group(4)) / 1e3, "lat_p999_ms": float(m.group(5)) / 1e3,
            "lat_max_ms": float(m.group(6)) / 1e3}


# ---- figures ----------------------------------------------------------------
class Figure:
    """One table row: a metric measured on both brokers, several runs each."""

    def __init__(self, section, workload, client, metric, unit, better="higher", fmt="%.1f"):
        self.section, self.workload, self.client = section, workload, client
        self.metric, self.unit, self.better, self.fmt = metric, unit, better, fmt
        self.vals = {"kafka": [], "sluice": []}
        self.why = {}

    def add(self, broker, value):
        self.vals[broker].append(value)

    def fail(self, broker, reason):
        self.why.setdefault(broker, reason)

    def median(self, broker):
        v = self.vals[broker]
        return statistics.median(v) if v else None

    def cell(self, broker):
        v = self.vals[broker]
        if not v:
            return "n/a (%s)" % reason_ref(self.why.get(broker, "not measured"))
        med = self.fmt % statistics.median(v)
        if len(v) > 1:
            med += " [%s–%s]" % (self.fmt % min(v), self.fmt % max(v))
        return med

    def ratio(self):
        k, s = self.median("kafka"), self.median("sluice")
        if k is None or s is None or k == 0:
            return "–"
        r = s / k
        return ("%.2f×" if r >= 0.1 else "%.3f×") % r


FIGS = []
REASONS = []  # footnotes: long failure reasons are listed once under the table


def reason_ref(why):
    why = " ".join(why.split())
    if len(why) <= 40:
        return why
    if why not in REASONS:
        REASONS.append(why)
    return "note %d" % (REASONS.index(why) + 1)


def fig(*a, **kw):
    f = Figure(*a, **kw)
    FIGS.append(f)
    return f


class PageCacheFill:
    """Keeps the machine's memory full of clean page cache, as a server's is.

    This machine is a VM whose host backs a guest page on first use and takes
    freed pages back (virtio-balloon free page reporting): a page-cache write
    into free memory pays the host's page faults inside write(), 2-3 s of CPU
    per GB, while one into memory reclaimed from the page cache does not.
    With ~20 GB free, which of the two a produce run got was luck: the same
    400 MB run cost Sluice 0.2 s of CPU or 1.2 s, Kafka 0.6 s or 2.9 s, and
    the ratios swung with it. Before each measured produce run the free memory
    beyond KEEP_FREE is filled with the page cache of a sparse file (reading holes:
    no disk I/O), so the brokers' writes reclaim memory the way they would on
    a long-running server, and both pay the same. The fill costs the bench,
    not the brokers. It is removed after the produce section: memory that
    full made the latency runs stall in reclaim (p99 230 ms on both brokers).
    BENCH_FILL=0 turns it off."""

    KEEP_FREE = 256 << 20
    CHUNK = 8 << 20

    def __init__(self, path):
        self.path, self.size, self.buf = path, 0, bytearray(self.CHUNK)
        self.enabled = os.environ.get("BENCH_FILL", "1") != "0"
        self.filled = 0

    def top_up(self):
        if not self.enabled:
            return
        with open("/proc/meminfo") as m:
            free = next(int(x.split()[1]) * 1024 for x in m if x.startswith("MemFree:"))
        want = free - self.KEEP_FREE
        if want < self.CHUNK:
            return
        with open(self.path, "ab") as f:
            f.truncate(self.size + want)
        with open(self.path, "rb", buffering=0) as f:
            f.seek(self.size)
            left = want
            while left > 0 and f.readinto(self.buf):
                left -= self.CHUNK
        self.size += want
        self.filled += want

    def remove(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass
        self.size = 0


FILL = PageCacheFill(os.path.join(WORK, "pagecache-fill.sparse"))


# The load client's own CPU (the rdperf or java child process: utime+stime
# of the children reaped during the run) for the throughput rows, to show how
# much of the shared 2 cores the client leaves a broker. (workload, client)
# -> broker -> list of (client s/GB, broker s/GB, client cores busy).
CLIENT = {}


def children_cpu():
    t = os.times()
    return t.children_user + t.children_system


def client_cost(workload, client, broker, client_s, broker_s, wall, v):
    """v: the client's result; rdperf's names its busiest thread."""
    gb = v["bytes"] / 1e9
    busiest = v["busiest_cpu_s"] / v["secs"] if v.get("busiest_cpu_s") and v.get("secs") else None
    CLIENT.setdefault((workload, client), {"kafka": [], "sluice": []})[broker].append(
        (client_s / gb, broker_s / gb, client_s / wall if wall > 0 else 0, busiest,
         v.get("busiest_thread")))


def measure(f, b, fn, key=None):
    """Run fn(); add its value to figure f (or mark the failure)."""
    try:
        v = fn()
    except (ClientError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        reason = str(e).replace("|", "/")[:120]
        log("%s %s/%s on %s failed: %s" % (f.section, f.workload, f.client, b.name, reason))
        f.fail(b.name, reason)
        return None
    if v is not None:
        f.add(b.name, v if key is None else v[key])
    return v


DEAD = {}  # broker name -> why it is left out of the load sections


def usable(brokers):
    return [b for b in brokers if b.pid and b.alive() and b.name not in DEAD]


def why_not(b):
    return DEAD.get(b.name, "broker not running")


NOTES = []


def revive(brokers):
    """A broker that crashed in an earlier section is noted and restarted on
    its data, so one crash does not blank the rest of the table."""
    for b in brokers:
        if b.pid and not b.alive() and b.name not in DEAD:
            tail = b.tail() if hasattr(b, "tail") else ""
            NOTES.append("%s crashed during the run (restarted for the next section): %s"
                         % (b.name, tail[-300:]))
            log("%s crashed; restarting. %s" % (b.name, tail[-300:]))
            try:
                b.kill9()
                b.start()
            except Exception as e:
                DEAD[b.name] = "crashed, restart failed: %s" % str(e)[:100]


# ---- sections -----------------------------------------------------------------
def section_idle(brokers, dead_reason):
    rss = fig("memory", "idle, 5 s after start", "–", "RSS (VmRSS)", "MB", "lower")
    anon = fig("memory", "idle, 5 s after start", "–", "RSS anon (RssAnon)", "MB", "lower")
    cpu = fig("cpu", "idle 10 s", "–", "CPU", "% of a core", "lower", "%.2f")
    for b in brokers:
        if not b.alive():
            for f in (rss, anon, cpu):
                f.fail(b.name, dead_reason.get(b.name, "not running"))
    live = [b for b in brokers if b.alive()]
    time.sleep(5)
    c0 = {b.name: cpu_secs(b.pid) for b in live}
    for b in live:
        m = mem_kb(b.pid)
        rss.add(b.name, m["VmRSS"] / 1024)
        anon.add(b.name, m["RssAnon"] / 1024)
    time.sleep(10)
    for b in live:
        cpu.add(b.name, (cpu_secs(b.pid) - c0[b.name]) / 10 * 100)


def section_produce(brokers, samplers):
    revive(brokers)
    nb = start_null(keep=False)
    cpu_gb = {c: fig("cpu", "produce 1 KB, 6 part., acks=1", c, "CPU per GB produced",
                     "CPU s/GB", "lower", "%.2f") for c in ("rdkafka", "java")}
    for size in (100, 1024):
        for parts in (1, 6):
            for acks in ("1", "all"):
                w = "produce %s, %d part., acks=%s" % ("100 B" if size == 100 else "1 KB",
                                                      parts, acks)
                topic = "bench-p%d-s%d-a%s" % (parts, size, acks)
                revive(brokers)
                for b in usable(brokers):
                    try:
                        create_topics(b, {topic: parts})
                    except Exception as e:
                        log("create %s on %s: %s" % (topic, b.name, e))
                figs = {}
                for c in ("rdkafka", "java"):
                    figs[c] = (fig("produce", w, c, "throughput", "records/s", fmt="%.0f"),
                               fig("produce", w, c, "throughput", "MB/s"))
                count = PRODUCE_COUNT[size]
                if nb:
                    try:
                        create_topics(nb, {topic: parts})
                    except Exception as e:
                        log("create %s on the null broker: %s" % (topic, e))
                for run in range(RUNS):
                    if nb:
                        FILL.top_up()
                        ceiling_run(nb, w, lambda: rdperf("produce", nb, topic, s=size, n=count,
                                                          a=acks))
                    for c in ("rdkafka", "java"):
                        for b in brokers:
                            fr, fm = figs[c]
                            revive([b])
                            if not b.alive() or b.name in DEAD:
                                fr.fail(b.name, why_not(b))
                                fm.fail(b.name, why_not(b))
                                if size == 1024 and parts == 6 and acks == "1":
                                    cpu_gb[c].fail(b.name, why_not(b))
                                continue
                            FILL.top_up()
                            c0 = cpu_secs(b.pid)
                            k0, w0 = children_cpu(), time.monotonic()
                            if c == "rdkafka":
                                fn = lambda: rdperf("produce", b, topic, s=size, n=count, a=acks)
                            else:
                                fn = lambda: java_produce(b, topic, size, JAVA_PRODUCE_COUNT[size],
                                                          acks)
                            v = measure(fr, b, fn, "rps")
                            if v is None:
                                fm.fail(b.name, fr.why.get(b.name))
                                if c in cpu_gb and size == 1024 and parts == 6 and acks == "1":
                                    cpu_gb[c].fail(b.name, fr.why.get(b.name))
                                continue
                            fm.add(b.name, v["mbps"])
                            used = cpu_secs(b.pid) - c0
                            ccpu, wall = children_cpu() - k0, time.monotonic() - w0
                            client_cost(w, c, b.name, ccpu, used, wall, v)
                            record(kind="produce", broker=b.name, client=c, size=size,
                                   parts=parts, acks=acks, run=run, cpu_s=used,
                                   client_cpu_s=ccpu, wall_s=wall, **v)
                            if size == 1024 and parts == 6 and acks == "1":
                                cpu_gb[c].add(b.name, used / (v["bytes"] / 1e9))
                for b in usable(brokers):
                    delete_topics(b, [topic])
    if nb:
        nb.stop()
    FILL.remove()


def section_consume(brokers):
    revive(brokers)
    topic = "bench-consume"
    figs = {c: fig("consume", "consume 1 KB, 6 part., warm log", c, "throughput", "MB/s")
            for c in ("rdkafka", "java")}
    cpu_gb = {c: fig("cpu", "consume 1 KB, 6 part., warm log", c, "CPU per GB consumed",
                     "CPU s/GB", "lower", "%.2f") for c in ("rdkafka", "java")}
    ready = {}
    for b in usable(brokers):
        try:
            create_topics(b, {topic: 6})
            rdperf("produce", b, topic, s=1024, n=CONSUME_COUNT, a="1")
            ready[b.name] = True
        except Exception as e:
            for c in figs:
                figs[c].fail(b.name, "fill: %s" % str(e)[:100])
                cpu_gb[c].fail(b.name, "fill: %s" % str(e)[:100])
    nb = start_null(keep=True, topics={topic: 6})
    w = "consume 1 KB, 6 part., warm log"
    if nb and null_try("consume fill", lambda: rdperf("produce", nb, topic, s=1024,
                                                       n=CONSUME_COUNT, a="1")) is None:
        nb.stop()
        nb = None
    for run in range(RUNS):
        if nb:
            ceiling_run(nb, w, lambda: rdperf("consume", nb, topic, n=CONSUME_COUNT))
        for c in ("rdkafka", "java"):
            for b in brokers:
                if not ready.get(b.name) or not b.alive():
                    figs[c].fail(b.name, why_not(b))
                    cpu_gb[c].fail(b.name, why_not(b))
                    continue
                revive([b])
                c0 = cpu_secs(b.pid)
                k0, w0 = children_cpu(), time.monotonic()
                fn = (lambda: rdperf("consume", b, topic, n=CONSUME_COUNT)) if c == "rdkafka" \
                    else (lambda: java_consume(b, topic, CONSUME_COUNT))
                v = measure(figs[c], b, fn, "mbps")
                if v is None:
                    cpu_gb[c].fail(b.name, figs[c].why.get(b.name))
                    continue
                used = cpu_secs(b.pid) - c0
                ccpu, wall = children_cpu() - k0, time.monotonic() - w0
                cpu_gb[c].add(b.name, used / (v["bytes"] / 1e9))
                client_cost("consume 1 KB, 6 part., warm log", c, b.name, ccpu, used, wall, v)
                record(kind="consume", broker=b.name, client=c, run=run, cpu_s=used,
                       client_cpu_s=ccpu, wall_s=wall, **v)
    if nb:
        nb.stop()
    for b in usable(brokers):
        delete_topics(b, [topic])


def section_e2e(brokers):
    revive(brokers)
    topic = "bench-e2e"
    w = "e2e 1 KB, 1 part., acks=all, %d rec/s" % E2E_RATE
    wj = "e2e 1 KB, 1 part., acks=all, one at a time"
    f = {q: fig("latency", w, "rdkafka", q, "ms", "lower", "%.2f") for q in ("p50", "p99", "p99.9")}
    fj = {q: fig("latency", wj, "java", q, "ms", "lower", "%.0f") for q in ("p50", "p99", "p99.9")}
    wu = "e2e 1 KB, 1 part., acks=all, one at a time, µs clock"
    fu = {q: fig("latency", wu, "java", q, "ms", "lower", "%.3f") for q in ("p50", "p99", "p99.9")}
    for b in usable(brokers):
        try:
            create_topics(b, {topic: 1})
        except Exception as e:
            log("create %s on %s: %s" % (topic, b.name, e))
    nb = start_null(keep=True, topics={topic: 1})
    for run in range(RUNS):
        if nb:
            floor_run(w, "rdkafka", lambda: rdperf("e2e", nb, topic, s=1024, r=E2E_RATE,
                                                       d=E2E_SECS, a="all", X=["linger.ms=0"]))
            floor_run(wu, "java", lambda: java_e2e_us(nb, topic, E2E_JAVA_US_COUNT,
                                                          E2E_JAVA_US_WARMUP))
        for b in brokers:
            revive([b])
            if not b.alive() or b.name in DEAD:
                for x in list(f.values()) + list(fj.values()) + list(fu.values()):
                    x.fail(b.name, why_not(b))
                continue
            v = measure(f["p50"], b, lambda: rdperf("e2e", b, topic, s=1024, r=E2E_RATE,
                                                   d=E2E_SECS, a="all", X=["linger.ms=0"]),
                        "lat_p50_ms")
            if v:
                f["p99"].add(b.name, v["lat_p99_ms"])
                f["p99.9"].add(b.name, v["lat_p999_ms"])
                record(kind="e2e", broker=b.name, client="rdkafka", run=run, **v)
            else:
                f["p99"].fail(b.name, f["p50"].why[b.name])
                f["p99.9"].fail(b.name, f["p50"].why[b.name])
            revive([b])
            v = measure(fj["p50"], b, lambda: java_e2e(b, topic, E2E_JAVA_COUNT), "lat_p50_ms")
            if v:
                fj["p99"].add(b.name, v["lat_p99_ms"])
                fj["p99.9"].add(b.name, v["lat_p999_ms"])
                record(kind="e2e", broker=b.name, client="java", run=run, **v)
            else:
                fj["p99"].fail(b.name, fj["p50"].why[b.name])
                fj["p99.9"].fail(b.name, fj["p50"].why[b.name])
            revive([b])
            v = measure(fu["p50"], b, lambda: java_e2e_us(b, topic, E2E_JAVA_US_COUNT,
                                                          E2E_JAVA_US_WARMUP), "lat_p50_ms")
            if v:
                fu["p99"].add(b.name, v["lat_p99_ms"])
                fu["p99.9"].add(b.name, v["lat_p999_ms"])
                record(kind="e2e", broker=b.name, client="java-us", run=run, **v)
            else:
                fu["p99"].fail(b.name, fu["p50"].why[b.name])
                fu["p99.9"].fail(b.name, fu["p50"].why[b.name])
    if nb:
        nb.stop()


def latency_floor_table():
    """The latency clients against the null broker, beside Kafka's and
    Sluice's medians: how low the client itself lets a broker go."""
    rows = ["| workload | client | quantile | client's floor (null broker), ms | Apache Kafka, ms "
            "| Sluice, ms | floor ÷ Kafka | Sluice ÷ Kafka |", "|---|---|---|---|---|---|---|---|"]
    for f in FIGS:
        fl = latency_floor(f)
        if fl is None:
            continue
        k, sl = f.median("kafka"), f.median("sluice")
        rows.append("| %s | %s | %s | %.3f | %s | %s | %s | %s |" % (
            f.workload, f.client, f.metric, fl, "%.3f" % k if k is not None else "–",
            "%.3f" % sl if sl is not None else "–", "%.2f×" % (fl / k) if k else "–",
            f.ratio()))
    return "\n".join(rows) if len(rows) > 2 else "(not measured)"


def latency_floor(f):
    """Median of the null-broker runs for latency figure f's quantile, or
    None when not measured."""
    key = {"p50": "lat_p50_ms", "p99": "lat_p99_ms", "p99.9": "lat_p999_ms"}.get(f.metric)
    runs = LAT_FLOOR.get((f.workload, f.client))
    if f.section != "latency" or not runs or not key:
        return None
    return statistics.median(r[key] for r in runs)


def floor_ratio_note(f):
    """' (the client's floor, null broker: N×)' for a latency figure."""
    fl, k = latency_floor(f), f.median("kafka")
    return " (the client's floor, null broker: %.2f×)" % (fl / k) if fl is not None and k else ""


def fill(b, topic, parts, mb):
    """mb MB of 1 KB records over parts partitions (rdkafka, acks=1)."""
    create_topics(b, {topic: parts})
    n = mb * 1024
    rdperf("produce", b, topic, s=1024, n=n, a="1", timeout=max(TIMEOUT, mb))


def section_startup(make):
    data_w = "restart, 1,000 part. holding %s" % (
        "%d GB" % (STARTUP_MB // 1024) if STARTUP_MB % 1024 == 0 else "%d MB" % STARTUP_MB)
    f_empty = fig("start-up", "start, empty log", "probe", "to first Metadata answer", "ms",
                  "lower", "%.0f")
    f_data = fig("start-up", data_w, "probe", "to first Metadata answer", "ms", "lower", "%.0f")
    f_rec = fig("start-up", data_w + " + 10% unflushed, after kill -9", "probe",
                "to first Metadata answer", "ms", "lower", "%.0f")
    for name in ("kafka", "sluice"):
        if name == "sluice" and not WITH_SLUICE:
            for x in (f_empty, f_data, f_rec):
                x.fail(name, "BENCH_SLUICE=0")
            continue
        b = make(name, "startup-" + name)
        b.wipe()
        log("start-up: %s, empty log" % name)
        try:
            b.format()
            for run in range(RUNS + 2):  # cheap, and the noisiest figure
                t = b.start()
                f_empty.add(name, t * 1000)
                record(kind="startup", broker=name, data="empty", secs=t)
                b.stop()
        except Exception as e:
            log("start-up %s: %s" % (name, e))
            f_empty.fail(name, str(e)[:120])
            b.kill9()
        try:
            log("start-up: %s, filling 1,000 partitions with %d MB" % (name, STARTUP_MB))
            b.start()
            fill(b, "bench-startup", 1000, STARTUP_MB)
            b.stop()
            for run in range(RUNS):
                t = b.start()
                f_data.add(name, t * 1000)
                record(kind="startup", broker=name, data="%dMB/1000p" % STARTUP_MB, secs=t)
                b.stop()
            for run in range(RUNS):
                b.start()
                rdperf("produce", b, "bench-startup", s=1024, n=max(1000, STARTUP_MB * 1024 // 10),
                       a="1", timeout=max(TIMEOUT, STARTUP_MB))
                b.kill9()
                t = b.start()
                f_rec.add(name, t * 1000)
                record(kind="recovery", broker=name, data="%dMB/1000p" % STARTUP_MB, secs=t)
                b.stop()
        except Exception as e:
            log("start-up %s with data: %s" % (name, e))
            for x in (f_data, f_rec):
                if not x.vals[name]:
                    x.fail(name, str(e)[:120])
            b.kill9()
        DEFER_RM.append(b.dir)


class LocalCluster:
    """The README's three-node cluster (scripts/cluster.sh: the three
    combined nodes of config/cluster/, on free ports, data under WORK), of
    Sluice or (--kafka) Apache Kafka."""

    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(WORK, "cluster-" + name)
        base = []
        for _ in range(3):
            base.append(free_port_pair())
        self.ports = base
        self.env = dict(os.environ, CLUSTER_DIR=self.dir,
                        CLUSTER_PORTS=" ".join(str(p) for p in self.ports),
                        SLUICE_BIN=SLUICE_BIN)
        self.admins = {}

    def sh(self, *args, timeout=300):
        r = subprocess.run([os.path.join(ROOT, "scripts", "cluster.sh")] + list(args),
                           env=self.env, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("cluster.sh %s: %s" % (" ".join(args),
                                                      (r.stderr or r.stdout).strip()[-300:]))
        return r.stdout

    def start(self):
        t = time.monotonic()
        self.sh("start", *(["--kafka"] if self.name == "kafka" else []))
        return time.monotonic() - t

    def stop(self):
        self.admins = {}
        try:
            self.sh("stop")
        except Exception as e:
            log("cluster %s stop: %s" % (self.name, e))

    def pid(self, n):
        with open(os.path.join(self.dir, "node-%d.pid" % n)) as f:
            return int(f.read())

    def addr(self, n):
        return "127.0.0.1:%d" % self.ports[n - 1]

    def admin(self, n):
        from confluent_kafka.admin import AdminClient
        if n not in self.admins:
            self.admins[n] = AdminClient({"bootstrap.servers": self.addr(n),
                                          "socket.connection.setup.timeout.ms": 1000,
                                          "reconnect.backoff.max.ms": 100})
        return self.admins[n]

    def leader(self):
        for n in (1, 2, 3):
            try:
                out = subprocess.run(
                    [os.path.join(BUILD, "kafka-metadata-quorum.sh"), "--bootstrap-server",
                     self.addr(n), "describe", "--status"], capture_output=True, text=True,
                    timeout=30).stdout
            except subprocess.TimeoutExpired:
                continue
            m = re.search(r"^LeaderId:\s*(\d+)", out, re.M)
            if m:
                return int(m.group(1))
        return None

    def bootstrap(self):
        return ",".join(self.addr(n) for n in (1, 2, 3))

    def create(self, n, name, timeout, parts=1, rf=1, config=None):
        from confluent_kafka.admin import NewTopic
        futs = self.admin(n).create_topics([NewTopic(name, parts, rf, config=config or {})],
                                           request_timeout=timeout, operation_timeout=timeout)
        futs[name].result(timeout + 1)

    def create_retrying(self, n, name, deadline, pause, **kw):
        """create(), retried until the monotonic deadline while the cluster
        settles (a leader change, a broker not registered yet), as an
        application would; a topic that already exists counts as made."""
        while True:
            try:
                self.create(n, name, 30, **kw)
                return
            except Exception as e:
                if "already exists" in str(e):
                    return
                if time.monotonic() > deadline:
                    raise
                time.sleep(pause)

    def has(self, n, name):
        try:
            md = self.admin(n).list_topics(name, timeout=2)
            t = md.topics.get(name)
            return t is not None and t.error is None and len(t.partitions) == 1
        except Exception:
            return False


def cluster_runs(section, figs, body):
    """RUNS runs of body(c, name, run) on a fresh three-node LocalCluster of
    each broker; a run that raises fails the figures it did not fill, and
    every cluster is stopped (its data removed at the end of the bench)."""
    for name in ("kafka", "sluice"):
        if name == "sluice" and not WITH_SLUICE:
            for x in figs:
                x.fail(name, "BENCH_SLUICE=0")
            continue
        for run in range(RUNS):
            c = LocalCluster(name)
            shutil.rmtree(c.dir, ignore_errors=True)
            try:
                log("%s: %s, run %d" % (section, name, run + 1))
                body(c, name, run)
            except Exception as e:
                log("%s %s: %s" % (section, name, e))
                for x in figs:
                    if len(x.vals[name]) <= run:
                        x.fail(name, str(e)[:120])
            finally:
                c.stop()
                DEFER_RM.append(c.dir)


def section_cluster():
    """Issue 17's control-plane figures on three combined nodes of each."""
    f_start = fig("cluster", "3 combined nodes, formatted", "probe",
                  "start to every node answering + a quorum leader", "ms", "lower", "%.0f")
    f_rss = fig("cluster", "3 combined nodes, idle after start", "–",
                "RSS per node (mean of 3)", "MB", "lower", "%.0f")
    f_rss_t = fig("cluster", "3 combined nodes, after %d topics" % CLUSTER_TOPICS, "–",
                  "RSS per node (mean of 3)", "MB", "lower", "%.0f")
    f_p50 = fig("cluster", "CreateTopics answered -> in Metadata on all 3", "admin",
                "metadata propagation p50", "ms", "lower", "%.1f")
    f_p99 = fig("cluster", "CreateTopics answered -> in Metadata on all 3", "admin",
                "metadata propagation p99", "ms", "lower", "%.1f")
    f_fail = fig("cluster", "kill -9 of the active controller", "admin",
                 "to a CreateTopics answered through a survivor", "ms", "lower", "%.0f")
    figs = (f_start, f_rss, f_rss_t, f_p50, f_p99, f_fail)

    def one_run(c, name, run):
        c.start()   # formats (Kafka: kafka-storage format per node)
        c.stop()
        t = c.start()
        f_start.add(name, t * 1000)
        time.sleep(2)
        f_rss.add(name, statistics.mean(
            mem_kb(c.pid(n))["VmRSS"] for n in (1, 2, 3)) / 1024)
        # metadata propagation: created through node 1, 2, 3 in turn
        delays = []
        for i in range(CLUSTER_TOPICS):
            topic = "bench-md-%d-%d" % (run, i)
            via = 1 + i % 3
            c.create_retrying(via, topic, time.monotonic() + 60, 0.05)
            answered = time.monotonic()
            left = {1, 2, 3}
            while left:
                left = {n for n in left if not c.has(n, topic)}
                if time.monotonic() - answered > 30:
                    raise RuntimeError("%s not in Metadata on %s" % (topic, left))
            delays.append((time.monotonic() - answered) * 1000)
        delays.sort()
        f_p50.add(name, delays[len(delays) // 2])
        f_p99.add(name, delays[min(len(delays) - 1, int(len(delays) * 0.99))])
        record(kind="cluster-propagation", broker=name, ms=delays)
        f_rss_t.add(name, statistics.mean(
            mem_kb(c.pid(n))["VmRSS"] for n in (1, 2, 3)) / 1024)
        # failover
        old = c.leader()
        if old is None:
            raise RuntimeError("no quorum leader")
        survivor = 1 if old != 1 else 2
        c.admin(survivor)  # connected before the kill
        killed = time.monotonic()
        os.kill(c.pid(old), signal.SIGKILL)
        deadline = killed + 120
        i = 0
        while True:
            i += 1
            try:
                c.create(survivor, "bench-failover-%d-%d" % (run, i), 5)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError("no CreateTopics answered in 120 s")
                time.sleep(0.02)
        f_fail.add(name, (time.monotonic() - killed) * 1000)
        record(kind="cluster-failover", broker=name,
               secs=time.monotonic() - killed)

    cluster_runs("cluster", figs, one_run)


class _Bootstrap:
    """What rdperf needs of a broker: its bootstrap servers."""

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap


def _partition_leader(c, topic, part=0):
    from confluent_kafka.admin import AdminClient
    a = AdminClient({"bootstrap.servers": c.bootstrap()})
    md = a.list_topics(topic, timeout=10)
    p = md.topics[topic].partitions[part]
    return p.leader, sorted(p.isrs)


def _wait_full_isr(c, topic, parts, deadline):
    """Every partition's leader known and its ISR all three replicas."""
    from confluent_kafka.admin import AdminClient
    a = AdminClient({"bootstrap.servers": c.bootstrap()})
    ps = {}
    while True:
        try:
            md = a.list_topics(topic, timeout=10)
            ps = md.topics[topic].partitions
            if len(ps) == parts and all(p.leader >= 0 and len(p.isrs) == 3
                                        for p in ps.values()):
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            try:
                got = ["%d:%s" % (i, sorted(p.isrs)) for i, p in sorted(ps.items())]
            except Exception:
                got = "?"
            raise RuntimeError("%s: ISR not full in time (%s)" % (topic, " ".join(got)))
        time.sleep(0.1)


def _failover_ms(c, topic):
    """kill -9 of partition 0's leader -> the first record acknowledged
    (acks=all) by the new leader, from a producer connected before."""
    from confluent_kafka import Producer
    pr = Producer({"bootstrap.servers": c.bootstrap(), "acks": "all",
                   "enable.idempotence": True, "linger.ms": 0,
                   "retry.backoff.ms": 10, "retry.backoff.max.ms": 50,
                   "topic.metadata.refresh.interval.ms": 100,
                   "socket.connection.setup.timeout.ms": 1000,
                   "reconnect.backoff.max.ms": 100})
    acked = []
    pr.produce(topic, b"warm", partition=0, on_delivery=lambda e, m: acked.append(e))
    pr.flush(30)
    if not acked or acked[0] is not None:
        raise RuntimeError("warm-up produce failed: %s" % (acked or "no answer"))
    leader, _ = _partition_leader(c, topic)
    killed = time.monotonic()
    os.kill(c.pid(leader), signal.SIGKILL)
    done = []
    pr.produce(topic, b"after", partition=0,
               on_delivery=lambda e, m: done.append((e, time.monotonic())))
    while not done and time.monotonic() - killed < 120:
        pr.poll(0.005)
    if not done or done[0][0] is not None:
        raise RuntimeError("no acknowledged produce after the kill: %s" % (done or "timeout"))
    ms = (done[0][1] - killed) * 1000
    c.sh("start-node", str(leader))
    return ms


def section_replication():
    """Issue 18's data-plane figures: replicated produce (RF 3, acks=all,
    min.insync.replicas 2) on three combined nodes of each, CPU summed over
    the three brokers, and the failover of a partition leader."""
    count = PRODUCE_COUNT[1024]
    w = "RF 3, acks=all, 1 KB, 6 partitions"
    f_rps = fig("replication", w, "rdkafka", "throughput", "records/s", fmt="%.0f")
    f_mb = fig("replication", w, "rdkafka", "throughput", "MB/s")
    f_cpu = fig("replication", w, "rdkafka", "broker CPU (3 summed) per GB", "s/GB",
                "lower", "%.2f")
    we = "RF 3, acks=all, 1 KB, %d/s, 1 partition" % E2E_RATE
    f_e = {q: fig("replication", we, "rdkafka", "end-to-end " + q, "ms", "lower", "%.2f")
           for q in ("p50", "p99", "p99.9")}
    f_fail = fig("replication", "kill -9 of a partition leader (not the controller)",
                 "confluent",
                 "to the first acks=all record on the new leader", "ms", "lower", "%.0f")
    figs = (f_rps, f_mb, f_cpu, f_fail) + tuple(f_e.values())

    def one_run(c, name, run):
        c.start()
        b = _Bootstrap(c.bootstrap())
        deadline = time.monotonic() + 120
        while len(c.admin(1).list_topics(timeout=10).brokers) < 3:
            if time.monotonic() > deadline:
                raise RuntimeError("three brokers not registered in time")
            time.sleep(0.1)
        for t, parts in (("bench-rf3", 6), ("bench-rf3-e2e", 1)):
            c.create_retrying(1, t, deadline, 0.2, parts=parts, rf=3,
                              config={"min.insync.replicas": "2"})
            _wait_full_isr(c, t, parts, deadline)
        # a first idempotent producer makes the cluster create
        # __transaction_state (InitProducerId: seconds on Kafka),
        # which is not what the figures below measure
        rdperf("produce", b, "bench-rf3-e2e", s=1024, n=10, a="all")
        pids = [c.pid(n) for n in (1, 2, 3)]
        c0 = sum(cpu_secs(p) for p in pids)
        v = rdperf("produce", b, "bench-rf3", s=1024, n=count, a="all")
        used = sum(cpu_secs(p) for p in pids) - c0
        f_rps.add(name, v["rps"])
        f_mb.add(name, v["mbps"])
        f_cpu.add(name, used / (v["bytes"] / 1e9))
        record(kind="replication-produce", broker=name, run=run, cpu_s=used, **v)
        # latency after the throughput run, which warms the JVMs up,
        # and after two unmeasured latency runs, which also let the
        # followers finish catching up (Kafka's took seconds): the
        # first runs on a cold Kafka measured JIT warm-up (p50 4 s,
        # then 0.8 s, then 1-30 ms on a loaded machine)
        for _ in range(2):
            rdperf("e2e", b, "bench-rf3-e2e", s=1024, r=E2E_RATE, d=E2E_SECS, a="all",
                   X=["linger.ms=0"])
        v = rdperf("e2e", b, "bench-rf3-e2e", s=1024, r=E2E_RATE, d=E2E_SECS, a="all",
                   X=["linger.ms=0"])
        f_e["p50"].add(name, v["lat_p50_ms"])
        f_e["p99"].add(name, v["lat_p99_ms"])
        f_e["p99.9"].add(name, v["lat_p999_ms"])
        record(kind="replication-e2e", broker=name, run=run, **v)
        # the partition's leader is not the active controller, whose
        # loss would add a quorum election and fresh broker sessions
        # (on both: Kafka's ClusterControlManager.activate) to what
        # this measures
        ql = c.leader()
        first = 1 if ql != 1 else 2
        order = [first] + [n for n in (1, 2, 3) if n != first]
        from confluent_kafka.admin import NewTopic
        c.admin(1).create_topics([NewTopic(
            "bench-failover", 1, replica_assignment=[order],
            config={"min.insync.replicas": "2"})])["bench-failover"].result(30)
        _wait_full_isr(c, "bench-failover", 1, time.monotonic() + 60)
        ms = _failover_ms(c, "bench-failover")
        f_fail.add(name, ms)
        record(kind="replication-failover", broker=name, run=run, ms=ms)

    cluster_runs("replication", figs, one_run)


def logs_on_disk(b, topics, deadline):
    """Waits until every partition's first segment file exists in b's log
    dir; True if they all do before the deadline."""
    pending = [(n, p) for n, parts in topics.items() for p in range(parts)]
    while True:
        pending = [x for x in pending if not os.path.exists(
            os.path.join(b.data, "%s-%d" % x, "00000000000000000000.log"))]
        if not pending:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def broker_log_cause(b):
    """A known fatal cause in Kafka's server.log, said in a few words."""
    path = os.path.join(b.dir, "logs", "server.log")
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    if "Too many open files" in text:
        return ("Kafka's log: Too many open files at the limit of %s (a file per "
                "segment; this machine's hard limit, which the bench may not raise)"
                % (format(NOFILE[0], ",") if NOFILE else "?"))
    if "Map failed" in text:
        return "Kafka's log: Map failed (vm.max_map_count %s)" % open(
            "/proc/sys/vm/max_map_count").read().strip()
    if "OutOfMemoryError" in text:
        return "Kafka's log: OutOfMemoryError (heap %s)" % KAFKA_HEAP
    return None


def section_scale(make):
    for n in SCALE_PARTS:
        w = "%s partitions (1,000 per topic)" % format(n, ",")
        f_create = fig("scale", w, "admin", "time to create (leaders in Metadata)", "s",
                       "lower", "%.1f")
        f_disk = fig("scale", w, "admin", "time to create (logs on disk)", "s", "lower", "%.1f")
        f_cpu = fig("scale", w, "–", "idle CPU", "% of a core", "lower", "%.2f")
        f_rss = fig("scale", w, "–", "RSS (VmRSS)", "MB", "lower", "%.0f")
        f_anon = fig("scale", w, "–", "RSS anon (RssAnon)", "MB", "lower", "%.0f")
        for name in ("kafka", "sluice"):
            if name == "sluice" and not WITH_SLUICE:
                for x in (f_create, f_disk, f_cpu, f_rss, f_anon):
                    x.fail(name, "BENCH_SLUICE=0")
                continue
            b = make(name, "scale-%s-%d" % (name, n))
            b.wipe()
            log("scale: %s, %d partitions" % (name, n))
            try:
                b.start()
                per = 1000 if n >= 1000 else n
                topics = {"scale-%05d" % i: per for i in range(n // per)}
                t0 = time.monotonic()
                t = create_topics(b, topics, timeout=SCALE_TIMEOUT)
                f_create.add(name, t)
                if logs_on_disk(b, topics, t0 + SCALE_TIMEOUT):
                    f_disk.add(name, time.monotonic() - t0)
                else:
                    why = broker_log_cause(b)
                    f_disk.fail(name, "logs not on disk after %ss%s" % (
                        SCALE_TIMEOUT, ": " + why if why else ""))
                time.sleep(5 if QUICK else 30)
                c0 = cpu_secs(b.pid)
                time.sleep(10)
                f_cpu.add(name, (cpu_secs(b.pid) - c0) / 10 * 100)
                m = mem_kb(b.pid)
                f_rss.add(name, m["VmRSS"] / 1024)
                f_anon.add(name, m["RssAnon"] / 1024)
                record(kind="scale", broker=name, partitions=n, create_s=t, **m)
            except Exception as e:
                reason = str(e)[:120]
                if b.pid and not b.alive():
                    reason = "broker died: " + reason
                why = broker_log_cause(b)
                if why:
                    reason = "%s (%s)" % (why, reason)
                log("scale %s %d: %s" % (name, n, reason))
                for x in (f_create, f_disk, f_cpu, f_rss, f_anon):
                    if not x.vals[name]:
                        x.fail(name, reason)
            b.kill9() if b.pid and not b.alive() else b.stop()
            DEFER_RM.append(b.dir)


# ---- report -----------------------------------------------------------------
def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // 1024
    df = subprocess.run(["df", "-h", "--output=source,fstype,size,avail", WORK],
                        capture_output=True, text=True).stdout.strip().splitlines()[-1].split()
    rota = "?"
    dev = os.path.basename(df[0])
    try:
        with open("/sys/block/%s/queue/rotational" % re.sub(r"\d+$", "", dev)) as f:
            rota = "rotational" if f.read().strip() == "1" else "non-rotational"
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "mem_mb": mem, "disk": "%s (%s, %s, %s free, %s)"
            % (df[0], df[1], df[2], df[3], rota), "kernel": platform.release()}


def table():
    rows = ["| workload | client | metric | Apache Kafka | Sluice | Sluice/Kafka |",
            "|---|---|---|---|---|---|"]
    for f in FIGS:
        rows.append("| %s | %s | %s (%s%s) | %s | %s | %s |" % (
            f.workload, f.client, f.metric, f.unit, ", lower is better" if f.better == "lower"
            else "", f.cell("kafka"), f.cell("sluice"), f.ratio()))
    if REASONS:
        rows.append("")
        rows += ["%d. %s" % (i + 1, r) for i, r in enumerate(REASONS)]
    return "\n".join(rows)


def client_table():
    """The load client's cost per throughput row, and what it allows.

    On 2 cores shared by client and broker a CPU-bound run moves at most
    2 cores / (client s/GB + broker s/GB), so Sluice/Kafka cannot pass
    (client_K + broker_K) / (client_S + broker_S), and even a broker that cost
    nothing could not pass (client_K + broker_K) / client_S."""
    rows = ["| workload | client | client CPU s/GB, Kafka / Sluice | client cores busy, "
            "Kafka / Sluice | busiest client thread, % of the run, Kafka / Sluice | "
            "broker CPU s/GB, Kafka / Sluice | ratio if CPU-bound | "
            "ratio with a free broker | client's ceiling: MB/s against the null broker "
            "(its CPU s/GB) | ceiling ÷ Kafka | measured ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]

    def med(xs, i):
        xs = [x[i] for x in xs if x[i] is not None]
        return statistics.median(xs) if xs else None

    def busiest(xs):
        b = med(xs, 3)
        names = sorted(set(x[4] for x in xs if x[4]))
        return "–" if b is None else "%.0f%% (%s)" % (100 * b, ",".join(names))
    f2 = lambda x: "–" if x is None else "%.2f" % x
    measured = {(f.workload, f.client): f for f in FIGS
                if f.unit == "MB/s" and f.section in ("produce", "consume")}
    for (w, c), per in CLIENT.items():
        if c != "rdkafka":
            continue  # a JVM's start-up and JIT are in its process CPU
        k, s = per["kafka"], per["sluice"]
        ck, cs, bk, bs = med(k, 0), med(s, 0), med(k, 1), med(s, 1)
        ok = None not in (ck, cs, bk, bs) and cs > 0
        m = measured.get((w, c))
        ceil, ceil_k = ceiling(w, m)
        rows.append("| %s | %s | %s / %s | %s / %s | %s / %s | %s / %s | %s | %s | %s | %s | %s |"
                    % (w, c, f2(ck), f2(cs), f2(med(k, 2)), f2(med(s, 2)), busiest(k),
                       busiest(s), f2(bk), f2(bs),
                       "%.2f×" % ((ck + bk) / (cs + bs)) if ok else "–",
                       "%.2f×" % ((ck + bk) / cs) if ok else "–", ceil,
                       "%.2f×" % ceil_k if ceil_k else "–", m.ratio() if m else "–"))
    return "\n".join(rows)


def ceiling(w, m):
    """The null-broker cell for workload w ("MB/s [min–max] (s/GB)") and the
    ceiling's median over Kafka's median MB/s (None when not measured)."""
    runs = CEILING.get(w)
    if not runs:
        return "–", None
    mb = [r[0] for r in runs]
    cell = "%.1f" % statistics.median(mb)
    if len(mb) > 1:
        cell += " [%.1f–%.1f]" % (min(mb), max(mb))
    cell += " (%.2f)" % statistics.median(r[2] for r in runs)
    k = m.median("kafka") if m else None
    return cell, (statistics.median(mb) / k if k else None)


def targets():
    """Where Sluice stands against issue 8's targets."""
    out = []

    def find(section, metric=None, client=None, unit=None):
        return [f for f in FIGS if f.section == section and (metric is None or f.metric == metric)
                and (client is None or f.client == client) and (unit is None or f.unit == unit)]

    def ratios(fs):
        r = []
        for f in fs:
            k, s = f.median("kafka"), f.median("sluice")
            if k and s:
                r.append(s / k)
        return r

    prod = ratios(find("produce", unit="MB/s"))
    cons = ratios(find("consume"))

    def ceilings(section):
        r = []
        for f in find(section, client="rdkafka", unit="MB/s"):
            c = ceiling(f.workload, f)[1]
            if c:
                r.append(c)
        if not r:
            return ""
        return ("; the rdkafka client's own ceiling (null broker) is %s Kafka's figure"
                % ("%.2f×" % r[0] if len(r) == 1 else "%.2f×–%.2f× (median %.2f×)" % (
                    min(r), max(r), statistics.median(r))))
    out.append("- producer throughput ≥ 2× Kafka: %s%s" % (
        "min %.2f×, median %.2f× over %d rows" % (min(prod), statistics.median(prod), len(prod))
        if prod else "not measured", ceilings("produce")))
    out.append("- consumer throughput ≥ 2× Kafka: %s%s" % (
        ", ".join("%.2f×" % r for r in cons) if cons else "not measured", ceilings("consume")))
    p99 = [f for f in FIGS if f.section == "latency" and f.metric == "p99"]
    out.append("- p99 latency ≤ 1/5 of Kafka's: %s" % (
        ", ".join("%s%s %s%s" % (f.client, " (µs clock)" if "µs" in f.workload else "", f.ratio(),
                                 floor_ratio_note(f))
                  for f in p99) or "not measured"))
    idle = [f for f in FIGS if f.section == "memory" and f.workload.startswith("idle")]
    out.append("- idle RSS < 20 MB: %s" % (
        ", ".join("%s %s MB" % (f.metric, f.cell("sluice")) for f in idle) or "not measured"))
    st = [f for f in FIGS if f.section == "start-up" and f.workload == "start, empty log"]
    out.append("- start-up < 50 ms: %s" % (
        ", ".join("%s ms (Kafka %s ms)" % (f.cell("sluice"), f.cell("kafka")) for f in st)
        or "not measured"))
    cr = [f for f in FIGS if f.section == "scale" and f.metric.startswith("time to create")]
    out.append("- partition creation at least as fast as Kafka: %s" % (
        ", ".join("%s %s: %s" % (f.workload.split(" (")[0], f.metric[len("time to create "):],
                                  f.ratio()) for f in cr) or "not measured"))
    cpu = ratios([f for f in FIGS if f.metric.startswith("CPU per GB")])
    out.append("- CPU per GB < 1/2 of Kafka's: %s" % (
        ", ".join("%.2f×" % r for r in cpu) if cpu else "not measured"))
    return "\n".join(out)


def replication_targets():
    """Where Sluice stands against issue 18's targets: at least 2× Kafka's
    replicated throughput per broker CPU second (the inverse of the CPU per
    GB ratio), and a replicated end-to-end p99 at most half of Kafka's."""
    cpu = [f for f in FIGS if f.section == "replication" and f.unit == "s/GB"]
    p99 = [f for f in FIGS if f.section == "replication" and f.metric == "end-to-end p99"]
    if not cpu and not p99:
        return ""

    def inv(f):
        k, s = f.median("kafka"), f.median("sluice")
        return "%.1f×" % (k / s) if k and s else "not measured"

    def half(f):
        k, s = f.median("kafka"), f.median("sluice")
        return ("%.3f× (met)" if s <= k / 2 else "%.3f× (NOT met)") % (s / k) if k and s \
            else "not measured"
    return "\n".join(
        ["", "Issue 18 (replicated cluster):"]
        + ["- replicated throughput per broker CPU second ≥ 2× Kafka: %s" % inv(f) for f in cpu]
        + ["- replicated end-to-end p99 ≤ 1/2 of Kafka's: %s" % half(f) for f in p99])


def write_report(info, started, notes):
    mode = "quick (BENCH_QUICK=1)" if QUICK else "full"
    la = os.getloadavg()
    text = """# Benchmarks: Sluice vs Apache Kafka

Written by `make bench` (bench/run.sh → bench/bench.py); do not edit by hand.
Last run: {date} UTC, {mode} mode, {runs} run(s) per figure, {dur:.0f} s.
Load average at start {la0}, at end {la1} (the machine is shared: compare
the ratio column, measured in the same run, rather than absolute figures).

## Machine
- CPU: {cores} cores, {cpu}; memory {mem} MB; kernel {kernel}
- Disk: {disk}; both brokers' log dirs under build/bench/work on it.
- Memory is a VM's (Firecracker, with free page reporting): the host backs
  a guest page on its first use and takes freed pages back, so a page-cache
  write into free memory costs 2-3 s of CPU per GB in page faults, one into
  memory reclaimed from the page cache does not. Before each measured
  produce run the bench fills free memory beyond 256 MB with the page cache
  of a sparse file ({fill}), as a long-running server's memory is full of
  page cache, so that neither broker's figure depends on which kind of
  memory it got; the file is removed after the produce section.

## Versions
- {kv}
- {sv}
- Clients: bench/rdperf (librdkafka {rdv}, C); Apache Kafka 4.3.1
  ProducerPerformance, ConsumerPerformance, EndToEndLatency (kafka-tools jar,
  {java}, run with {jopts}); bench/E2eLatency.java on the same
  kafka-clients jar.

## Settings (identical on both brokers)
- One node each (Kafka: KRaft broker+controller via scripts/kafka.sh, heap
  -Xmx{kheap} (kafka-server-start.sh's size) -Xms128m, SerialGC; Sluice: `build/sluice server --override ...`).
- {common}
- Flush policy: Kafka's keys set the same on both (no flush by message count
  or timer: both leave the data to the OS's write-back, and fsync rolled
  segments in the background and everything at a clean shutdown; Sluice
  implements Kafka's policy, docs/server.md "Durability").
- Runs alternate between the two brokers, both running at the same time
  during the throughput/latency sections (each idles while the other works);
  start-up and scale tests run one broker at a time.
- Producer runs: {pc} records per run for rdperf, {jpc} for Java (rdperf: round-robin over the
  partitions, librdkafka defaults, acks as listed, records enqueued 256 at a
  time with rd_kafka_produce_batch and no payload copy, so that the client
  costs as little as it can; Java: ProducerPerformance defaults, --throughput
  -1, plus --warmup-records {jw} of the count, whose steady-state figure is
  reported, so that the JVM's warm-up is left out). Idempotence off in both clients (librdkafka's
  default; set off for Java, which turns it on by default, so that both
  clients send the same kind of batches). Consumer: {cc} records of 1 KB over 6
  partitions, read right after being written (warm page cache); rdperf
  assigns partitions (no group), ConsumerPerformance joins a group (its
  fetch.MB.sec, excluding the join, is reported). MB = 2^20 bytes.
- Latency: rdperf produces {er} records/s for {es} s (first second not
  counted) and consumes them in the same process, latency = receive −
  send on one monotonic clock; EndToEndLatency sends {ej} records one at a time
  and rounds each latency down to whole milliseconds, and its first records
  run while the JVM is still compiling the client, so its p99 is mostly the
  JIT warm-up; bench/E2eLatency.java runs the same loop (send().get(), then
  poll with fetch.max.wait.ms=0, same client jars) on System.nanoTime()
  and counts {eu} records after {ew} sent as warm-up.
- CPU: utime+stime of the broker process from /proc/<pid>/stat over the run,
  divided by the bytes the run produced or consumed (1e9 bytes = 1 GB).
- Memory: /proc/<pid>/status VmRSS (includes mapped file pages) and RssAnon
  (anonymous memory only: heap, stacks; excludes page cache and mapped
  segment files).
- Start-up: process launch to the first answered Metadata request (a raw
  Metadata v4 probe every 2 ms). Kafka's storage format (a separate JVM run)
  is done beforehand and not counted. "holding" data: 1 KB records written by
  rdperf, then a clean stop; recovery: 10% more data, kill -9, restart.
  Data used: {smb} MB (issue target: 10 GB; BENCH_STARTUP_MB sets it).
- Scale: topics of 1,000 partitions created through the Admin API
  (confluent-kafka, 5 topics per CreateTopics: Kafka refuses more than
  10,000 records per request), timed until every partition
  has a leader in Metadata, and until every partition's first segment file
  exists on disk (Kafka's Metadata shows a leader as soon as the controller
  committed the records, before its broker created the logs; Sluice answers
  LEADER_NOT_AVAILABLE until its log exists, so its two figures coincide);
  idle CPU over 10 s after a {pause} s pause; vm.max_map_count = {mmc};
  open-files limit (RLIMIT_NOFILE) of both brokers {nofile}.
  Partition directories of the start-up and scale tests are deleted only at
  the end of the run: ext4 without a journal (this disk) makes inode
  allocation slow for minutes in groups with recently deleted inodes, which
  would penalise whichever broker runs right after a wipe.

## Results
Median of the runs, [min–max] when more than one. n/a gives the reason.

{table}

## The load client's share (why some ratios stop short)
Client and broker share the machine's {cores} cores. The client's CPU is the
rdperf or java process's utime+stime over the run (for Java including JVM
start and the warm-up records), per GB it sent or read; cores busy = that
CPU / the run's wall time; the busiest client thread's CPU over the run's
time (rdperf reads /proc/self/task) shows a client thread at its ceiling. A run bound by CPU cannot beat Kafka by more than
(client_K + broker_K) / (client_S + broker_S) (“ratio if CPU-bound”), and no
broker, however cheap, by more than (client_K + broker_K) / client_S (“ratio
with a free broker”). Rows for rdperf only: the Java tools' process CPU is
mostly the JVM's start-up and JIT at these volumes. Where a client is near its ceiling (librdkafka's
producer uses one thread to build and send batches, its consumer one thread
to parse them; the Java producer one sender thread) the figure measures the
client more than the broker.

The client's ceiling is measured directly too: in each run the same rdperf
command also runs against bench/nullbroker, a Kafka-protocol endpoint that
answers Produce without storing anything and Fetch from batches kept in
memory (no disk, no validation; its own CPU per GB is shown). No broker can
be measured above that figure on this machine, so where “ceiling ÷ Kafka”
is below 2× the 2× throughput target cannot be shown here with this client,
whatever the broker does.

{client_table}

## The latency clients' floor
The same latency commands against bench/nullbroker (which answers a fetch
the moment a produce appends, with no disk or log in between): what the
client, its threads and the machine's scheduling cost on their own. A
broker cannot be measured below this floor here; where “floor ÷ Kafka” is
above 0.2 the 1/5 latency target cannot be shown with that client on this
machine.

{latency_floor_table}

## Against the targets (issue 8)
{targets}
{notes}
""".format(date=time.strftime("%Y-%m-%d %H:%M", time.gmtime()), mode=mode, runs=RUNS,
           dur=time.time() - started, la0=info["load"], la1="%.2f %.2f %.2f" % la,
           cores=info["machine"]["cores"], cpu=info["machine"]["cpu"],
           mem=info["machine"]["mem_mb"], kernel=info["machine"]["kernel"],
           disk=info["machine"]["disk"], kv=info["kafka_version"], sv=info["sluice_version"],
           rdv=info["rdkafka"], java=java_version(), jopts=" ".join(JAVA_OPTS),
           common=", ".join("%s=%s" % kv for kv in COMMON.items()),
           pc=", ".join("%s B: %s" % (k, format(v, ",")) for k, v in PRODUCE_COUNT.items()),
           jpc=", ".join("%s B: %s" % (k, format(v, ",")) for k, v in JAVA_PRODUCE_COUNT.items()),
           cc=format(CONSUME_COUNT, ","), er=E2E_RATE, es=E2E_SECS, ej=E2E_JAVA_COUNT,
           eu=format(E2E_JAVA_US_COUNT, ","), ew=format(E2E_JAVA_US_WARMUP, ","),
           jw=JAVA_WARMUP_TEXT,
           fill=("%.1f GB read over the run" % (FILL.filled / 2**30)) if FILL.enabled
           else "off: BENCH_FILL=0",
           smb=STARTUP_MB, pause=5 if QUICK else 30, mmc=open("/proc/sys/vm/max_map_count").read().strip(),
           nofile=format(NOFILE[0], ",") if NOFILE else "?", kheap=KAFKA_HEAP,
           table=table(), targets=targets() + replication_targets(),
           client_table=client_table(),
           latency_floor_table=latency_floor_table(),
           notes=("\n## Notes\n" + "\n".join("- " + n for n in notes)) if notes else "")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    if ONLY and os.path.exists(OUT):
        text = splice_partial(open(OUT).read(), mode, started, la, notes)
    with open(OUT, "w") as f:
        f.write(text)


def splice_partial(old, mode, started, la, notes):
    """A BENCH_ONLY run keeps the report it finds: its figures go into a
    block of their own, marked by the sections it ran, which replaces the
    block of an earlier run of the same sections (or is added at the end).
    The rest of the file stays the last full run's, so `BENCH_ONLY=replication
    make bench` adds the replicated-cluster figures without wiping the
    single-node ones."""
    key = ",".join(sorted(ONLY))
    begin = "<!-- BENCH_ONLY=%s: begin -->" % key
    end = "<!-- BENCH_ONLY=%s: end -->" % key
    block = """{begin}
## Partial run: {key}
Written by `BENCH_ONLY={key} make bench`: {date} UTC, {mode} mode, {runs} run(s)
per figure, {dur:.0f} s, load average at end {la}. The machine, versions and
method are those above; the settings of these sections are in bench/bench.py
(section_{first}). Median of the runs, [min–max] when more than one.

{table}
{notes}
{end}
""".format(begin=begin, end=end, key=key, date=time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
           mode=mode, runs=RUNS, dur=time.time() - started, la="%.2f %.2f %.2f" % la,
           first=sorted(ONLY)[0], table=table() + "\n" + replication_targets(),
           notes=("\n### Notes\n" + "\n".join("- " + n for n in notes) + "\n") if notes
           else "")
    i, j = old.find(begin), old.find(end)
    if i >= 0 and j > i:
        return old[:i] + block.rstrip("\n") + old[j + len(end):]
    return old.rstrip("\n") + "\n\n" + block


STARTED = []
DEFER_RM = []  # partition dirs removed at the end (see the Scale note)


def raise_nofile():
    """Both brokers get the same open-files limit, as high as this process
    may set: Kafka keeps a file open per segment (its docs ask for 100,000 or
    more), and at 20,000 its 100,000-partition run dies of "Too many open
    files". Raising the hard limit needs CAP_SYS_RESOURCE, which some
    sandboxes drop. Returns the limit the brokers run with."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        want = int(open("/proc/sys/fs/nr_open").read())
    except (OSError, ValueError):
        want = hard
    for lim in (want, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (lim, max(lim, hard)))
            return lim
        except (ValueError, OSError):
            continue
    return soft


NOFILE = []


def cleanup_all():
    FILL.remove()
    for b in STARTED:
        try:
            if b.pid:
                b.stop()
        except Exception:
            pass


def main():
    import atexit
    atexit.register(cleanup_all)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    started = time.time()
    NOFILE.append(raise_nofile())
    os.makedirs(WORK, exist_ok=True)
    open(RESULTS, "w").close()
    la = os.getloadavg()
    info = {"load": "%.2f %.2f %.2f" % la, "machine": machine()}
    rdv = subprocess.run(["pkg-config", "--modversion", "rdkafka"], capture_output=True,
                         text=True).stdout.strip()
    info["rdkafka"] = rdv or "?"
    log("mode %s, %d run(s), load %s" % ("quick" if QUICK else "full", RUNS, info["load"]))
    notes = NOTES
    brokers = {}

    def make(name, tag):
        b = Kafka(tag) if name == "kafka" else Sluice(tag)
        brokers.setdefault(name, b)
        STARTED.append(b)
        return b

    kafka = make("kafka", "kafka")
    sluice = make("sluice", "sluice")
    info["kafka_version"] = kafka.version()
    info["sluice_version"] = sluice.version()
    dead = DEAD
    want = lambda s: not ONLY or s in ONLY
    if want("produce") or want("consume") or want("e2e"):
        for b in (kafka, sluice):
            b.wipe()
            if b.name == "sluice" and not WITH_SLUICE:
                dead[b.name] = "BENCH_SLUICE=0"
                continue
            try:
                log("starting %s" % b.name)
                b.format()
                b.start()
            except Exception as e:
                dead[b.name] = str(e)[:120]
                log("%s: %s" % (b.name, e))
        pair = [kafka, sluice]
        for b in pair:
            if b.name in dead:
                continue
            try:  # fail fast (and say why) when a broker cannot serve the load
                create_topics(b, {"bench-probe": 1}, timeout=30)
                rdperf("produce", b, "bench-probe", s=100, n=10, a="all", timeout=20)
                rdperf("consume", b, "bench-probe", n=10, timeout=20)
            except Exception as e:
                dead[b.name] = str(e)[:150]
                log("%s cannot serve the load: %s" % (b.name, e))
        try:
            section_idle(pair, dead)
            load_rss = fig("memory", "peak during produce+consume", "–", "RSS (VmRSS)", "MB",
                           "lower", "%.0f")
            load_anon = fig("memory", "peak during produce+consume", "–", "RSS anon (RssAnon)",
                            "MB", "lower", "%.0f")
            samplers = {b.name: RssSampler(b.pid) for b in usable(pair)}
            for b in pair:
                if b.name not in samplers:
                    load_rss.fail(b.name, why_not(b))
                    load_anon.fail(b.name, why_not(b))
            if want("produce"):
                log("producer throughput")
                section_produce(pair, samplers)
            if want("consume"):
                log("consumer throughput")
                section_consume(pair)
            for b in pair:
                s = samplers.get(b.name)
                if s:
                    s.stop()
                    load_rss.add(b.name, s.peak_rss / 1024)
                    load_anon.add(b.name, s.peak_anon / 1024)
            if want("e2e"):
                log("end-to-end latency")
                section_e2e(pair)
            for b in pair:
                if b.pid and not b.alive():
                    notes.append("%s died during the load sections" % b.name)
        finally:
            for b in pair:
                if b.pid:
                    b.stop()
    if want("startup"):
        section_startup(make)
    if want("scale"):
        section_scale(make)
    if want("cluster"):
        log("cluster: three nodes of each")
        section_cluster()
    if want("replication"):
        log("replication: three nodes of each")
        section_replication()
    for d in DEFER_RM:
        shutil.rmtree(d, ignore_errors=True)
    print(table())
    print()
    print(client_table())
    print()
    print(latency_floor_table())
    print()
    print(targets())
    write_report(info, started, notes)
    log("report written to %s" % os.path.relpath(OUT, ROOT))


if __name__ == "__main__":
    main()
