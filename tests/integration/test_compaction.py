"""Issue 6: log compaction with real clients. Keyed updates and tombstones
converge to the newest value per key, offsets and order are kept (consumers
see gaps, never renumbering), a reader from offset 0 sees a consistent log
while the cleaner runs, and the log survives a kill -9 during cleaning.

The same tests run against Apache Kafka (SLUICE_TARGET=kafka): 1 MiB
segments (Kafka's minimum segment.bytes), min.cleanable.dirty.ratio=0.01 and
a short log.cleaner.backoff.ms so both compact within seconds."""

import threading
import time

import pytest

import harness

CLEANER = {"log.cleaner.backoff.ms": "200"}
SEGMENT = 1048576
TOPIC_CONFIG = {"cleanup.policy": "compact", "segment.bytes": str(SEGMENT),
                "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "86400000"}
VALUE = 1000


def value(k, r):
    return (b"%d:%d:" % (k, r)).ljust(VALUE, b"x")


def produce_rounds(b, t, keys, rounds, first_round=0, tombstones=(), compression="lz4"):
    """Each round updates every key; in the last round keys in tombstones get
    a null value. Returns {offset: (key, value)}."""
    msgs = []
    for r in range(first_round, first_round + rounds):
        last = r == first_round + rounds - 1
        for k in range(keys):
            v = None if (last and k in tombstones) else value(k, r)
            msgs.append({"key": b"k%d" % k, "value": v, "partition": 0})
    out = {}
    for i in range(0, len(msgs), 2000):
        for m in harness.produce(b, t, msgs[i:i + 2000], linger_ms=20,
                                 compression_type=compression):
            out[m.offset()] = (m.key(), m.value())
    return out


def filler(b, t, n, tag=b"f"):
    """Other keys after the data, so its segments roll and become cleanable."""
    out = {}
    msgs = [{"key": tag + b"%d" % i, "value": b"y" * VALUE, "partition": 0} for i in range(n)]
    for m in harness.produce(b, t, msgs, linger_ms=20):
        out[m.offset()] = (m.key(), m.value())
    return out


def read_all(b, t, end, timeout=60):
    """Every record from offset 0 up to `end` (exclusive) as a list of
    (offset, key, value), read with a plain assign (no group)."""
    ck = harness._ck()
    c = harness.consumer(b, enable_partition_eof=True)
    out = []
    try:
        c.assign([ck.TopicPartition(t, 0, 0)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == ck.KafkaError._PARTITION_EOF:
                    if m.offset() >= end:
                        return out
                    continue
                raise AssertionError("consume error: %s" % m.error())
            if m.offset() >= end:
                return out
            out.append((m.offset(), m.key(), m.value()))
            if m.offset() == end - 1:
                return out
        raise AssertionError("read %d records of %s in %ss (to offset %d)" % (len(out), t, timeout, end))
    finally:
        c.close()


def check_consistent(recs, produced):
    """Offsets strictly grow and each record is exactly what was produced at
    that offset (no renumbering, no garbage)."""
    offs = [o for o, _, _ in recs]
    assert offs == sorted(set(offs)), "offsets out of order or repeated"
    for o, k, v in recs:
        assert produced[o] == (k, v), "offset %d holds %r, produced %r" % (o, (k, v[:20] if v else v), produced[o][0])


def newest_by_key(produced, below):
    last = {}
    for o in sorted(produced):
        if o < below:
            last[produced[o][0]] = o
    return last


@pytest.mark.broker_config(CLEANER)
def test_compaction_converges_to_newest_value_per_key(broker):
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("compact"), config=TOPIC_CONFIG)
    keys, rounds = 300, 8
    produced = produce_rounds(b, t, keys, rounds, tombstones=set(range(30)))
    produced.update(filler(b, t, 1500))  # > 1 segment: the data is all cleanable
    hw = harness.watermarks(b, t)[1]
    assert hw == keys * rounds + 1500

    def converged():
        recs = read_all(b, t, hw)
        ks = [k for _, k, _ in recs if k.startswith(b"k")]
        return len(ks) == len(set(ks)), recs

    harness.wait_for(lambda: converged()[0], 120, interval=1, what="compaction of %s" % t)
    recs = converged()[1]
    check_consistent(recs, produced)
    seen = {k: (o, v) for o, k, v in recs}
    for k in range(keys):
        key = b"k%d" % k
        if k < 30:
            # tombstone kept (delete.retention.ms not over), old values gone
            assert key not in seen or seen[key][1] is None
        else:
            assert seen[key][1] == value(k, rounds - 1)
            # the newest value keeps its original offset
            assert seen[key][0] == newest_by_key(produced, hw)[key]
    assert len(recs) < len(produced) / 2
    lo, hi = harness.watermarks(b, t)
    assert (lo, hi) == (0, hw)  # compaction never moves the log start or end


@pytest.mark.broker_config(CLEANER)
def test_reader_from_zero_consistent_while_cleaning(broker):
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("cread"), config=TOPIC_CONFIG)
    produced = {}
    lock = threading.Lock()
    done = threading.Event()
    errors = []

    def writer():
        try:
            for r in range(6):
                # uncompressed: ~5 segments, so the cleaner works meanwhile
                p = produce_rounds(b, t, 400, 2, first_round=2 * r, compression="none")
                with lock:
                    produced.update(p)
        except Exception as e:  # surfaced by the main thread
            errors.append(e)
        finally:
            done.set()

    th = threading.Thread(target=writer)
    th.start()
    reads = compacted = 0
    seen = []  # per read: (end, {key: offset of its last record})
    deadline = time.monotonic() + 120
    try:
        # read on until a read has seen the cleaner's work (fewer records
        # than produced): the reads ran while it cleaned
        while not done.is_set() or reads < 3 or (not compacted and time.monotonic() < deadline):
            with lock:
                snap = dict(produced)
            if not snap:
                time.sleep(0.2)
                continue
            end = max(snap) + 1
            recs = read_all(b, t, end)
            check_consistent(recs, snap)
            seen.append((end, {k: o for o, k, _ in recs}))
            reads += 1
            compacted += len(recs) < len(snap)
    finally:
        th.join()
    assert not errors, errors
    assert reads >= 3
    assert compacted, "no read saw a compacted log"
    # Compaction never drops the newest value of a key: in each read, the
    # last record of a key is its newest below the read's end - unless the
    # key already had a newer record beyond that end (written while the
    # read began: the cleaner may have dropped the older ones then).
    offsets = {}
    for o in sorted(produced):
        offsets.setdefault(produced[o][0], []).append(o)
    for end, last in seen:
        for key, off in newest_by_key(produced, end).items():
            if last.get(key) != off:
                assert offsets[key][-1] >= end, \
                    "newest record of %r below %d (offset %d) not last in a read: %r" % (
                        key, end, off, last.get(key))
    # once the writer is done, a read to the end sees each key's newest last
    hw = max(produced) + 1
    recs = read_all(b, t, hw)
    check_consistent(recs, produced)
    last = {k: o for o, k, _ in recs}
    assert last == {k: o[-1] for k, o in offsets.items()}


@pytest.mark.broker_config(CLEANER)
def test_compaction_survives_kill9(broker):
    """kill -9 while the cleaner works (several times), then the log is
    readable, ordered, and every key's newest value is there."""
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("ckill"), config=TOPIC_CONFIG)
    produced = {}
    for i in range(4):
        produced.update(produce_rounds(b, t, 400, 3, first_round=3 * i))
        produced.update(filler(b, t, 600, tag=b"f%d-" % i))
        time.sleep(0.3 + 0.2 * i)  # the cleaner is busy with the new data
        broker.kill9()
        broker.start()
        b = broker.bootstrap
        hw = harness.watermarks(b, t)[1]
        assert hw == max(produced) + 1
        recs = read_all(b, t, hw)
        check_consistent(recs, produced)
        got = {k for _, k, _ in recs}
        for key in newest_by_key(produced, hw):
            assert key in got
