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
Sluice only: the cluster is three Sluice processes (Kafka's three-node run
is test_cluster_config_files.py; its snapshots are Kafka's own)."""

import glob
import os
import re
import signal
import struct
import time

import pytest

import harness
from test_quorum_cluster import NODES, Cluster
from toolcli import kafka

pytestmark = pytest.mark.skipif(
    harness.TARGET != "sluice",
    reason="starts three Sluice processes; on Kafka the snapshot files are Kafka's own")

SETTINGS = """
metadata.log.max.record.bytes.between.snapshots=2048
internal.metadata.log.segment.bytes=4096
metadata.max.retention.bytes=1
"""


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
    from confluent_kafka.admin import NewTopic
    names = ["%s-%03d" % (prefix, i) for i in range(n)]
    a = harness.admin(addr)
    fs = a.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in names],
                         operation_timeout=30, request_timeout=30)
    for t, f in fs.items():
        f.result(30)
    return names


def topics_on(c, n):
    return set(harness.admin(c.addr(n)).list_topics(timeout=10).topics)


def test_snapshots_dump_log_restart_and_fetch_snapshot(tmp_path):
    c = Cluster(tmp_path)
    for n in NODES:
        with open(str(c.files[n]), "a") as f:
            f.write(SETTINGS)
    try:
        for n in NODES:
            c.start(n)
        leader = c.leader(NODES, 30)
        first = create_many(c.addr(leader), harness.unique_topic("s1"), 40)

        # every node snapshots its own committed image
        harness.wait_for(lambda: all(checkpoints(c, n) for n in NODES), 30,
                         what="a .checkpoint on every node")
        for n in NODES:
            for p in checkpoints(c, n):
                assert re.fullmatch(r"\d{20}-\d{10}\.checkpoint", os.path.basename(p)), p
            assert not glob.glob(os.path.join(meta_dir(c, n), "*.part"))

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
        harness.wait_for(lambda: "loaded metadata snapshot" in c.log(f1), 30,
                         what="node %d loading its snapshot" % f1)
        harness.wait_for(lambda: set(first) <= topics_on(c, f1), 30,
                         what="the topics on the restarted node")

        # the other follower is stopped; the leader's log start moves past
        # its end; it comes back and installs the leader's snapshot
        f2 = next(n for n in NODES if n not in (leader, f1))
        c.procs[f2].send_signal(signal.SIGTERM)
        c.procs[f2].wait(30)
        end = log_end(c, f2)
        made = list(first)
        for round in range(40):
            if log_start(c, leader) > end:
                break
            made += create_many(c.addr(leader), harness.unique_topic("s2"), 25)
        assert log_start(c, leader) > end, (log_start(c, leader), end)
        c.start(f2)
        harness.wait_for(lambda: "installed the leader's snapshot" in c.log(f2), 60,
                         what="node %d installing the leader's snapshot" % f2)
        harness.wait_for(lambda: set(made) <= topics_on(c, f2), 60,
                         what="every topic on node %d" % f2)
        # and it follows the log after the snapshot
        late = create_many(c.addr(leader), harness.unique_topic("s3"), 3)
        harness.wait_for(lambda: set(late) <= topics_on(c, f2), 30,
                         what="new topics on node %d" % f2)
        for n in NODES:
            assert c.procs[n].poll() is None, c.log(n)
    finally:
        c.stop()
