"""KRaft metadata snapshots on a three-node quorum (config/cluster, as
test_quorum_cluster.py starts it) with low snapshot and retention settings
(metadata.log.max.record.bytes.between.snapshots, a small
internal.metadata.log.segment.bytes and metadata.max.retention.bytes):
  - after enough metadata changes every node writes
    <20-digit offset>-<10-digit epoch>.checkpoint in __cluster_metadata-0;
  - Apache Kafka's kafka-dump-log --cluster-metadata-decoder reads the
    snapshot (listing our topics) and the log segments;
  - a restarted node loads its latest snapshot (the topics are still there);
  - a node stopped while the others' log start moves past its log end
    catches up by FetchSnapshot when it comes back, and serves Metadata
    with every topic.
On Kafka (SLUICE_TARGET=kafka) the same three files run as three Apache
Kafka 4.x nodes and the same checks hold on Kafka's own files; the checks
of Sluice's log lines (which snapshot was loaded or installed) are skipped
there."""

import glob
import os
import re
import signal
import struct
import subprocess
import time

import pytest

import harness
from test_quorum_cluster import NODES, Cluster
from toolcli import kafka

SLUICE = harness.TARGET == "sluice"

SETTINGS = """
metadata.log.max.record.bytes.between.snapshots=2048
internal.metadata.log.segment.bytes=16384
metadata.max.retention.bytes=1
"""


class KafkaCluster(Cluster):
    """The same files run by Apache Kafka (formatted once with one id)."""

    def __init__(self, tmp_path):
        super().__init__(tmp_path)
        self.cid = subprocess.run([harness.KAFKA_SH, "tool", "kafka-storage", "random-uuid"],
                                  capture_output=True, text=True,
                                  check=True).stdout.strip()
        self.cp = subprocess.run([harness.KAFKA_SH, "classpath"], capture_output=True,
                                 text=True, check=True).stdout.strip()
        self.formatted = set()

    def start(self, n):
        if n not in self.formatted:
            harness.kafka_tool("kafka-storage", ["format", "-t", self.cid, "-c",
                                                 str(self.files[n])])
            self.formatted.add(n)
        logs = self.tmp / ("logs-%d" % n)
        logs.mkdir(exist_ok=True)
        out = open(str(self.tmp / ("node-%d.log" % n)), "ab")
        cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
               "-Dkafka.logs.dir=%s" % logs,
               "-Dlog4j2.configurationFile=%s" % os.path.join(
                   harness.ROOT, "build", "kafka", "log4j2-broker.xml"),
               "-cp", self.cp, "kafka.Kafka", str(self.files[n])]
        self.procs[n] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def leader(self, alive, timeout):
        """DescribeQuorum through one live node (any Kafka broker answers
        it with the quorum's leader), once every live node answers."""
        def up():
            for n in alive:
                assert self.procs[n].poll() is None, "node %d exited" % n
            return all(harness.api_versions_probe("127.0.0.1", self.ports[n]) == 0
                       for n in alive)
        harness.wait_for(up, timeout, interval=1, what="Kafka nodes %s answering" % (alive,))
        got = []

        def agreed():
            try:
                st = self.status(alive[0])
            except Exception:  # the tool's own timeout while the quorum forms
                return False
            if st and int(st["LeaderId"]) in alive:
                got.append(int(st["LeaderId"]))
                return True
            return False
        harness.wait_for(agreed, timeout, interval=1, what="a Kafka leader")
        return got[-1]


def meta_dir(c, n):
    return str(c.tmp / ("data-%d" % n) / "__cluster_metadata-0")


def checkpoints(c, n):
    return sorted(glob.glob(os.path.join(meta_dir(c, n), "*.checkpoint")))


def segments(c, n):
    return sorted(glob.glob(os.path.join(meta_dir(c, n), "*.log")))


def log_start(c, n):
    """The base offset of the first segment (segments wholly below the log
    start are deleted)."""
    segs = segments(c, n)
    return int(os.path.basename(segs[0])[:20]) if segs else 0


def log_end(c, n):
    """The offset after the last batch of the last non-empty segment."""
    end = 0
    for path in segments(c, n):
        data = open(path, "rb").read()
        pos = 0
        while pos + 27 <= len(data):
            base, length = struct.unpack(">qi", data[pos:pos + 12])
            if length <= 0 or pos + 12 + length > len(data):
                break
            (delta,) = struct.unpack(">i", data[pos + 23:pos + 27])
            end = max(end, base + delta + 1)
            pos += 12 + length
    return end


