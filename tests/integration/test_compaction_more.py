"""Issue 6, compaction settings seen by real clients (confluent-kafka), on
both targets (SLUICE_TARGET=kafka runs the same tests against Apache Kafka):
tombstone expiry after delete.retention.ms, min.compaction.lag.ms,
max.compaction.lag.ms, compact,delete, __consumer_offsets and
__transaction_state being compacted, and small cleaned segments grouped
into one.

Segments are rolled by time (segment.ms=100 and a pause before the next
produce) so each test needs little data. Whether the cleaner finished a
pass is read from <log.dir>/cleaner-offset-checkpoint, which both brokers
write after every pass in the same format ("0", count, "topic partition
offset" lines); the assertions themselves are what a consumer reading from
offset 0 sees."""

import os
import time

import pytest

import harness
from test_compaction import read_all

CLEANER = {"log.cleaner.backoff.ms": "200", "log.retention.check.interval.ms": "500"}
ROLL_MS = 100


def topic_config(**extra):
    c = {"cleanup.policy": "compact", "segment.ms": str(ROLL_MS),
         "min.cleanable.dirty.ratio": "0.01"}
    c.update({k.replace("_", "."): str(v) for k, v in extra.items()})
    return c


def produce_kv(b, t, pairs):
    """pairs: [(key, value or None)]; one partition. Returns {offset: (k, v)}."""
    msgs = [{"key": k, "value": v, "partition": 0} for k, v in pairs]
    out = {}
    for m in harness.produce(b, t, msgs, linger_ms=5):
        out[m.offset()] = (m.key(), m.value())
    return out


def roll(b, t, tag=b"roll"):
    """Waits past segment.ms and appends one record: the segment holding
    everything before is sealed (cleanable); returns the new record's offset,
    the base of the new active segment."""
    time.sleep(ROLL_MS * 2.5 / 1000)
    return min(produce_kv(b, t, [(tag, b"r")]))


def set_topic_config(b, t, kv):
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                       ResourceType)
    a = harness.admin(b)
    res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in kv.items()])
    for f in a.incremental_alter_configs([res]).values():
        f.result(timeout=30)


def cleaner_checkpoint(broker, t, partition=0):
    path = os.path.join(broker.data_dir, "cleaner-offset-checkpoint")
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except OSError:
        return -1
    for line in lines[2:]:
        f = line.split()
        if len(f) == 3 and f[0] == t and f[1] == str(partition):
            return int(f[2])
    return -1


def wait_cleaned(broker, t, upto, timeout=60):
    """Until the cleaner has cleaned the partition up to offset `upto`."""
    harness.wait_for(lambda: cleaner_checkpoint(broker, t) >= upto, timeout, interval=0.2,
                     what="cleaner checkpoint of %s >= %d (now %d)" % (
                         t, upto, cleaner_checkpoint(broker, t)))


def by_key(recs):
    out = {}
    for o, k, v in recs:
        out.setdefault(k, []).append((o, v))
    return out


def rounds(b, t, keys, n, tag=b"k"):
    """n rounds updating keys; a segment roll after each. Returns produced."""
    produced = {}
    for r in range(n):
        produced.update(produce_kv(b, t, [(tag + b"%d" % k, b"v%d-%d" % (r, k))
                                          for k in range(keys)]))
        time.sleep(ROLL_MS * 1.5 / 1000)
    return produced


def assert_ordered(recs):
    offs = [o for o, _, _ in recs]
    assert offs == sorted(set(offs)), "offsets out of order or repeated"


@pytest.mark.broker_config(CLEANER)
def test_tombstone_kept_for_delete_retention_then_removed(broker):
    """A tombstone stays readable for delete.retention.ms after the pass
    that cleaned it (even across further passes), then a pass removes it."""
    dr_ms = 8000
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("tomb"),
                             config=topic_config(delete_retention_ms=dr_ms))
    produce_kv(b, t, [(b"k%d" % i, b"v1-%d" % i) for i in range(20)])
    tombs = produce_kv(b, t, [(b"k%d" % i, None) for i in range(10)])
    end = roll(b, t)
    wait_cleaned(broker, t, end)
    cleaned_at = time.monotonic()
    recs = read_all(b, t, end)
    assert_ordered(recs)
    ks = by_key(recs)
    for i in range(10):
        # the old value is gone, the tombstone (at its own offset) is there
        assert ks.get(b"k%d" % i) == [(o, None) for o, (k, _) in tombs.items()
                                      if k == b"k%d" % i]
    for i in range(10, 20):
        assert [v for _, v in ks[b"k%d" % i]] == [b"v1-%d" % i]

    # another pass within delete.retention.ms keeps the tombstones
    produce_kv(b, t, [(b"other%d" % i, b"x") for i in range(5)])
    end2 = roll(b, t, b"roll2")
    wait_cleaned(broker, t, end2)
    recs = read_all(b, t, end2)
    assert time.monotonic() - cleaned_at < dr_ms / 1000.0, "too slow to check the window"
    ks = by_key(recs)
    for i in range(10):
        assert [v for _, v in ks.get(b"k%d" % i, [])] == [None], \
            "tombstone of k%d gone before delete.retention.ms" % i

    # past the horizon the next pass removes them; the live keys stay
    time.sleep(max(0.0, cleaned_at + dr_ms / 1000.0 + 1.0 - time.monotonic()))
    produce_kv(b, t, [(b"other%d" % i, b"y") for i in range(5)])
    end3 = roll(b, t, b"roll3")

    def gone():
        r = read_all(b, t, end3)
        return not any(k == b"k%d" % i for _, k, _ in r for i in range(10)), r

    harness.wait_for(lambda: gone()[0], 60, interval=0.5, what="tombstones removed")
    recs = gone()[1]
    assert_ordered(recs)
    ks = by_key(recs)
    for i in range(10, 20):
        assert [v for _, v in ks[b"k%d" % i]] == [b"v1-%d" % i]
    assert harness.watermarks(b, t) == (0, end3 + 1)


