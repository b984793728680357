"""Issue 6: memory stays bounded while the cleaner compacts a log of a
million distinct keys (plus updates), with a dedupe buffer far too small to
hold them (so it takes many passes), and every key's newest value survives.

confluent-kafka produces 1,000,000 keys, then updates every 5th key, then
enough other records to roll the data out of the active segment. The topic
is made with cleanup.policy=delete (nothing is cleaned while producing) and
switched to compact; from then until the cleaner's checkpoint reaches the
active segment, the broker's anonymous resident memory (RssAnon from
/proc/<pid>/status: heap and the offset map, not the page cache of the
segment files) is sampled. On Sluice its growth must stay under a bound
that a cleaner holding the keys (>= 24 bytes a key: 24 MB) could not meet.
Against Apache Kafka (a JVM) only the data outcome is asserted.
"""

import os
import threading
import time

import harness
from test_compaction_more import cleaner_checkpoint, set_topic_config

KEYS = 1_000_000
UPDATE_EVERY = 5
DEDUPE = 2 << 20  # ~87,000 keys a pass: a dozen passes
# growth allowed over the level before cleaning: the 2 MiB map, 1 MiB read
# and write buffers, a decompressed batch, allocator slack
RSS_BOUND = 12 << 20


def status_kb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon"):
                out[k] = int(v.split()[0])
    return out


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop, self.peak, self.n = pid, threading.Event(), {}, 0

    def run(self):
        while not self.stop.is_set():
            try:
                s = status_kb(self.pid)
            except OSError:
                return
            for k, v in s.items():
                self.peak[k] = max(self.peak.get(k, 0), v)
            self.n += 1
            time.sleep(0.02)


def produce_all(b, t):
    p = harness.producer(b, linger_ms=50, batch_size=1000000, compression_type="lz4",
                         queue_buffering_max_messages=1000000,
                         queue_buffering_max_kbytes=1048576)
    state = {"acked": 0, "err": None}

    def cb(err, msg):
        if err is not None:
            state["err"] = err
        else:
            state["acked"] += 1

    def send(k, v):
        while True:
            try:
                p.produce(t, key=k, value=v, partition=0, on_delivery=cb)
                return
            except BufferError:
                p.poll(0.05)

    n = 0
    for i in range(KEYS):
        send(b"k%07d" % i, b"v0-%07d" % i)
        n += 1
        if i % 10000 == 0:
            p.poll(0)
    for i in range(0, KEYS, UPDATE_EVERY):
        send(b"k%07d" % i, b"v1-%07d" % i)
        n += 1
    # incompressible filler: rolls the data out of the active segment
    for i in range(60000):
        send(b"f%06d" % i, os.urandom(32))
        n += 1
        if i % 10000 == 0:
            p.poll(0)
    assert p.flush(180) == 0, "undelivered messages"
    assert state["err"] is None, state["err"]
    assert state["acked"] == n
    return n


def read_back(b, t, hw):
    """From offset 0 to hw: checks increasing offsets; returns, per data key,
    how often it was seen and the code of the last value (1 v0, 2 v1)."""
    ck = harness._ck()
    c = harness.consumer(b, fetch_max_bytes=52428800, max_partition_fetch_bytes=10485760)
    seen = bytearray(KEYS)
    last = bytearray(KEYS)
    prev = -1
    try:
        c.assign([ck.TopicPartition(t, 0, 0)])
        deadline = time.monotonic() + 240
        while prev < hw - 1:
            assert time.monotonic() < deadline, "read up to %d of %d" % (prev, hw)
            for m in c.consume(10000, timeout=0.5):
                assert not m.error(), m.error()
                o = m.offset()
                assert o > prev, "offset %d after %d" % (o, prev)
                prev = o
                k = m.key()
                if k[:1] == b"k":
                    i = int(k[1:])
                    v = m.value()
                    assert v[3:] == k[1:], (k, v)
                    seen[i] = min(255, seen[i] + 1)
                    last[i] = 2 if v[:2] == b"v1" else 1
    finally:
        c.close()
    return seen, last


def test_million_keys_memory_bounded(broker_factory):
    config = {"log.cleaner.backoff.ms": "200",
              "log.cleaner.dedupe.buffer.size": str(DEDUPE)}
    env = None
    if harness.TARGET == "sluice":
        # the sanitizer build (make test) keeps freed memory in a quarantine
        # (256 MB by default, to catch use-after-free) that counts as
        # resident; this test measures memory, the others catch those bugs
        extra = "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
        env = {"ASAN_OPTIONS": ":".join(
            x for x in (os.environ.get("ASAN_OPTIONS", ""), extra) if x)}
    broker = broker_factory(config=config, env=env)
    b = broker.bootstrap
    t = harness.create_topic(b, harness.unique_topic("million"), config={
        "cleanup.policy": "delete", "retention.ms": "-1", "segment.bytes": "1048576",
        "min.cleanable.dirty.ratio": "0.01"})
    t0 = time.monotonic()
    n = produce_all(b, t)
    hw = harness.watermarks(b, t)[1]
    assert hw == n
    active = max(int(os.path.basename(p)[:20]) for p in broker.segment_files(t))
    assert active > KEYS + KEYS // UPDATE_EVERY, "the data must be out of the active segment"
    produced_s = time.monotonic() - t0

    sampler = None
    base = None
    if harness.TARGET == "sluice":
        time.sleep(0.5)
        base = status_kb(broker.pid)
        sampler = Sampler(broker.pid)
        sampler.start()
    t1 = time.monotonic()
    set_topic_config(b, t, {"cleanup.policy": "compact"})
    harness.wait_for(lambda: cleaner_checkpoint(broker, t) >= active, 240, interval=0.2,
                     what="cleaning of %s up to %d (at %d)" % (
                         t, active, cleaner_checkpoint(broker, t)))
    cleaned_s = time.monotonic() - t1
    if sampler:
        sampler.stop.set()
        sampler.join()

    seen, last = read_back(b, t, hw)
    missing = [i for i in range(KEYS) if not seen[i]]
    assert not missing, "%d keys lost, e.g. %s" % (len(missing), missing[:5])
    dups = [i for i in range(KEYS) if seen[i] > 1]
    assert not dups, "%d keys not compacted, e.g. %s" % (len(dups), dups[:5])
    want = bytes(2 if i % UPDATE_EVERY == 0 else 1 for i in range(KEYS))
    stale = [i for i in range(KEYS) if last[i] != want[i]]
    assert not stale, "%d keys with an old value, e.g. %s" % (len(stale), stale[:5])

    if sampler:
        grow = (sampler.peak["RssAnon"] - base["RssAnon"]) * 1024
        print("produce %.1fs, clean %.1fs; RssAnon %d kB before, peak %d kB (%d samples), "
              "VmRSS peak %d kB" % (produced_s, cleaned_s, base["RssAnon"],
                                    sampler.peak["RssAnon"], sampler.n, sampler.peak["VmRSS"]))
        assert sampler.n > 3
        assert grow <= RSS_BOUND, "RssAnon grew by %d bytes while cleaning (bound %d)" % (
            grow, RSS_BOUND)
