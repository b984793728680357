"""Exactly-once consume-transform-produce on a replicated cluster while
brokers are bounced, as Apache Kafka's own transactions system test does
(tests/kafkatest/tests/core/transactions_test.py with its
TransactionalMessageCopier): an input topic (three partitions, three
replicas, min.insync.replicas 2) holds N numbered records; a copier (a
transactional producer and a read_committed consumer in a group, offsets
sent to the transaction, one commit per small batch) copies it to an
output topic while the brokers are bounced one after the other, by kill -9
and restart or by a clean restart (SIGTERM), among them the node that
leads the __transaction_state partition of the copier's transactional id
and the group's coordinator. At the end a read_committed consumer of the
output finds every input value exactly once.

The copier is this file run as a script (`--copier`), as Kafka's test runs
its copier as a process: an abortable error aborts the transaction and
rewinds the consumer to the group's committed offsets; a fatal one (the
producer fenced, ...) ends the process and the test starts a new copier
with the same transactional id, which fences the old one and resumes from
the committed offsets (Kafka's test restarts a copier that died too).

The same test runs on Apache Kafka (SLUICE_TARGET=kafka)."""

import os
import signal
import subprocess
import sys
import threading
import time

import harness
from test_cluster_coordinators import FAILOVER_S, bootstrap, coordinator
from test_cluster_forwarding import NODES, cluster  # noqa: F401 (fixture)
from test_txn_eos import read_committed

PARTS = 3
N = 900           # input records, N / PARTS per partition
BATCH = 10        # records per transaction at most
PACE_S = 0.3      # inside each transaction: the copy spans the bounces,
                  # which hit open transactions

# A client call that has not returned this long after its own timeout is
# hung: librdkafka 2.x can block in send_offsets_to_transaction() once a
# Metadata answer left out a broker it had cached as a coordinator (a
# fenced or shutting-down broker is left out, on Kafka too), ignoring its
# timeout (confluentinc/librdkafka#5511; see test_txn_eos.py). The copier
# exits and the test starts another, as after any fatal error.
CALL_GUARD_S = 25
CALL_TIMEOUT_S = 10  # a call's own timeout; a timeout is retried


def guarded(what, fn, *args):
    def hung():
        print("copier: %s did not return in %d s (client hang); exiting"
              % (what, CALL_GUARD_S), flush=True)
        os._exit(3)
    t = threading.Timer(CALL_GUARD_S, hung)
    t.daemon = True
    t.start()
    try:
        return fn(*args)
    finally:
        t.cancel()


