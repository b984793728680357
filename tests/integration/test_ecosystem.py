"""The Kafka ecosystem programs that run on the client protocol, started as a
new user starts them, from Maven Central's Apache Kafka 4.3.1 jars
(scripts/ecosystem.sh install -> build/ecosystem/libs):

- Kafka Streams: the examples' WordCountDemo with processing.guarantee=
  exactly_once_v2, kill -9'ed once mid-way and restarted; the committed
  output holds every word's counts 1, 2, ..., n exactly once.
- Kafka Connect standalone with the file connectors (FileStreamSource ->
  topic -> FileStreamSink), stopped and restarted: the sink file has exactly
  the source file's lines.
- Kafka Connect distributed (config/offset/status topics, exactly-once source
  support) driven through its REST API: connectors and tasks RUNNING, data
  flows source file -> topic -> sink file; KIP-875 offsets API. A worker
  kill -9'ed under exactly-once source support: every line once in the topic.
- MirrorMaker 2 (dedicated mode) between two brokers: the replicated topic
  A.<topic> equals the source, A.checkpoints.internal holds the group's
  translated offsets, and the group synced to the target resumes there
  without reprocessing or loss.
"""

import collections
import json
import os
import random
import signal
import struct
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import harness

ECO_SH = os.path.join(harness.ROOT, "scripts", "ecosystem.sh")