def create_many(addr, prefix, n):
    """n topics, ten a request (Kafka writes one request's records as one
    batch, which must fit a segment)."""
    from confluent_kafka.admin import NewTopic
    names = ["%s-%03d" % (prefix, i) for i in range(n)]
    a = harness.admin(addr)
    for i in range(0, n, 10):
        todo = names[i:i + 10]
        for attempt in range(20):
            fs = a.create_topics([NewTopic(t, num_partitions=1, replication_factor=1)
                                  for t in todo], operation_timeout=30, request_timeout=30)
            retry = []
            for t, f in fs.items():
                try:
                    f.result(30)
                except Exception as e:
                    # a leader change under load: NOT_CONTROLLER, which
                    # Kafka's own AdminClient retries
                    if "already exists" in str(e):
                        continue
                    if "NOT_CONTROLLER" not in str(e) or attempt == 19:
                        raise
                    retry.append(t)
            if not retry:
                break
            todo = retry
            time.sleep(0.5)
    return names


def topics_on(c, n):
    """The topics node n's Metadata lists (none while it cannot answer)."""
    try:
        return set(harness.admin(c.addr(n)).list_topics(timeout=10).topics)
    except Exception:  # a node still starting: KafkaException on timeout
        return set()


def test_snapshots_dump_log_restart_and_fetch_snapshot(tmp_path):
    c = Cluster(tmp_path) if SLUICE else KafkaCluster(tmp_path)
    wait = 30 if SLUICE else 180
    for n in NODES:
        with open(str(c.files[n]), "a") as f:
            f.write(SETTINGS)
    try:
        for n in NODES:
            c.start(n)
        leader = c.leader(NODES, wait)
        c.registered(NODES, wait)  # placement needs registered brokers
        first = create_many(c.addr(leader), harness.unique_topic("s1"), 40)

        # every node snapshots its own committed image
        harness.wait_for(lambda: all(checkpoints(c, n) for n in NODES), wait,
                         what="a .checkpoint on every node")
        for n in NODES:
            for p in checkpoints(c, n):
                assert re.fullmatch(r"\d{20}-\d{10}\.checkpoint", os.path.basename(p)), p

        # Kafka's own tool decodes the snapshot (our topics in it) and the log
        snap = checkpoints(c, leader)[-1]
        r = kafka("dump-log", "--cluster-metadata-decoder", "--files", snap)
        assert r.returncode == 0, r.stderr
        assert "SnapshotHeader" in r.stdout and "SnapshotFooter" in r.stdout, r.stdout[-2000:]
        assert '"type":"TOPIC_RECORD"' in r.stdout
        assert sum(1 for t in first if '"name":"%s"' % t in r.stdout) >= 10, r.stdout[-3000:]
        assert "isvalid: false" not in r.stdout
        r = kafka("dump-log", "--cluster-metadata-decoder", "--files", segments(c, leader)[-1])
        assert r.returncode == 0, r.stderr
        assert "isvalid: false" not in r.stdout

        # a restarted follower loads its latest snapshot, then the log
        f1 = next(n for n in NODES if n != leader)
        c.procs[f1].send_signal(signal.SIGTERM)
        c.procs[f1].wait(30)
        c.start(f1)
        if SLUICE:  # which snapshot a node loaded: Sluice's own log line
            harness.wait_for(lambda: "loaded metadata snapshot" in c.log(f1), 30,
                             what="node %d loading its snapshot" % f1)
        harness.wait_for(lambda: set(first) <= topics_on(c, f1), wait,
                         what="the topics on the restarted node")

        # the other follower is stopped; the leader's log start moves past
        # its end; it comes back and installs the leader's snapshot
        f2 = next(n for n in NODES if n not in (leader, f1))
        c.procs[f2].send_signal(signal.SIGTERM)
        c.procs[f2].wait(30)
        end = log_end(c, f2)
        made = list(first)

        def can_pass():
            """A snapshot lies above a segment boundary above f2's end: the
            log start can move past it."""
            ck = checkpoints(c, leader)
            top = int(os.path.basename(ck[-1])[:20]) if ck else 0
            return any(end < int(os.path.basename(p)[:20]) <= top for p in segments(c, leader))
        for round in range(40):
            if can_pass():
                break
            made += create_many(c.addr(leader), harness.unique_topic("s2"), 20)
        # Sluice checks retention every second, Kafka every 60 s
        # (KafkaRaftClient's RaftMetadataLogCleanerManager)
        harness.wait_for(lambda: log_start(c, leader) > end, 30 if SLUICE else 150, interval=1,
                         what="the leader's log start past %d" % end)
        c.start(f2)
        if SLUICE:
            harness.wait_for(lambda: "installed the leader's snapshot" in c.log(f2), 60,
                             what="node %d installing the leader's snapshot" % f2)
        harness.wait_for(lambda: set(made) <= topics_on(c, f2), wait,
                         what="every topic on node %d" % f2)
        # and it follows the log after the snapshot
        late = create_many(c.addr(leader), harness.unique_topic("s3"), 3)
        harness.wait_for(lambda: set(late) <= topics_on(c, f2), wait,
                         what="new topics on node %d" % f2)
        for n in NODES:
            assert c.procs[n].poll() is None, c.log(n)
    finally:
        c.stop()