def copier_main(bs, src, dst, group, tid, progress):
    """Kafka's TransactionalMessageCopier with --use-group-metadata."""
    import confluent_kafka as ck
    from confluent_kafka import KafkaException, TopicPartition
    debug = {"debug": os.environ["COPIER_DEBUG"]} if os.environ.get("COPIER_DEBUG") else {}
    p = ck.Producer({"bootstrap.servers": bs, "transactional.id": tid, "acks": "all",
                     "linger.ms": 5, "transaction.timeout.ms": 30000,
                     "message.timeout.ms": 30000, **debug})
    c = ck.Consumer({"bootstrap.servers": bs, "group.id": group,
                     "isolation.level": "read_committed", "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                     "heartbeat.interval.ms": 1000})
    c.subscribe([src])

    def rewind():
        """Back to the group's committed offsets (KafkaConsumer.seek to
        committed() in Kafka's copier after an abort)."""
        assigned = c.assignment()
        if not assigned:
            return
        for tp in guarded("committed", c.committed, assigned, CALL_TIMEOUT_S):
            if tp.offset < 0:
                tp.offset = ck.OFFSET_BEGINNING
            c.seek(tp)

    def retry(what, fn, *args):
        """A retriable error (a timeout while brokers move) means: call
        again; abortable or fatal ones go up."""
        while True:
            try:
                return guarded(what, fn, *args)
            except KafkaException as e:
                if e.args[0].retriable() and not e.args[0].txn_requires_abort():
                    print("copier: %s: %s; retrying" % (what, e), flush=True)
                    continue
                raise

    retry("init_transactions", p.init_transactions, CALL_TIMEOUT_S)
    copied = 0
    try:
        while True:
            msgs = [m for m in c.consume(BATCH, timeout=0.5) if m.error() is None]
            if not msgs:
                continue
            offsets = {}
            for m in msgs:
                offsets[m.partition()] = m.offset() + 1
            try:
                p.begin_transaction()
                for m in msgs:
                    p.produce(dst, value=m.value(), partition=m.partition())
                time.sleep(PACE_S)
                retry("send_offsets_to_transaction", p.send_offsets_to_transaction,
                      [TopicPartition(src, k, v) for k, v in offsets.items()],
                      c.consumer_group_metadata(), CALL_TIMEOUT_S)
                retry("commit_transaction", p.commit_transaction, CALL_TIMEOUT_S)
            except KafkaException as e:
                if e.args[0].fatal() or not e.args[0].txn_requires_abort():
                    raise
                print("copier: abortable %s; aborting and rewinding" % e, flush=True)
                retry("abort_transaction", p.abort_transaction, CALL_TIMEOUT_S)
                rewind()
                continue
            copied += len(msgs)
            with open(progress, "a") as f:
                f.write("%d\n" % len(msgs))
    except KafkaException as e:
        print("copier: fatal %s after %d records; exiting" % (e, copied), flush=True)
        c.close()
        sys.exit(2)


class Copier:
    def __init__(self, bs, src, dst, group, tid, workdir):
        self.progress = os.path.join(workdir, "copier.progress")
        self.log = os.path.join(workdir, "copier.out")
        self.args = [sys.executable, os.path.abspath(__file__), "--copier", bs, src, dst,
                     group, tid, self.progress]
        self.proc = None
        self.starts = 0

    def ensure(self):
        """Started, or started again after it exited (fenced, fatal)."""
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                print("copier exited with %s; starting another" % self.proc.returncode)
            self.starts += 1
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT,
                                             start_new_session=True)

    def copied(self):
        """Records in committed transactions (all incarnations)."""
        try:
            with open(self.progress) as f:
                return sum(int(x) for x in f.read().split())
        except FileNotFoundError:
            return 0

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(line for line in f.readlines()
                               if not line.startswith("%"))[-4000:]
        except FileNotFoundError:
            return ""


def make_topic(bs, prefix):
    """Three partitions of three replicas, min.insync.replicas 2, created
    once the three brokers are unfenced."""
    name = harness.unique_topic(prefix)

    def created():
        try:
            harness.create_topic(bs, name, partitions=PARTS, replication_factor=3,
                                 config={"min.insync.replicas": 2}, timeout=30)
            return True
        except Exception as e:
            if "already exists" in str(e):
                return True
            print("create %s: %s" % (name, e))
            return False
    harness.wait_for(created, 120, interval=1, what="topic %s created" % name)
    return name


def isr_full(bs, topics):
    """Every partition of topics led, with its three replicas in the ISR."""
    try:
        md = harness.admin(bs).list_topics(timeout=10)
    except Exception:
        return False
    for t in topics:
        tm = md.topics.get(t)
        if tm is None or tm.error is not None or not tm.partitions:
            return False
        for p in tm.partitions.values():
            if p.leader < 0 or len(p.isrs) != len(NODES):
                return False
    return True


def clean_restart(c, n):
    """SIGTERM (a controlled shutdown), wait for the exit, start again."""
    pid = c.pid(n)
    os.kill(pid, signal.SIGTERM)

    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
    harness.wait_for(gone, 120, interval=0.2, what="node %d exiting after SIGTERM" % n)
    c.run("start-node", str(n))


def test_copier_copies_exactly_once_while_brokers_bounce(cluster, tmp_path):  # noqa: F811
    c = cluster
    bs = bootstrap(c)
    src = make_topic(bs, "eos-in")
    dst = make_topic(bs, "eos-out")
    vals = ["v%05d" % i for i in range(N)]
    harness.produce(bs, src, [{"value": v, "partition": i % PARTS} for i, v in enumerate(vals)],
                    acks="all", **{"enable.idempotence": True})

    tid = "eos-copier-" + src
    group = "eos-group-" + src
    copier = Copier(bs, src, dst, group, tid, str(tmp_path))
    t0 = time.monotonic()
    copier.ensure()
    try:
        def progressed(since, n):
            def ok():
                copier.ensure()
                return copier.copied() >= min(since + n, N)
            return ok
        harness.wait_for(progressed(0, 1), FAILOVER_S, interval=0.2,
                         what="the copier's first transaction")
        internal = ["__transaction_state", "__consumer_offsets"]
        # (how to pick the node, how to bounce it)
        # kill9: kill -9 and restart at once (Kafka's hard bounce);
        # kill9-failover: restart once another node took the coordinator over
        rounds = [("txn", "kill9"), ("group", "clean"), ("txn", "clean"),
                  ("txn", "kill9-failover")]
        for i, (who, how) in enumerate(rounds):
            txn_coord = coordinator(c, tid, 1)
            group_coord = coordinator(c, group, 0)
            n = txn_coord if who == "txn" else group_coord
            before = copier.copied()
            print("%.1f s: round %d: %s node %d (txn coordinator %d, group coordinator %d), "
                  "%d copied" % (time.monotonic() - t0, i, how, n, txn_coord, group_coord,
                                 before))
            if how.startswith("kill9"):
                c.run("kill9", str(n))
                if how == "kill9-failover":
                    alive = tuple(x for x in NODES if x != n)
                    coordinator(c, tid, 1, alive)
                    print("%.1f s: coordinator moved, %d copied" % (time.monotonic() - t0,
                                                                    copier.copied()))
                c.run("start-node", str(n))
            else:
                clean_restart(c, n)
            # back in every ISR before the next bounce (min.insync.replicas
            # 2 of 3: two nodes out at once would stop the writes)
            harness.wait_for(lambda: isr_full(bs, [src, dst] + internal), 2 * FAILOVER_S,
                             interval=0.5, what="node %d back in every ISR" % n)
            print("%.1f s: ISR full, %d copied" % (time.monotonic() - t0, copier.copied()))
            harness.wait_for(progressed(before, 30), 2 * FAILOVER_S, interval=0.2,
                             what="the copier going on after round %d" % i)
        harness.wait_for(progressed(0, N), 3 * FAILOVER_S, interval=0.3,
                         what="the copier done (%d of %d)" % (copier.copied(), N))
    except Exception:
        print("copier output (tail):\n" + copier.tail())
        raise
    finally:
        copier.stop()
        if os.environ.get("COPIER_LOG"):
            import shutil
            shutil.copy(copier.log, os.environ["COPIER_LOG"])
    print("%.1f s: copier done, starts: %d" % (time.monotonic() - t0, copier.starts))

    got = read_committed(bs, dst, N, timeout=60, parts=PARTS)
    dups = sorted({v for v in got if got.count(v) > 1})
    missing = sorted(set(vals) - set(got))
    if dups or missing or len(got) != N:
        print("copier output (tail):\n" + copier.tail())
    assert not dups, "copied more than once: %s" % dups[:10]
    assert not missing, "not copied: %s" % missing[:10]
    assert len(got) == N


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--copier":
    copier_main(*sys.argv[2:8])
