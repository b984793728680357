"""Several log.dirs (JBOD) on one broker: placement of new partitions,
DescribeLogDirs, AlterReplicaLogDirs moves (raw, and through
kafka-reassign-partitions with "log_dirs", Kafka's tool and Sluice's), and
the error answers of both APIs, checked byte for byte with a raw client."""

import json
import os
import shutil
import struct
import time

import pytest

import harness
import toolcli
from test_groups_consumer_lib import Conn, TAGS, carr, cstr

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
LOG_DIR_NOT_FOUND = 57
KAFKA_STORAGE_ERROR = 56
NOT_LEADER_OR_FOLLOWER = 6
LEADER_NOT_AVAILABLE = 5


def i32(v):
    return struct.pack(">i", v)


def describe_log_dirs(bootstrap, topics=None, version=4):
    """{dir: {"error", "total", "usable", "parts": {(topic, p, future):
    (size, lag)}}} from one DescribeLogDirs (v2+, flexible)."""
    if topics is None:
        body = carr(None)
    else:
        body = carr(list(topics.items()), lambda kv: cstr(kv[0]) + carr(kv[1], i32) + TAGS)
    body += TAGS
    c = Conn(bootstrap)
    try:
        r = c.request(35, version, body)
    finally:
        c.close()
    r.i32()
    assert r.i16() == 0

    def part(rd):
        v = (rd.i32(), rd.i64(), rd.i64(), rd.i8() != 0)
        rd.tags()
        return v

    def topic(rd):
        name = rd.cstr()
        ps = rd.carr(part)
        rd.tags()
        return name, ps

    def result(rd):
        err = rd.i16()
        path = rd.cstr()
        ts = rd.carr(topic)
        total, usable = rd.i64(), rd.i64()
        if version >= 5:
            rd.i8()
        rd.tags()
        parts = {}
        for name, ps in ts:
            for p, size, lag, fut in ps:
                parts[(name, p, fut)] = (size, lag)
        return path, {"error": err, "total": total, "usable": usable, "parts": parts}
    return dict(r.carr(result))


def alter_replica_log_dirs(bootstrap, moves):
    """moves: {dir: {topic: [partitions]}} -> {(topic, p): error}."""
    body = carr(list(moves.items()), lambda d: cstr(d[0]) + carr(
        list(d[1].items()), lambda t: cstr(t[0]) + carr(t[1], i32) + TAGS) + TAGS) + TAGS
    c = Conn(bootstrap)
    try:
        r = c.request(34, 2, body)
    finally:
        c.close()
    assert r.i32() == 0

    def part(rd):
        v = (rd.i32(), rd.i16())
        rd.tags()
        return v

    def topic(rd):
        name = rd.cstr()
        ps = rd.carr(part)
        rd.tags()
        return name, ps
    out = {}
    for name, ps in r.carr(topic):
        for p, e in ps:
            out[(name, p)] = e
    return out


def where(bootstrap, topic):
    """{partition: dir} of topic's current logs."""
    out = {}
    for d, info in describe_log_dirs(bootstrap, {topic: list(range(64))}).items():
        for (t, p, fut) in info["parts"]:
            if t == topic and not fut:
                out[p] = d
    return out


def create(bs, prefix, partitions):
    """A topic whose partitions' logs all exist (Kafka creates them once the
    metadata reaches the broker, after CreateTopics has answered)."""
    topic = harness.create_topic(bs, harness.unique_topic(prefix), partitions=partitions)
    harness.wait_for(lambda: len(where(bs, topic)) == partitions, timeout=30,
                     what="logs of %s created" % topic)
    return topic


@pytest.fixture
def jbod(broker_factory, tmp_path):
    """A broker with two log dirs (absolute paths, as Kafka reports them)."""
    dirs = [str(tmp_path / "d0"), str(tmp_path / "d1")]
    b = broker_factory(config={"log.dirs": ",".join(dirs)})
    return b, dirs


