"""Issue 6, crash safety seen by a client: the broker process is killed with
SIGKILL in the middle of cleaning passes, many times, and after every
restart a consumer reading from offset 0 sees increasing offsets, every
record exactly as produced at its offset, and every acknowledged key's
newest value (last among its records).

Sluice only: the cleaner is throttled (log.cleaner.io.max.bytes.per.second)
so a pass takes long enough to be killed inside, and the broker's log says
whether a pass was running at the kill ("Beginning cleaning" without its
end); most kills must land inside one. (Apache Kafka's restart after a kill
takes tens of seconds; test_compaction.py::test_compaction_survives_kill9
runs against it too.) The kill points are drawn from a seeded RNG: set
SLUICE_TEST_SEED to replay."""

import os
import random
import time

import pytest

import harness
from test_compaction import read_all

pytestmark = pytest.mark.skipif(harness.TARGET != "sluice",
                                reason="kill points inside a pass need Sluice's log lines")

BROKER = {"log.cleaner.backoff.ms": "100",
          "log.cleaner.io.max.bytes.per.second": "3000000",
          "log.cleaner.dedupe.buffer.size": str(1 << 20)}
KEYS = 2000
VALUE = 400
KILLS = 10


def value(k, r):
    return (b"%d:%d:" % (k, r)).ljust(VALUE, b"x")


def pass_running(broker, topic):
    """True if, in the broker's output since its last start, a cleaning pass
    of topic-0 began and has not ended."""
    with open(broker.out_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    text = text[text.rfind("=== start"):]
    name = "%s-0" % topic
    began = text.count("Beginning cleaning of %s:" % name)
    ended = text.count("Cleaned %s up to" % name) + text.count("Cleaning of %s aborted" % name)
    return began > ended


@pytest.mark.broker_config(BROKER)
def test_kill9_in_the_middle_of_cleaning_many_times(broker):
    seed = int(os.environ.get("SLUICE_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
    rng = random.Random(seed)
    print("seed %d (replay with SLUICE_TEST_SEED=%d)" % (seed, seed))
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("kill"), config={
        "cleanup.policy": "compact", "segment.bytes": "1048576",
        "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "86400000"})
    produced = {}
    mid = 0
    for it in range(KILLS):
        # one round: a new value for every key (some deleted), lz4 or plain
        msgs = []
        for k in range(KEYS):
            v = None if (k % 97 == it % 97 and it % 3 == 2) else value(k, it)
            msgs.append({"key": b"k%d" % k, "value": v, "partition": 0})
        comp = "lz4" if it % 2 else "none"
        for m in harness.produce(b, t, msgs, linger_ms=20, compression_type=comp):
            produced[m.offset()] = (m.key(), m.value())
        # let a pass start, then kill at a random point of it
        try:
            harness.wait_for(lambda: pass_running(broker, t), 15, interval=0.02,
                             what="a cleaning pass of %s" % t)
        except AssertionError:
            pass  # the pass may have been quicker than the poll: still kill
        time.sleep(rng.uniform(0.0, 0.6))
        inside = pass_running(broker, t)
        broker.kill9()
        mid += inside
        broker.start()
        b = broker.bootstrap
        hw = harness.watermarks(b, t)[1]
        assert hw == max(produced) + 1, "acknowledged records lost (kill %d)" % it
        recs = read_all(b, t, hw)
        check(recs, produced, it)
    print("%d of %d kills inside a cleaning pass" % (mid, KILLS))
    assert mid >= KILLS // 2, "only %d of %d kills landed inside a cleaning pass" % (mid, KILLS)

    # and, left alone, the cleaner finishes: each key once below the active segment
    broker.restart({"log.cleaner.io.max.bytes.per.second": "1.7976931348623157E308"})
    b = broker.bootstrap
    active = max(int(os.path.basename(p)[:20]) for p in broker.segment_files(t))

    def done():
        recs = read_all(b, t, max(produced) + 1)
        ks = [k for o, k, _ in recs if o < active]
        return len(ks) == len(set(ks)), recs

    harness.wait_for(lambda: done()[0], 120, interval=1, what="compaction after the kills")
    check(done()[1], produced, "final")
    leftovers = [f for f in os.listdir(broker.partition_dir(t))
                 if f.endswith((".cleaned", ".swap", ".swapend"))]
    assert not leftovers, leftovers


def check(recs, produced, when):
    offs = [o for o, _, _ in recs]
    assert offs == sorted(set(offs)), "offsets out of order or repeated (kill %s)" % when
    for o, k, v in recs:
        assert produced.get(o) == (k, v), "offset %d holds %r (kill %s)" % (o, k, when)
    newest = {}
    for o in sorted(produced):
        newest[produced[o][0]] = o
    last = {}
    for o, k, _ in recs:
        last[k] = o
    for k, o in newest.items():
        if produced[o][1] is None and k not in last:
            continue  # a tombstone may go once its horizon passed (not here: 1 day)
        assert last.get(k) == o, "newest record of %r (offset %d) not last (kill %s)" % (k, o, when)