@pytest.mark.broker_config(CLEANER)
def test_min_compaction_lag_keeps_recent_records(broker):
    """Records newer than min.compaction.lag.ms are not compacted, although
    the log is far above the dirty ratio; once older, they are."""
    lag_ms = 5000
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("minlag"),
                             config=topic_config(min_compaction_lag_ms=lag_ms))
    started = time.monotonic()
    produced = rounds(b, t, 30, 5)
    end = roll(b, t)
    # the cleaner looks every 200 ms: plenty of chances to (wrongly) clean
    time.sleep(2.0)
    recs = read_all(b, t, end)
    assert time.monotonic() - started < lag_ms / 1000.0, "too slow to check the lag"
    assert len(recs) == len(produced), "records newer than min.compaction.lag.ms compacted"

    def compacted():
        r = read_all(b, t, end)
        return len(r) == 30, r

    harness.wait_for(lambda: compacted()[0], 60, interval=0.5, what="compaction after the lag")
    assert time.monotonic() - started >= lag_ms / 1000.0 - 0.5
    recs = compacted()[1]
    assert_ordered(recs)
    assert {k: v for _, k, v in recs} == {b"k%d" % k: b"v4-%d" % k for k in range(30)}


@pytest.mark.broker_config(CLEANER)
def test_max_compaction_lag_forces_cleaning_below_dirty_ratio(broker):
    """min.cleanable.dirty.ratio=1 is never exceeded, so only
    max.compaction.lag.ms makes the cleaner take the log: not before the
    oldest dirty record is that old, soon after."""
    lag_ms = 5000
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("maxlag"), config=topic_config(
        min_cleanable_dirty_ratio="1.0", max_compaction_lag_ms=lag_ms))
    started = time.monotonic()
    produced = rounds(b, t, 30, 5)
    end = roll(b, t)
    time.sleep(1.5)
    recs = read_all(b, t, end)
    assert time.monotonic() - started < lag_ms / 1000.0, "too slow to check the lag"
    assert len(recs) == len(produced), "compacted below the dirty ratio before max.compaction.lag.ms"

    def compacted():
        r = read_all(b, t, end)
        return len(r) == 30, r

    harness.wait_for(lambda: compacted()[0], 60, interval=0.5,
                     what="compaction forced by max.compaction.lag.ms")
    assert time.monotonic() - started >= lag_ms / 1000.0 - 0.5
    recs = compacted()[1]
    assert_ordered(recs)
    assert {k: v for _, k, v in recs} == {b"k%d" % k: b"v4-%d" % k for k in range(30)}


@pytest.mark.broker_config(CLEANER)
def test_compact_delete_compacts_and_expires(broker):
    """cleanup.policy=compact,delete: keys are compacted to their newest
    value, and retention.ms still deletes old segments (unique keys too)."""
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("cdel"), config=topic_config(
        cleanup_policy="compact,delete", retention_ms=3600000))
    rounds(b, t, 30, 4)
    end = roll(b, t)

    def compacted():
        r = read_all(b, t, end)
        return len(r) == 30, r

    harness.wait_for(lambda: compacted()[0], 60, interval=0.5, what="compaction")
    recs = compacted()[1]
    assert {k: v for _, k, v in recs} == {b"k%d" % k: b"v3-%d" % k for k in range(30)}
    assert harness.watermarks(b, t)[0] == 0

    # now retention: everything older than 1 s goes, compacted or not
    set_topic_config(b, t, {"retention.ms": "1000"})
    time.sleep(1.2)
    new = produce_kv(b, t, [(b"new%d" % i, b"n") for i in range(5)])
    harness.wait_for(lambda: harness.watermarks(b, t)[0] > recs[-1][0], 60, interval=0.5,
                     what="retention of the compacted segments")
    lo, hi = harness.watermarks(b, t)
    assert hi == max(new) + 1
    ck = harness._ck()
    c = harness.consumer(b)
    try:
        c.assign([ck.TopicPartition(t, 0, ck.OFFSET_BEGINNING)])
        got = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not got or got[-1].offset() < hi - 1):
            for m in c.consume(100, timeout=0.5):
                assert not m.error(), m.error()
                got.append(m)
    finally:
        c.close()
    keys = [m.key() for m in got]
    assert not any(k.startswith(b"k") for k in keys), "expired records still readable"
    assert [k for k in keys if k.startswith(b"new")] == [b"new%d" % i for i in range(5)]