def test_placement_and_meta_properties(jbod):
    """New partitions go to the dir with the fewest partitions; every dir
    is formatted with its own directory.id and the same cluster.id."""
    b, dirs = jbod
    topic = create(b.bootstrap, "jbod", 4)
    desc = describe_log_dirs(b.bootstrap)
    assert sorted(desc) == sorted(dirs)
    for d in dirs:
        assert desc[d]["error"] == NONE
        assert desc[d]["total"] > 0 and 0 <= desc[d]["usable"] <= desc[d]["total"]
        mine = [k for k in desc[d]["parts"] if k[0] == topic]
        assert len(mine) == 2, desc
        assert all(not fut for _, _, fut in mine)
    props = []
    for d in dirs:
        with open(os.path.join(d, "meta.properties")) as f:
            kv = dict(l.strip().split("=", 1) for l in f if "=" in l and not l.startswith("#"))
        props.append(kv)
        for p, pd in where(b.bootstrap, topic).items():
            assert os.path.isdir(os.path.join(pd, "%s-%d" % (topic, p)))
    assert props[0]["cluster.id"] == props[1]["cluster.id"]
    assert props[0]["directory.id"] != props[1]["directory.id"]
    # Offset checkpoints are per dir: each names the partitions it holds.
    harness.produce(b.bootstrap, topic, [b"x"] * 20)
    placed = where(b.bootstrap, topic)
    b.stop()
    for d in dirs:
        mine = sorted(p for p, pd in placed.items() if pd == d)
        for name in ("recovery-point-offset-checkpoint", "log-start-offset-checkpoint",
                     "replication-offset-checkpoint"):
            with open(os.path.join(d, name)) as f:
                lines = f.read().splitlines()
            assert lines[0] == "0"
            entries = [l.split(" ") for l in lines[2:]]
            assert int(lines[1]) == len(entries)
            listed = sorted(int(p) for t, p, _ in entries if t == topic)
            if name == "log-start-offset-checkpoint":
                # Only logs whose start is above their first segment's base.
                assert listed == [], (d, name, lines)
            else:
                assert listed == mine, (d, name, lines)


def test_alter_replica_log_dirs_errors(jbod):
    """Per-partition errors of AlterReplicaLogDirs, in Kafka's order of
    checks."""
    b, dirs = jbod
    bs = b.bootstrap
    topic = create(bs, "ard", 2)
    cur = where(bs, topic)
    # A path that is not one of log.dirs.
    assert alter_replica_log_dirs(bs, {dirs[0] + "-nope": {topic: [0]}}) == {
        (topic, 0): LOG_DIR_NOT_FOUND}
    # The same dir with a trailing slash is not the same path for Kafka.
    assert alter_replica_log_dirs(bs, {dirs[0] + "/": {topic: [0]}}) == {
        (topic, 0): LOG_DIR_NOT_FOUND}
    # Unknown topic, unknown partition.
    missing = harness.unique_topic("nope")
    assert alter_replica_log_dirs(bs, {dirs[0]: {missing: [0], topic: [7]}}) == {
        (missing, 0): UNKNOWN_TOPIC_OR_PARTITION, (topic, 7): UNKNOWN_TOPIC_OR_PARTITION}
    # A topic name too long for "<topic>-<p>.<uuid>-future" (255 bytes),
    # checked before anything else.
    long_name = "l" * 240
    assert alter_replica_log_dirs(bs, {dirs[0] + "-nope": {long_name: [0]}}) == {
        (long_name, 0): INVALID_TOPIC_EXCEPTION}
    # Already there: NONE and no future log.
    assert alter_replica_log_dirs(bs, {cur[0]: {topic: [0]}}) == {(topic, 0): NONE}
    desc = describe_log_dirs(bs)
    assert not any(fut for d in desc.values() for (_, _, fut) in d["parts"])
    assert where(bs, topic)[0] == cur[0]


