"""Broker restarts around idempotent and transactional producers:
- producer state survives a clean restart (a .snapshot is written at
  shutdown) and a kill -9 (rebuilt from the log): the same producer keeps
  writing in sequence, retries stay deduplicated;
- a transaction left open by a killed broker is aborted by its timeout after
  the restart, never shown to read_committed readers;
- (Sluice only, through the SLUICE_FAULTS fault points txn.after-prepare / txn.after-marker) a broker killed
  after PrepareCommit/PrepareAbort was written, or after only part of the
  markers were written, finishes the transaction on restart: all of it
  visible (commit) or none of it (abort), never half.
"""

import glob
import os
import threading
import time
import uuid

import pytest

import harness

pytestmark = pytest.mark.broker_config({
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
})

sluice_only = pytest.mark.skipif(harness.TARGET != "sluice",
                                 reason="crash points are a Sluice test hook")


def ck():
    import confluent_kafka
    return confluent_kafka


def read(bootstrap, topic, isolation, expect, partitions=(0,), settle=1.5, timeout=40):
    c = harness.consumer(bootstrap, **{"isolation.level": isolation})
    try:
        c.assign([ck().TopicPartition(topic, p, ck().OFFSET_BEGINNING) for p in partitions])
        out = []
        deadline = time.monotonic() + timeout
        extra_until = None
        while time.monotonic() < deadline:
            for m in c.consume(500, timeout=0.2):
                if m.error():
                    if m.error().retriable():
                        continue
                    raise AssertionError("consume error: %s" % m.error())
                out.append(m.value().decode())
            if len(out) >= expect:
                if extra_until is None:
                    extra_until = time.monotonic() + settle
                elif time.monotonic() >= extra_until:
                    break
        return out
    finally:
        c.close()


def test_idempotent_producer_across_restarts(broker):
    b = broker
    t = harness.create_topic(b.bootstrap, harness.unique_topic("snap"))
    p = harness.producer(b.bootstrap, **{"enable.idempotence": True, "linger.ms": 1,
                                         "reconnect.backoff.max.ms": 200,
                                         "message.timeout.ms": 60000})

    def send(vals):
        errs = []
        for v in vals:
            p.produce(t, value=v, partition=0,
                      on_delivery=lambda e, m: errs.append(e) if e else None)
        assert p.flush(60) == 0
        assert errs == []

    send(["a%d" % i for i in range(50)])
    b.stop()
    snaps = glob.glob(os.path.join(b.partition_dir(t), "*.snapshot"))
    assert snaps, "no producer snapshot written at shutdown"
    b.start()
    send(["b%d" % i for i in range(50)])  # same producer id, next sequences
    b.kill9()
    b.start()
    send(["c%d" % i for i in range(50)])
    got = read(b.bootstrap, t, "read_uncommitted", 150, settle=0.5)
    assert got == ["a%d" % i for i in range(50)] + ["b%d" % i for i in range(50)] + \
        ["c%d" % i for i in range(50)]


# Long enough that the transaction times out only once the restarted broker
# is registered and serves its partitions (a Kafka restart after kill -9
# waits out broker.session.timeout.ms, 9 s, before the new incarnation can
# register). Apache Kafka aborting a transaction while the restarted node
# still runs under its dead incarnation's registration can skip the abort
# marker: the fence of the old incarnation leaves the partition without a
# leader, TransactionMarkerChannelManager treats a partition without a leader
# as deleted and writes CompleteAbort without its marker, so the partition's
# last stable offset never moves again (a hanging transaction).
OPEN_TXN_TIMEOUT_MS = 30000


def test_open_transaction_of_killed_broker_is_aborted(broker):
    b = broker
    t = harness.create_topic(b.bootstrap, harness.unique_topic("open"))
    p = ck().Producer({"bootstrap.servers": b.bootstrap,
                       "transactional.id": "open-" + uuid.uuid4().hex[:6],
                       "transaction.timeout.ms": OPEN_TXN_TIMEOUT_MS, "linger.ms": 1})
    p.init_transactions(30)
    p.begin_transaction()
    for i in range(5):
        p.produce(t, value="open-%d" % i, partition=0)
    p.flush(30)
    started = time.monotonic()  # the transaction's clock started a little earlier
    b.kill9()
    b.start()
    harness.produce(b.bootstrap, t, ["after"], partition=0)
    restarted = time.monotonic() - started
    assert restarted < OPEN_TXN_TIMEOUT_MS / 1000.0 - 2, (
        "the restart took %.1f s, the transaction may have timed out before the broker "
        "was back (see OPEN_TXN_TIMEOUT_MS)" % restarted)
    got = read(b.bootstrap, t, "read_committed", 1,
               timeout=OPEN_TXN_TIMEOUT_MS / 1000.0 + 30)
    assert got == ["after"]
    assert b.running()
    assert len(read(b.bootstrap, t, "read_uncommitted", 6, settle=0.2)) == 6