@pytest.mark.broker_config(dict(CLEANER, **{"offsets.topic.num.partitions": "1",
                                            "offsets.topic.segment.bytes": "1048576",
                                            "log.cleaner.min.cleanable.ratio": "0.01"}))
def test_consumer_offsets_compacted_to_latest_commit(broker):
    """Many commits of one group shrink, in __consumer_offsets, to the
    latest per key; the committed offset stays the newest."""
    ck = harness._ck()
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("offs"))
    ga, gb = "ga-" + harness.unique_topic("g"), "gb-" + harness.unique_topic("g")
    commits = 400
    meta = "m" * 3000  # ~3 KB a record: 400 commits fill more than a segment
    for g in (ga, gb):  # gb's commits push all of ga's out of the active segment
        c = harness.consumer(b, group=g)
        try:
            for i in range(commits):
                c.commit(offsets=[ck.TopicPartition(t, 0, i + 1, metadata=meta)],
                         asynchronous=False)
        finally:
            c.close()
    off_topic = "__consumer_offsets"
    hw = harness.watermarks(b, off_topic)[1]
    assert hw >= 2 * commits

    def ga_records():
        return [(o, v) for o, k, v in read_all(b, off_topic, hw, timeout=120)
                if k and ga.encode() in k]

    harness.wait_for(lambda: len(ga_records()) == 1, 90, interval=1,
                     what="compaction of %s's commits" % ga)
    [(o, v)] = ga_records()
    # OffsetCommit value (v1+): int16 version, int64 offset, ...
    assert int.from_bytes(v[2:10], "big") == commits
    c = harness.consumer(b, group=ga)
    try:
        [tp] = c.committed([ck.TopicPartition(t, 0)], timeout=30)
        assert tp.offset == commits
    finally:
        c.close()


@pytest.mark.broker_config(CLEANER)
def test_small_cleaned_segments_grouped(broker):
    """Many small segments that compact to little are rewritten as one
    (grouped up to segment.bytes), offsets and newest values kept."""
    b = broker.bootstrap
    # made as cleanup.policy=delete: no cleaning while the segments pile up
    t = harness.create_topic(b, harness.unique_topic("group"),
                             config=topic_config(cleanup_policy="delete"))
    produced = rounds(b, t, 20, 12)
    end = roll(b, t)
    before = broker.segment_files(t)
    assert len(before) >= 13
    set_topic_config(b, t, {"cleanup.policy": "compact"})
    wait_cleaned(broker, t, end)
    after = broker.segment_files(t)
    assert len(after) <= 2, "cleaned segments not grouped: %s" % [os.path.basename(p) for p in after]
    recs = read_all(b, t, end)
    assert_ordered(recs)
    newest = {}
    for o in sorted(produced):
        newest[produced[o][0]] = o
    assert {k: o for o, k, _ in recs} == newest
    assert {k: v for _, k, v in recs} == {b"k%d" % k: b"v11-%d" % k for k in range(20)}


@pytest.mark.broker_config(dict(CLEANER, **{"transaction.state.log.num.partitions": "1"}))
def test_transaction_state_compacted_to_latest_state(broker):
    """Many transactions of one transactional.id shrink, in
    __transaction_state, to its latest state record."""
    ck = harness._ck()
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("txs"))
    tid_a, tid_b = harness.unique_topic("tid-a"), harness.unique_topic("tid-b")

    def transactions(tid, n):
        p = ck.Producer({"bootstrap.servers": b, "transactional.id": tid, "linger.ms": 0})
        p.init_transactions(30)
        for i in range(n):
            p.begin_transaction()
            p.produce(t, key=b"x", value=b"%d" % i, partition=0)
            p.commit_transaction(30)

    transactions(tid_a, 1)  # creates __transaction_state
    state_topic = "__transaction_state"
    # small segments rolled by time, so a handful of transactions is enough
    set_topic_config(b, state_topic, {"segment.ms": str(ROLL_MS),
                                      "min.cleanable.dirty.ratio": "0.01"})
    time.sleep(0.5)
    transactions(tid_a, 20)
    time.sleep(ROLL_MS * 3 / 1000)
    transactions(tid_b, 1)  # rolls: all of tid_a's records are cleanable
    hw = harness.watermarks(b, state_topic)[1]

    def a_records():
        return [(o, v) for o, k, v in read_all(b, state_topic, hw)
                if k and tid_a.encode() in k]

    assert hw > 40  # tid_a's 21 transactions wrote a few state records each
    harness.wait_for(lambda: len(a_records()) == 1, 90, interval=1,
                     what="compaction of %s's transaction states" % tid_a)
    # the coordinator loads the compacted log: the transactional.id goes on
    broker.restart()
    b = broker.bootstrap
    transactions(tid_a, 1)
    # 23 transactions: a record + a marker each (Kafka writes the markers
    # after commit_transaction returns)
    harness.wait_for(lambda: harness.watermarks(b, t)[1] == 2 * 23, 30,
                     what="the last transaction's marker")