def test_describe_log_dirs_selected_topics(jbod):
    """DescribeLogDirs with topics lists every dir, and only the asked
    partitions that exist; an unknown topic just has no entries."""
    b, dirs = jbod
    bs = b.bootstrap
    topic = create(bs, "dld", 3)
    desc = describe_log_dirs(bs, {topic: [0, 2, 9], harness.unique_topic("nope"): [0]})
    assert sorted(desc) == sorted(dirs)
    got = sorted((t, p) for d in desc.values() for (t, p, _) in d["parts"])
    assert got == [(topic, 0), (topic, 2)]


def test_kafka_log_dirs_tool(jbod):
    """Kafka's kafka-log-dirs --describe reads the broker's DescribeLogDirs
    into its JSON: every dir, each partition with size, lag and isFuture."""
    b, dirs = jbod
    bs = b.bootstrap
    topic = create(bs, "ldt", 2)
    harness.produce(bs, topic, [b"abc"] * 10, partition=0)
    r = harness.kafka_tool("kafka-log-dirs", ["--bootstrap-server", bs, "--describe",
                                              "--topic-list", topic])
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    assert doc["version"] == 1 and [x["broker"] for x in doc["brokers"]] == [1]
    got = {}
    for ld in doc["brokers"][0]["logDirs"]:
        assert ld["error"] is None
        for p in ld["partitions"]:
            assert p["offsetLag"] == 0 and p["isFuture"] is False
            got[p["partition"]] = (ld["logDir"], p["size"])
    placed = where(bs, topic)
    assert {k: v[0] for k, v in got.items()} == {
        "%s-%d" % (topic, p): d for p, d in placed.items()}
    assert got["%s-1" % topic][1] == 0 and got["%s-0" % topic][1] > 0


def _reassign_json(path, topic, partition, log_dir):
    with open(path, "w") as f:
        json.dump({"version": 1, "partitions": [
            {"topic": topic, "partition": partition, "replicas": [1],
             "log_dirs": [log_dir]}]}, f)


def _reassign(tool, bs, *args):
    if tool == "kafka":
        r = toolcli.kafka("reassign-partitions", "--bootstrap-server", bs, *args)
    else:
        r = toolcli.run("reassign-partitions", "--bootstrap-server", bs, *args)
    return r


@pytest.mark.parametrize("tool", ["kafka", "sluice"])
def test_move_with_reassign_partitions(jbod, tmp_path, tool):
    """kafka-reassign-partitions --execute with log_dirs moves the replica
    to the other dir while it serves; --verify reports it; the data is all
    there, in the new dir, also after a restart."""
    b, dirs = jbod
    bs = b.bootstrap
    topic = create(bs, "mv", 1)
    n = 2000
    harness.produce(bs, topic, [b"v%05d" % i for i in range(n)])
    src = where(bs, topic)[0]
    dst = dirs[1] if src == dirs[0] else dirs[0]
    plan = str(tmp_path / "plan.json")
    _reassign_json(plan, topic, 0, dst)
    r = _reassign(tool, bs, "--reassignment-json-file", plan, "--execute")
    assert r.returncode == 0, r.stdout + r.stderr
    # Kafka's output, the current assignment naming the replica's dir.
    assert r.stdout == (
        "Current partition replica assignment\n\n"
        '{"version":1,"partitions":[{"topic":"%s","partition":0,"replicas":[1],'
        '"log_dirs":["%s"]}]}\n\n'
        "Save this to use as the --reassignment-json-file option during rollback\n"
        "Successfully started partition reassignment for %s-0\n"
        "Successfully started moving log directory to %s for replica %s-0 with broker 1 \n"
        % (topic, src, topic, dst, topic))

    def moved():
        v = _reassign(tool, bs, "--reassignment-json-file", plan, "--verify")
        return "Reassignment of replica %s-0-1 completed successfully." % topic in v.stdout
    harness.wait_for(moved, timeout=60, what="log dir move completed")
    # Sluice's tool prints what Kafka's does.
    k = _reassign("kafka", bs, "--reassignment-json-file", plan, "--verify")
    s = _reassign("sluice", bs, "--reassignment-json-file", plan, "--verify")
    assert (s.returncode, s.stdout) == (k.returncode, k.stdout)
    assert where(bs, topic) == {0: dst}
    assert not os.path.exists(os.path.join(src, "%s-0" % topic))
    got = harness.consume(bs, topic, n)
    assert [m.value() for m in got] == [b"v%05d" % i for i in range(n)]
    # Still served after the move: append and read back.
    harness.produce(bs, topic, [b"after"])
    assert harness.watermarks(bs, topic)[1] == n + 1
    b.stop()
    b.start()
    assert where(bs, topic) == {0: dst}
    assert harness.watermarks(bs, topic)[1] == n + 1
    got = harness.consume(bs, topic, n + 1)
    assert got[-1].value() == b"after"