@pytest.fixture(scope="module")
def eco():
    r = subprocess.run([ECO_SH, "install"], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        pytest.skip("scripts/ecosystem.sh install failed: %s" % r.stderr.strip()[-300:])


class App:
    """One ecosystem JVM (scripts/ecosystem.sh run <class> args), its output
    appended to log_path."""

    def __init__(self, cls, args, log_path):
        self.cls, self.args, self.log_path = cls, [str(a) for a in args], log_path
        self.proc = None

    def start(self):
        out = open(self.log_path, "ab")
        out.write(("\n=== %s %s\n" % (self.cls, " ".join(self.args))).encode())
        out.flush()
        self.proc = subprocess.Popen([ECO_SH, "run", self.cls] + self.args,
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=60):
        """SIGTERM (the programs' shutdown hooks close them cleanly)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("%s ignored SIGTERM for %ss" % (self.cls, timeout))

    def kill9(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def tail(self, n=60):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


@pytest.fixture
def apps(eco):
    made = []

    def start(cls, args, log_path):
        a = App(cls, args, log_path).start()
        made.append(a)
        return a

    yield start
    for a in made:
        a.kill9()


def write_props(path, props):
    with open(path, "w") as f:
        for k, v in props.items():
            f.write("%s=%s\n" % (k, v))
    return str(path)


def wait_app(app, pred, timeout, what):
    """wait_for that fails at once, with the program's output, if it died.
    what: a description, or a function returning one (called on failure)."""
    def check():
        if not app.alive():
            raise AssertionError("%s exited (%s) while waiting for %s:\n%s" % (
                app.cls, app.proc.returncode, what() if callable(what) else what, app.tail()))
        return pred()
    deadline = time.monotonic() + timeout
    while True:
        v = check()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %ss waiting for %s\n--- %s output:\n%s" % (
                timeout, what() if callable(what) else what, app.cls, app.tail()))
        time.sleep(0.5)


def file_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def append_lines(path, lines):
    with open(path, "a", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


# --------------------------------------------------------------------------
# Kafka Streams

WORDCOUNT = "org.apache.kafka.streams.examples.wordcount.WordCountDemo"
WC_IN, WC_OUT = "streams-plaintext-input", "streams-wordcount-output"


def read_counts(bootstrap):
    """Every committed record of the word count's output topic, read from the
    beginning with read_committed up to each partition's end (its last
    stable offset): {word: [count, count, ...]} in offset order."""
    import confluent_kafka as ck
    c = harness.consumer(bootstrap, **{"isolation.level": "read_committed",
                                       "enable.partition.eof": True})
    try:
        parts = sorted(c.list_topics(WC_OUT, timeout=20).topics[WC_OUT].partitions)
        c.assign([ck.TopicPartition(WC_OUT, p, ck.OFFSET_BEGINNING) for p in parts])
        seqs = collections.defaultdict(list)
        eof = set()
        deadline = time.monotonic() + 30
        while len(eof) < len(parts):
            assert time.monotonic() < deadline, "no end of %s after 30 s" % WC_OUT
            for m in c.consume(1000, timeout=0.3):
                if m.error():
                    if m.error().code() == ck.KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                        continue
                    raise AssertionError("consume error: %s" % m.error())
                seqs[m.key().decode()].append(struct.unpack(">q", m.value())[0])
        return seqs
    finally:
        c.close()


def test_streams_wordcount_exactly_once_with_kill(broker, apps, tmp_path):
    """WordCountDemo, exactly_once_v2: kill -9 mid-way, more input while it
    is down, restart; the output read with read_committed has, for every
    word, the counts 1..n once each (a lost or duplicated input record, an
    aborted transaction's update that became visible, or a count not
    restored from the changelog breaks the sequence)."""
    b = broker
    seed = int(os.environ.get("ECO_SEED", random.randrange(1 << 30)))
    print("ECO_SEED=%d" % seed)
    rnd = random.Random(seed)
    harness.create_topic(b.bootstrap, WC_IN, partitions=2)
    harness.create_topic(b.bootstrap, WC_OUT, partitions=2)
    vocab = ["w%02d" % i for i in range(40)]
    lines = [" ".join(rnd.choice(vocab) for _ in range(6)) for _ in range(3800)]
    expect = collections.Counter(w for line in lines for w in line.split())
    # The third part arrives while the application is down: the restarted
    # instance must restore its counts from the changelog and go on.
    first, second, third = lines[:500], lines[500:3500], lines[3500:]

    props = write_props(tmp_path / "streams.properties", {
        "application.id": "wordcount",
        "bootstrap.servers": b.bootstrap,
        "processing.guarantee": "exactly_once_v2",
        "commit.interval.ms": "200",
        "state.dir": str(tmp_path / "state"),
        # A kill -9'ed member leaves the group after this (broker minimum).
        "session.timeout.ms": "6000",
        "heartbeat.interval.ms": "1000",
        # Consumed repartition records are deleted (DeleteRecords) this often.
        "repartition.purge.interval.ms": "1000",
    })
    log = str(tmp_path / "streams.out")
    harness.produce(b.bootstrap, WC_IN, [{"value": v, "partition": i % 2}
                                         for i, v in enumerate(first)])
    app = apps(WORDCOUNT, [props], log)
    n_first = sum(len(v.split()) for v in first)
    wait_app(app, lambda: sum(map(len, read_counts(b.bootstrap).values())) >= n_first // 2,
             90, "word count output of the first part")
    # Kill it while it works through the second part.
    harness.produce(b.bootstrap, WC_IN, [{"value": v, "partition": i % 2}
                                         for i, v in enumerate(second)])
    time.sleep(rnd.uniform(0.2, 1.5))
    killed = app.alive()
    app.kill9()
    done = sum(map(len, read_counts(b.bootstrap).values()))
    print("killed: %s, with %d of %d updates committed" % (
        killed, done, 6 * (len(first) + len(second))))
    harness.produce(b.bootstrap, WC_IN, [{"value": v, "partition": i % 2}
                                         for i, v in enumerate(third)])
    app = apps(WORDCOUNT, [props], log)

    def finished():
        seqs = read_counts(b.bootstrap)
        return seqs if all(seqs.get(w, [0])[-1] >= n for w, n in expect.items()) else None
    wait_app(app, finished, 90, "final word counts")
    repartition = "wordcount-KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition"
    wait_app(app, lambda: any(harness.watermarks(b.bootstrap, repartition, p)[0] > 0
                              for p in (0, 1)), 30, "the repartition topic purged")
    app.stop()
    seqs = read_counts(b.bootstrap)
    bad = {w: seqs.get(w) for w, n in expect.items() if seqs.get(w) != list(range(1, n + 1))}
    assert not bad, "seed %d: words whose committed counts are not 1..n: %s" % (
        seed, {w: (expect[w], s if s is None or len(s) < 12 else s[:3] + ["..."] + s[-3:])
               for w, s in list(bad.items())[:5]})
    assert set(seqs) == set(expect)


# --------------------------------------------------------------------------
# Kafka Connect

STANDALONE = "org.apache.kafka.connect.cli.ConnectStandalone"
DISTRIBUTED = "org.apache.kafka.connect.cli.ConnectDistributed"
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
STRING_CONV = "org.apache.kafka.connect.storage.StringConverter"


def worker_props(bootstrap, **extra):
    p = {"bootstrap.servers": bootstrap,
         "key.converter": STRING_CONV, "value.converter": STRING_CONV,
         "offset.flush.interval.ms": "1000",
         # The jars on the class path carry ServiceLoader manifests: no scan.
         "plugin.discovery": "service_load"}
    p.update(extra)
    return p


def test_connect_standalone_file_connectors(broker, apps, tmp_path):
    b = broker
    topic = harness.unique_topic("connect")
    src, sink = str(tmp_path / "source.txt"), str(tmp_path / "sink.txt")
    # ASCII: FileStreamSourceTask stores its file position in characters and
    # skips that many bytes on a restart.
    lines = ["line %d %s" % (i, "x" * (i % 200)) for i in range(500)]
    append_lines(src, lines)
    worker = write_props(tmp_path / "worker.properties", worker_props(
        b.bootstrap, **{"offset.storage.file.filename": str(tmp_path / "connect.offsets")}))
    source = write_props(tmp_path / "source.properties", {
        "name": "file-source", "connector.class": FILE_SOURCE, "tasks.max": "1",
        "file": src, "topic": topic})
    sinkp = write_props(tmp_path / "sink.properties", {
        "name": "file-sink", "connector.class": FILE_SINK, "tasks.max": "1",
        "file": sink, "topics": topic})
    log = str(tmp_path / "connect.out")
    app = apps(STANDALONE, [worker, source, sinkp], log)
    wait_app(app, lambda: len(file_lines(sink)) >= len(lines), 90, "the sink file")
    more = ["more %d" % i for i in range(100)]
    append_lines(src, more)
    lines += more
    wait_app(app, lambda: len(file_lines(sink)) >= len(lines), 60, "appended lines")
    app.stop()
    # Restarted, the source resumes at its stored file offset and the sink at
    # its group's committed offset: nothing again, nothing lost.
    later = ["after restart %d" % i for i in range(100)]
    append_lines(src, later)
    lines += later
    app = apps(STANDALONE, [worker, source, sinkp], log)
    wait_app(app, lambda: len(file_lines(sink)) >= len(lines), 90, "lines after the restart")
    time.sleep(2)
    app.stop()
    assert file_lines(sink) == lines
    recs = harness.consume(b.bootstrap, topic, len(lines))
    assert [m.value().decode() for m in recs] == lines


def rest(port, method, path, body=None, timeout=10):
    """(status, decoded JSON or text) of a Connect REST call."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 method=method, headers={"Content-Type": "application/json",
                                                         "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError):
        return None, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def running(port, name):
    st, s = rest(port, "GET", "/connectors/%s/status" % name)
    if st != 200:
        return None
    ok = s["connector"]["state"] == "RUNNING" and s["tasks"] and all(
        t["state"] == "RUNNING" for t in s["tasks"])
    return s if ok else None