def _crash_run(broker, point, commit, partitions=2):
    b = broker
    t = harness.create_topic(b.bootstrap, harness.unique_topic("crash"), partitions=partitions)
    tid = "crash-" + uuid.uuid4().hex[:6]
    p = ck().Producer({"bootstrap.servers": b.bootstrap, "transactional.id": tid,
                       "linger.ms": 1, "transaction.timeout.ms": 60000})
    p.init_transactions(30)
    p.begin_transaction()
    vals = ["x%d" % i for i in range(20)]
    for i, v in enumerate(vals):
        p.produce(t, value=v, partition=i % partitions)
    p.flush(30)
    # the next start of the broker dies at the crash point
    b.stop()
    os.environ["SLUICE_FAULTS"] = point
    try:
        b.start()
    finally:
        del os.environ["SLUICE_FAULTS"]
    # The producer talks to the restarted broker (same port); the end of
    # its transaction kills the broker at the crash point.
    done = []

    def end():
        try:
            (p.commit_transaction if commit else p.abort_transaction)(20)
            done.append(None)
        except Exception as e:  # noqa: BLE001 - the broker died under it
            done.append(e)

    th = threading.Thread(target=end, daemon=True)
    th.start()
    harness.wait_for(lambda: not b.running(), 30, what="broker killed at %s" % point)
    b.kill9()  # reap
    b.start()
    th.join(40)
    expect = len(vals) if commit else 0
    got = read(b.bootstrap, t, "read_committed", expect, partitions=range(partitions))
    if commit:
        assert sorted(got) == sorted(vals)
    else:
        assert got == []
    # and the partitions are not stuck behind an open transaction
    harness.produce(b.bootstrap, t, ["later"], partition=0)
    got = read(b.bootstrap, t, "read_committed", expect + 1, partitions=range(partitions))
    assert "later" in got and len(got) == expect + 1


@sluice_only
def test_crash_after_prepare_commit_commits_on_restart(broker):
    _crash_run(broker, "txn.after-prepare", True)


@sluice_only
def test_crash_after_first_commit_marker_commits_everywhere(broker):
    _crash_run(broker, "txn.after-marker", True)


@sluice_only
def test_crash_after_prepare_abort_aborts_on_restart(broker):
    _crash_run(broker, "txn.after-prepare", False)


@sluice_only
def test_snapshot_and_txnindex_read_by_kafka_dump_log(broker):
    """Kafka's own kafka-dump-log.sh decodes our .snapshot and .txnindex."""
    b = broker
    t = harness.create_topic(b.bootstrap, harness.unique_topic("dump"))
    harness.produce(b.bootstrap, t, ["a", "b", "c"], partition=0, **{"enable.idempotence": True})
    p = ck().Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "dump-" + t})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(t, value="t1", partition=0)
    p.flush(10)
    p.abort_transaction(10)
    p.begin_transaction()
    p.produce(t, value="t2", partition=0)
    p.flush(10)
    b.stop()
    d = b.partition_dir(t)
    snaps = glob.glob(os.path.join(d, "*.snapshot"))
    idx = glob.glob(os.path.join(d, "*.txnindex"))
    assert len(snaps) == 1 and len(idx) == 1
    r = harness.kafka_tool("kafka-dump-log.sh", ["--files", ",".join(idx + snaps)])
    out = r.stdout
    # offsets: a b c = 0-2 (producer A), t1 = 3, ABORT marker = 4, t2 = 5 (open)
    assert "version: 0 producerId:" in out and "firstOffset: 3 lastOffset: 4 " \
        "lastStableOffset: 5" in out, out
    assert "lastSequence: 2 lastOffset: 2 offsetDelta: 2" in out, out
    assert "currentTxnFirstOffset: OptionalLong[5]" in out, out
    b.start()