@pytest.mark.parametrize("tool", ["kafka", "sluice"])
def test_move_in_progress_is_reported_and_serves(jbod, tmp_path, tool):
    """A move held back by --replica-alter-log-dirs-throttle: DescribeLogDirs
    shows the future log (is_future_key) in the destination next to the
    current one, --verify says it is in progress, produce and fetch keep
    working; lifting the throttle lets it finish with every record."""
    b, dirs = jbod
    bs = b.bootstrap
    topic = create(bs, "mvp", 1)
    n = 3000
    harness.produce(bs, topic, [b"%06d" % i + b"x" * 1000 for i in range(n)])
    src = where(bs, topic)[0]
    dst = dirs[1] if src == dirs[0] else dirs[0]
    plan = str(tmp_path / "plan.json")
    _reassign_json(plan, topic, 0, dst)
    r = _reassign(tool, bs, "--reassignment-json-file", plan, "--execute",
                  "--replica-alter-log-dirs-throttle", "100000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "The replica-alter-dir throttle limit was set to 100000 B/s\n" in r.stdout

    def future():
        d = describe_log_dirs(bs)
        return (topic, 0, True) in d[dst]["parts"] and d
    d = harness.wait_for(future, timeout=30, what="future log reported")
    size, lag = d[dst]["parts"][(topic, 0, True)]
    cur_size, cur_lag = d[src]["parts"][(topic, 0, False)]
    assert 0 <= size < cur_size and cur_lag == 0
    assert 0 < lag <= n
    v = _reassign(tool, bs, "--reassignment-json-file", plan, "--verify")
    assert v.stdout == ("Status of partition reassignment:\n"
                        "Reassignment of partition %s-0 is completed.\n"
                        "Reassignment of replica %s-0-1 is still in progress.\n" % (topic, topic))
    # The replica serves during the move.
    harness.produce(bs, topic, [b"during"])
    assert harness.watermarks(bs, topic)[1] == n + 1
    # Lift the throttle; the move completes.
    harness.kafka_tool("kafka-configs", [
        "--bootstrap-server", bs, "--alter", "--entity-type", "brokers", "--entity-name", "1",
        "--add-config", "replica.alter.log.dirs.io.max.bytes.per.second=1000000000"])

    def moved():
        v = _reassign(tool, bs, "--reassignment-json-file", plan, "--verify")
        return "Reassignment of replica %s-0-1 completed successfully." % topic in v.stdout
    harness.wait_for(moved, timeout=120, what="log dir move completed")
    d = describe_log_dirs(bs)
    assert (topic, 0, False) in d[dst]["parts"]
    assert not any(k[0] == topic for k in d[src]["parts"])
    got = harness.consume(bs, topic, n + 1)
    assert [m.value()[:6] for m in got[:n]] == [b"%06d" % i for i in range(n)]
    assert got[n].value() == b"during"


def test_crash_during_move_loses_nothing(jbod, tmp_path):
    """kill -9 while a (throttled) move is copying: after the restart the
    move goes on (Kafka resumes it from its -future log; Sluice copies
    again) and ends in the destination with every acknowledged record."""
    b, dirs = jbod
    bs = b.bootstrap
    topic = create(bs, "mvc", 1)
    n = 3000
    harness.produce(bs, topic, [b"%06d" % i + b"y" * 1000 for i in range(n)])
    src = where(bs, topic)[0]
    dst = dirs[1] if src == dirs[0] else dirs[0]
    harness.kafka_tool("kafka-configs", [
        "--bootstrap-server", bs, "--alter", "--entity-type", "brokers", "--entity-name", "1",
        "--add-config", "replica.alter.log.dirs.io.max.bytes.per.second=100000"])
    assert alter_replica_log_dirs(bs, {dst: {topic: [0]}}) == {(topic, 0): NONE}
    harness.wait_for(lambda: describe_log_dirs(bs)[dst]["parts"].get((topic, 0, True)),
                     timeout=30, what="future log reported")
    b.kill9()
    b.start()
    harness.kafka_tool("kafka-configs", [
        "--bootstrap-server", bs, "--alter", "--entity-type", "brokers", "--entity-name", "1",
        "--delete-config", "replica.alter.log.dirs.io.max.bytes.per.second"])

    def settled():
        d = describe_log_dirs(bs)
        keys = [(path, k) for path, info in d.items() for k in info["parts"] if k[0] == topic]
        return len(keys) == 1 and not keys[0][1][2] and keys
    harness.wait_for(settled, timeout=60, what="one current log, no future log")
    assert where(bs, topic) == {0: dst}
    assert harness.watermarks(bs, topic)[1] == n
    got = harness.consume(bs, topic, n)
    assert [m.value()[:6] for m in got] == [b"%06d" % i for i in range(n)]


# ---- a failed log dir ------------------------------------------------------

def _crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _zz(n):
    n = (n << 1) ^ (n >> 63)
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _batch(value):
    """A magic-2 record batch with one record (no key, no headers)."""
    rec = b"\x00" + _zz(0) + _zz(0) + _zz(-1) + _zz(len(value)) + value + _zz(0)
    rec = _zz(len(rec)) + rec
    ts = int(time.time() * 1000)
    after_crc = (struct.pack(">hiqqqhii", 0, 0, ts, ts, -1, -1, -1, 1) + rec)
    body = struct.pack(">ib", -1, 2) + struct.pack(">I", _crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def produce_raw(bs, topic, partition, value=b"v"):
    """Produce v7 of one record, acks=1: the partition's error code."""
    recs = _batch(value)
    body = struct.pack(">hhi", -1, 1, 10000) + harness.karray([harness.kstr(topic) + harness.karray(
        [struct.pack(">i", partition) + struct.pack(">i", len(recs)) + recs])])
    r = harness.kafka_request(bs, 0, 7, body)
    assert struct.unpack(">i", r[:4])[0] == 1  # one topic
    n = struct.unpack(">h", r[4:6])[0]
    off = 6 + n
    assert struct.unpack(">i", r[off:off + 4])[0] == 1
    return struct.unpack(">ih", r[off + 4:off + 10])[1]


def fetch_raw(bs, topic, partition, offset=0):
    """Fetch v4 of one partition: its error code."""
    body = struct.pack(">iiiib", -1, 0, 0, 1 << 20, 0) + harness.karray([
        harness.kstr(topic) + harness.karray([struct.pack(">iqi", partition, offset, 1 << 20)])])
    r = harness.kafka_request(bs, 1, 4, body)
    off = 4  # throttle
    assert struct.unpack(">i", r[off:off + 4])[0] == 1
    n = struct.unpack(">h", r[off + 4:off + 6])[0]
    off += 6 + n
    assert struct.unpack(">i", r[off:off + 4])[0] == 1
    return struct.unpack(">ih", r[off + 4:off + 10])[1]


def _fail_dir(path):
    """Kafka's own tests (TestUtils.causeLogDirFailure) replace the dir by a
    file: every later file operation in it fails, even as root. The dir is
    renamed away first (atomic), then removed: removing it in place raced
    with the broker creating partition dirs in it (IsADirectoryError)."""
    gone = path + ".failed"
    os.rename(path, gone)
    open(path, "w").close()
    shutil.rmtree(gone, ignore_errors=True)


def test_failed_log_dir_goes_offline(broker_factory, tmp_path):
    """A log dir that fails is taken offline without stopping the broker:
    its partitions answer KAFKA_STORAGE_ERROR to Produce and ListOffsets
    (NOT_LEADER_OR_FOLLOWER to a v4 Fetch) and have no leader in Metadata,
    DescribeLogDirs reports it with KAFKA_STORAGE_ERROR and nothing else,
    moves into it are refused, the other dir keeps serving. When the last
    dir (the metadata log's) fails too, the broker stops."""
    dirs = [str(tmp_path / "d0"), str(tmp_path / "d1")]
    b = broker_factory(config={"log.dirs": ",".join(dirs),
                               "log.flush.offset.checkpoint.interval.ms": "1000"})
    bs = b.bootstrap
    topic = create(bs, "fail", 2)
    placed = where(bs, topic)
    assert sorted(placed.values()) == sorted(dirs)
    good = next(p for p, d in placed.items() if d == dirs[0])
    bad = next(p for p, d in placed.items() if d == dirs[1])
    # The metadata log lives in the first dir (metadata.log.dir's default).
    assert os.path.isdir(os.path.join(dirs[0], "__cluster_metadata-0"))
    assert produce_raw(bs, topic, good) == NONE
    assert produce_raw(bs, topic, bad) == NONE

    _fail_dir(dirs[1])
    # The next checkpoint (or any write) finds the dir gone.
    harness.wait_for(lambda: describe_log_dirs(bs)[dirs[1]]["error"] == KAFKA_STORAGE_ERROR,
                     timeout=60, what="log dir reported offline")
    for version in (4, 5):
        desc = describe_log_dirs(bs, version=version)
        assert desc[dirs[1]] == {"error": KAFKA_STORAGE_ERROR, "total": -1, "usable": -1,
                                 "parts": {}}
        assert desc[dirs[0]]["error"] == NONE
        assert (topic, good, False) in desc[dirs[0]]["parts"]
        assert (topic, bad, False) not in desc[dirs[0]]["parts"]
    assert produce_raw(bs, topic, bad) == KAFKA_STORAGE_ERROR
    assert harness.list_offsets_raw(bs, topic, bad) == (KAFKA_STORAGE_ERROR, -1, -1)
    # Fetch v5 and older get NOT_LEADER_OR_FOLLOWER instead (Kafka's
    # maybeDownConvertStorageError: old clients may not know the code).
    assert fetch_raw(bs, topic, bad) == NOT_LEADER_OR_FOLLOWER
    # Metadata: the partition has no leader and its replica is offline.
    md = harness.admin(bs).list_topics(topic, timeout=10).topics[topic].partitions
    assert (md[bad].leader, md[bad].isrs, md[bad].error.code()) == (-1, [], LEADER_NOT_AVAILABLE)
    assert (md[good].leader, md[good].isrs, md[good].error) == (1, [1], None)
    # kafka-topics --describe (DescribeTopicPartitions): no leader, the
    # replica out of the ISR and in the ELR.
    out = harness.kafka_tool("kafka-topics", ["--bootstrap-server", bs, "--describe",
                                              "--topic", topic]).stdout
    assert ("\tTopic: %s\tPartition: %d\tLeader: none\tReplicas: 1\tIsr: \tElr: 1\t"
            "LastKnownElr: 1\n" % (topic, bad)) in out
    assert ("\tTopic: %s\tPartition: %d\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \t"
            "LastKnownElr: \n" % (topic, good)) in out
    # Moves into the offline dir, or of a replica in it, are refused.
    assert alter_replica_log_dirs(bs, {dirs[1]: {topic: [good]}}) == {
        (topic, good): KAFKA_STORAGE_ERROR}
    assert alter_replica_log_dirs(bs, {dirs[0]: {topic: [bad]}}) == {
        (topic, bad): KAFKA_STORAGE_ERROR}
    # The other dir serves on.
    assert produce_raw(bs, topic, good, b"after") == NONE
    assert fetch_raw(bs, topic, good) == NONE
    got = harness.consume(bs, topic, 2, partitions=[good])
    assert got[-1].value() == b"after"
    assert b.running()

    _fail_dir(dirs[0])
    harness.wait_for(lambda: not b.running(), timeout=60, what="broker stopped")


def test_delete_topic_during_move(jbod):
    """Deleting a topic while one of its replicas moves removes both the
    current and the future log; the broker serves on."""
    b, dirs = jbod
    bs = b.bootstrap
    topic = create(bs, "mvd", 1)
    harness.produce(bs, topic, [b"z" * 1000] * 2000)
    src = where(bs, topic)[0]
    dst = dirs[1] if src == dirs[0] else dirs[0]
    harness.kafka_tool("kafka-configs", [
        "--bootstrap-server", bs, "--alter", "--entity-type", "brokers", "--entity-name", "1",
        "--add-config", "replica.alter.log.dirs.io.max.bytes.per.second=100000"])
    assert alter_replica_log_dirs(bs, {dst: {topic: [0]}}) == {(topic, 0): NONE}
    harness.wait_for(lambda: describe_log_dirs(bs)[dst]["parts"].get((topic, 0, True)),
                     timeout=30, what="future log reported")
    adm = harness.admin(bs)
    adm.delete_topics([topic])[topic].result(timeout=30)

    def gone():
        d = describe_log_dirs(bs)
        live = [n for x in dirs for n in os.listdir(x)
                if n.startswith(topic) and not n.endswith("-delete")]
        return not any(k[0] == topic for v in d.values() for k in v["parts"]) and not live
    harness.wait_for(gone, timeout=60, what="current and future logs removed")
    # New topics are still placed and served.
    t2 = create(bs, "mvd2", 1)
    assert produce_raw(bs, t2, 0) == NONE


@pytest.mark.parametrize("tool", ["kafka", "sluice"])
def test_cancel_move(jbod, tmp_path, tool):
    """kafka-reassign-partitions --cancel of a plan whose log dir move is
    under way keeps the replica in its current dir (Kafka moves it "back"
    there) and clears the throttles."""
    b, dirs = jbod
    bs = b.bootstrap
    topic = create(bs, "mvx", 1)
    harness.produce(bs, topic, [b"q" * 1000] * 2000)
    src = where(bs, topic)[0]
    dst = dirs[1] if src == dirs[0] else dirs[0]
    plan = str(tmp_path / "plan.json")
    _reassign_json(plan, topic, 0, dst)
    r = _reassign(tool, bs, "--reassignment-json-file", plan, "--execute",
                  "--replica-alter-log-dirs-throttle", "100000")
    assert r.returncode == 0, r.stdout + r.stderr
    harness.wait_for(lambda: describe_log_dirs(bs)[dst]["parts"].get((topic, 0, True)),
                     timeout=30, what="future log reported")
    r = _reassign(tool, bs, "--reassignment-json-file", plan, "--cancel")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == (
        "None of the specified partition reassignments are active.\n"
        "Successfully started moving log directory to %s for replica %s-0 with broker 1 \n"
        "Clearing broker-level throttles on broker 1\n"
        "Clearing topic-level throttles on topic %s\n" % (src, topic, topic))
    d = describe_log_dirs(bs)
    assert (topic, 0, False) in d[src]["parts"]
    assert not any(k[0] == topic for k in d[dst]["parts"])
    assert harness.watermarks(bs, topic)[1] == 2000