def test_connect_distributed_rest_file_connectors(broker, apps, tmp_path):
    """A distributed worker (group, config/offset/status topics it creates,
    exactly-once source support: transactional producers and fencing) takes
    connectors through its REST API."""
    b = broker
    port = harness.free_port()
    topic = harness.unique_topic("dconnect")
    src, sink = str(tmp_path / "source.txt"), str(tmp_path / "sink.txt")
    lines = ["record %d" % i for i in range(1000)]
    append_lines(src, lines)
    worker = write_props(tmp_path / "worker.properties", worker_props(
        b.bootstrap, **{
            "group.id": "connect-cluster",
            "config.storage.topic": "connect-configs",
            "offset.storage.topic": "connect-offsets",
            "status.storage.topic": "connect-status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "offset.storage.partitions": "3",
            "status.storage.partitions": "2",
            "exactly.once.source.support": "enabled",
            "listeners": "http://127.0.0.1:%d" % port,
            "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}))
    log = str(tmp_path / "connect.out")
    app = apps(DISTRIBUTED, [worker], log)
    wait_app(app, lambda: rest(port, "GET", "/connectors")[0] == 200, 90, "the REST API")

    def create(name, config):
        def post():
            st, r = rest(port, "POST", "/connectors", {"name": name, "config": config})
            if st in (200, 201):
                return True
            # 409: the worker is still joining its group; try again.
            assert st in (None, 409, 500), "POST /connectors %s: %s %s" % (name, st, r)
            return False
        wait_app(app, post, 60, "connector %s created" % name)

    create("file-source", {"connector.class": FILE_SOURCE, "tasks.max": "1", "file": src,
                           "topic": topic, "exactly.once.support": "required"})
    create("file-sink", {"connector.class": FILE_SINK, "tasks.max": "1", "file": sink,
                         "topics": topic, "consumer.override.isolation.level": "read_committed"})
    wait_app(app, lambda: running(port, "file-source") and running(port, "file-sink"), 60,
             "connectors RUNNING")
    st, names = rest(port, "GET", "/connectors")
    assert st == 200 and sorted(names) == ["file-sink", "file-source"]
    wait_app(app, lambda: len(file_lines(sink)) >= len(lines), 60, "the sink file")
    more = ["more %d" % i for i in range(200)]
    append_lines(src, more)
    lines += more
    wait_app(app, lambda: len(file_lines(sink)) >= len(lines), 60, "appended lines")
    time.sleep(2)
    assert running(port, "file-source") and running(port, "file-sink")
    assert file_lines(sink) == lines
    # The internal topics exist as Connect asked for them (compacted).
    a = harness.admin(b.bootstrap)
    md = a.list_topics(timeout=20)
    assert len(md.topics["connect-offsets"].partitions) == 3
    assert len(md.topics["connect-status"].partitions) == 2
    assert len(md.topics["connect-configs"].partitions) == 1
    from confluent_kafka.admin import ConfigResource
    for t in ("connect-offsets", "connect-configs", "connect-status"):
        cfg = a.describe_configs([ConfigResource("topic", t)])
        entries = list(cfg.values())[0].result(20)
        assert entries["cleanup.policy"].value == "compact", t
    # The source's records were written in transactions.
    recs = harness.consume(b.bootstrap, topic, len(lines), **{"isolation.level": "read_committed"})
    assert [m.value().decode() for m in recs] == lines

    # KIP-875 offsets API: the source's file position (from the offsets
    # topic), the sink's (its consumer group's committed offset).
    def offsets(name):
        st, r = rest(port, "GET", "/connectors/%s/offsets" % name)
        assert st == 200, (name, st, r)
        return r["offsets"]

    def state(name, want):
        st, s = rest(port, "GET", "/connectors/%s/status" % name)
        return st == 200 and s["connector"]["state"] == want
    size = os.path.getsize(src)
    wait_app(app, lambda: offsets("file-source") == [
        {"partition": {"filename": src}, "offset": {"position": size}}], 30,
        lambda: "source offsets %s" % offsets("file-source"))
    assert rest(port, "PUT", "/connectors/file-sink/stop")[0] in (202, 204)
    wait_app(app, lambda: state("file-sink", "STOPPED"), 30, "the sink STOPPED")
    # (past the last record; the transactions' markers take offsets too)
    assert offsets("file-sink") == [{"partition": {"kafka_topic": topic, "kafka_partition": 0},
                                     "offset": {"kafka_offset": recs[-1].offset() + 1}}]
    # Reset: the sink's group goes away; resumed, it reads the topic again.
    st, r = rest(port, "DELETE", "/connectors/file-sink/offsets")
    assert st == 200, r
    assert offsets("file-sink") == []
    assert rest(port, "PUT", "/connectors/file-sink/resume")[0] in (202, 204)
    wait_app(app, lambda: len(file_lines(sink)) >= 2 * len(lines), 60, "the topic sunk again")
    time.sleep(1)
    assert file_lines(sink) == lines + lines
    st, _ = rest(port, "DELETE", "/connectors/file-source")
    assert st in (200, 204)
    app.stop()


def read_committed_values(bootstrap, topic):
    """Every committed value of partition 0 of topic, up to its end."""
    import confluent_kafka as ck
    c = harness.consumer(bootstrap, **{"isolation.level": "read_committed",
                                       "enable.partition.eof": True})
    try:
        c.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
        out = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ms = c.consume(10000, timeout=0.5)
            if any(m.error() and m.error().code() == ck.KafkaError._PARTITION_EOF for m in ms):
                out += [m.value().decode() for m in ms if not m.error()]
                return out
            for m in ms:
                if m.error():
                    raise AssertionError("consume error: %s" % m.error())
                out.append(m.value().decode())
        raise AssertionError("no end of %s after 30 s" % topic)
    finally:
        c.close()


# A kill between a transaction's offset record and its commit marker leaves
# that transaction open in the offsets topic, and the restarted worker reads
# that topic (read_committed) to its end before it joins its group: it waits
# for the transaction's timeout (5 s below, 60 s by default) plus the
# broker's abort pass (1 s here, 10 s by default).
@pytest.mark.broker_config({"transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000"})
def test_connect_distributed_exactly_once_source_worker_killed(broker, apps, tmp_path):
    """Exactly-once source support survives a worker crash: the worker is
    kill -9'ed while the file source writes its transactions; the restarted
    worker fences the dead one's producer and resumes from the offset
    committed with the last transaction. read_committed readers see every
    line once, in order."""
    b = broker
    port = harness.free_port()
    topic = harness.unique_topic("eosconnect")
    src = str(tmp_path / "source.txt")
    lines = ["line %d" % i for i in range(100000)]
    append_lines(src, lines)
    worker = write_props(tmp_path / "worker.properties", worker_props(
        b.bootstrap, **{
            "group.id": "connect-eos",
            "config.storage.topic": "connect-eos-configs",
            "offset.storage.topic": "connect-eos-offsets",
            "status.storage.topic": "connect-eos-status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "exactly.once.source.support": "enabled",
            "listeners": "http://127.0.0.1:%d" % port,
            "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}))
    log = str(tmp_path / "connect.out")
    app = apps(DISTRIBUTED, [worker], log)
    wait_app(app, lambda: rest(port, "GET", "/connectors")[0] == 200, 90, "the REST API")

    def post():
        st, r = rest(port, "POST", "/connectors", {"name": "file-source", "config": {
            "connector.class": FILE_SOURCE, "tasks.max": "1", "file": src, "topic": topic,
            "exactly.once.support": "required", "batch.size": "100",
            "producer.override.transaction.timeout.ms": "5000"}})
        assert st in (None, 200, 201, 409, 500), "POST /connectors: %s %s" % (st, r)
        return st in (200, 201)
    wait_app(app, post, 60, "the connector created")

    def end():
        try:
            return harness.watermarks(b.bootstrap, topic)[1]
        except Exception:
            return 0
    wait_app(app, lambda: end() > 20000, 60, "the source under way")
    app.kill9()
    print("worker killed at end offset %d" % end())
    app = apps(DISTRIBUTED, [worker], log)
    wait_app(app, lambda: running(port, "file-source"), 90, "the connector RUNNING again")
    got = wait_app(app, lambda: (lambda v: v if len(v) >= len(lines) else None)(
        read_committed_values(b.bootstrap, topic)), 90, "every line in %s" % topic)
    time.sleep(2)
    got = read_committed_values(b.bootstrap, topic)
    assert len(got) == len(lines) and len(set(got)) == len(got)
    assert got == lines, "first difference at line %d" % next(
        i for i, (x, y) in enumerate(zip(got, lines)) if x != y)
    app.stop()


# --------------------------------------------------------------------------
# MirrorMaker 2

MIRROR_MAKER = "org.apache.kafka.connect.mirror.MirrorMaker"


def parse_checkpoint(key, value):
    """MM2's Checkpoint record: key {group, topic: string16, partition: int32},
    value {version: int16, upstreamOffset, offset: int64, metadata: string16}."""
    gl = struct.unpack(">h", key[:2])[0]
    group = key[2:2 + gl].decode()
    o = 2 + gl
    tl = struct.unpack(">h", key[o:o + 2])[0]
    topic = key[o + 2:o + 2 + tl].decode()
    part = struct.unpack(">i", key[o + 2 + tl:o + 6 + tl])[0]
    _, upstream, downstream = struct.unpack(">hqq", value[:18])
    return group, topic, part, upstream, downstream


def group_offsets(bootstrap, group, topic, parts):
    import confluent_kafka as ck
    c = harness.consumer(bootstrap, group=group)
    try:
        got = c.committed([ck.TopicPartition(topic, p) for p in parts], timeout=20)
        return {tp.partition: tp.offset for tp in got}
    finally:
        c.close()


def test_mirror_maker2_topics_checkpoints_offset_translation(broker_factory, apps, tmp_path):
    src = broker_factory(name="A")
    dst = broker_factory(name="B")
    topic = harness.unique_topic("mm")
    group = "mm-group"
    harness.create_topic(src.bootstrap, topic, partitions=2,
                         config={"retention.ms": "86400000", "max.message.bytes": "2000000"})
    first = [{"key": "k%d" % i, "value": "v%d" % i, "partition": i % 2,
              "headers": [("h", b"%d" % i)]} for i in range(600)]
    harness.produce(src.bootstrap, topic, first)
    # The group reads everything there is and commits: 300 per partition.
    import confluent_kafka as ck
    c = harness.consumer(src.bootstrap, group=group)
    c.subscribe([topic])
    n = 0
    deadline = time.monotonic() + 60
    while n < len(first) and time.monotonic() < deadline:
        n += len([m for m in c.consume(500, timeout=0.5) if not m.error()])
    assert n == len(first)
    c.commit(asynchronous=False)
    c.close()
    assert group_offsets(src.bootstrap, group, topic, [0, 1]) == {0: 300, 1: 300}

    props = write_props(tmp_path / "mm2.properties", {
        "clusters": "A, B",
        "A.bootstrap.servers": src.bootstrap,
        "B.bootstrap.servers": dst.bootstrap,
        "A->B.enabled": "true",
        "A->B.topics": topic,
        "A->B.groups": group,
        "B->A.enabled": "false",
        "replication.factor": "1",
        "checkpoints.topic.replication.factor": "1",
        "heartbeats.topic.replication.factor": "1",
        "offset-syncs.topic.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "status.storage.replication.factor": "1",
        "config.storage.replication.factor": "1",
        "emit.checkpoints.interval.seconds": "1",
        "emit.heartbeats.interval.seconds": "1",
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": "1",
        "refresh.topics.interval.seconds": "1",
        "refresh.groups.interval.seconds": "1",
        # Worker settings go to each herder through its target cluster's
        # prefix (MirrorMakerConfig.workerConfig ignores top-level ones). The
        # offset flush also sends the source task's delayed offset syncs: at
        # the default 60 s, the group's offsets at the end of the topic would
        # stay translated to the previous sync for a minute.
        "A.offset.flush.interval.ms": "1000",
        "B.offset.flush.interval.ms": "1000",
        "A.plugin.discovery": "service_load",
        "B.plugin.discovery": "service_load",
    })
    log = str(tmp_path / "mm2.out")
    app = apps(MIRROR_MAKER, [props], log)
    remote = "A." + topic

    def mirrored(count):
        def check():
            md = harness.admin(dst.bootstrap).list_topics(timeout=10)
            if remote not in md.topics or md.topics[remote].error is not None:
                return False
            return sum(harness.watermarks(dst.bootstrap, remote, p)[1] for p in (0, 1)) >= count
        return check
    wait_app(app, mirrored(len(first)), 90, "%s on the target" % remote)
    # The group's offsets translated and synced to the target (it has no
    # members there).
    seen = []

    def synced():
        seen[:] = [group_offsets(dst.bootstrap, group, remote, [0, 1])]
        return seen[0] == {0: 300, 1: 300}
    def dump_syncs():
        import confluent_kafka as ck
        c = harness.consumer(src.bootstrap)
        c.assign([ck.TopicPartition("mm2-offset-syncs.B.internal", 0, ck.OFFSET_BEGINNING)])
        out = [(m.offset(), m.key(), m.value().hex()) for m in c.consume(1000, timeout=3) if not m.error()]
        c.close()
        return "\n".join(map(str, out))
    wait_app(app, synced, 60, lambda: "the group's offsets synced to the target (last: %s)\n%s"
             % (seen, dump_syncs()))

    # What kafka-consumer-groups shows on the target: caught up, no lag.
    r = harness.kafka_tool("kafka-consumer-groups", ["--bootstrap-server", dst.bootstrap,
                                                     "--describe", "--group", group])
    rows = {int(f[2]): tuple(f[3:6]) for f in (line.split() for line in r.stdout.splitlines())
            if len(f) >= 6 and f[0] == group and f[1] == remote}
    assert rows == {0: ("300", "300", "0"), 1: ("300", "300", "0")}, r.stdout

    # More records after the sync: the group has not read them yet.
    second = [{"key": "k%d" % i, "value": "v%d" % i, "partition": i % 2,
               "headers": [("h", b"%d" % i)]} for i in range(600, 1000)]
    harness.produce(src.bootstrap, topic, second)
    wait_app(app, mirrored(1000), 60, "the second batch on the target")
    cps = {}

    def checkpoints():
        cc = harness.consumer(dst.bootstrap, **{"enable.partition.eof": True})
        try:
            cc.assign([ck.TopicPartition("A.checkpoints.internal", 0, ck.OFFSET_BEGINNING)])
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                ms = cc.consume(500, timeout=0.5)
                if any(m.error() and m.error().code() == ck.KafkaError._PARTITION_EOF
                       for m in ms):
                    break
                for m in ms:
                    if not m.error():
                        g, t, p, up, down = parse_checkpoint(m.key(), m.value())
                        cps[(g, t, p)] = (up, down)
        finally:
            cc.close()
        # Keyed by the target's (remote) topic name.
        return all(cps.get((group, remote, p)) == (300, 300) for p in (0, 1))
    wait_app(app, checkpoints, 30, "checkpoints of %s in A.checkpoints.internal" % group)

    # The remote topic got the source topic's configs, and follows its
    # partition count.
    from confluent_kafka.admin import ConfigResource, NewPartitions
    dst_admin, src_admin = harness.admin(dst.bootstrap), harness.admin(src.bootstrap)
    cfg = list(dst_admin.describe_configs([ConfigResource("topic", remote)]).values())[0]
    cfg = cfg.result(20)
    assert (cfg["retention.ms"].value, cfg["max.message.bytes"].value) == ("86400000", "2000000")
    src_admin.create_partitions([NewPartitions(topic, 3)])[topic].result(20)

    def three():
        md = dst_admin.list_topics(remote, timeout=10)
        return len(md.topics[remote].partitions) == 3
    wait_app(app, three, 30, "%s grown to 3 partitions" % remote)
    app.stop()
    assert set(cps) == {(group, remote, 0), (group, remote, 1)}, cps

    # The replicated topic is the source, record for record.
    def records(bootstrap, t):
        ms = harness.consume(bootstrap, t, 1000)
        return sorted((m.partition(), m.offset(), m.key(), m.value(), tuple(m.headers() or ()))
                      for m in ms)
    assert records(dst.bootstrap, remote) == records(src.bootstrap, topic)

    # The group resumes on the target where it left off on the source.
    c = harness.consumer(dst.bootstrap, group=group)
    c.subscribe([remote])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < len(second) and time.monotonic() < deadline:
        got += [m.value().decode() for m in c.consume(500, timeout=0.5) if not m.error()]
    extra = c.consume(100, timeout=2)
    c.close()
    assert not [m for m in extra if not m.error()]
    assert sorted(got) == sorted(m["value"] for m in second)
