"""The Java client's transactions: Apache Kafka's own
TransactionalMessageCopier (the consume-transform-produce tool of Kafka's
system tests, from the kafka-tools jar of scripts/kafka.sh) copies an input
partition to an output topic with random aborts, committing its input
offsets inside each transaction. It is kill -9'ed once at a random point
(seeded, printed; replay with TXN_JAVA_SEED=<n>) and restarted with the
same transactional.id; a read_committed reader then sees every input
record exactly once. Also the Java producer's idempotence (its default).
"""

import os
import random
import signal
import subprocess
import time

import pytest

import harness


def classpath():
    r = subprocess.run([harness.KAFKA_SH, "classpath"], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0 or not r.stdout.strip():
        pytest.skip("no Kafka classpath: %s" % r.stderr.strip()[-200:])
    return r.stdout.strip()


def copier(cp, bootstrap, src, dst, tid, group, log):
    args = ["java", "-Xmx256m", "-cp", cp, "org.apache.kafka.tools.TransactionalMessageCopier",
            "--broker-list", bootstrap, "--input-topic", src, "--input-partition", "0",
            "--output-topic", dst, "--transactional-id", tid, "--consumer-group", group,
            "--transaction-size", "25", "--enable-random-aborts", "--use-group-metadata"]
    out = open(log, "ab")
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    return p


def read_committed(bootstrap, topic, expect, timeout=60):
    import confluent_kafka as ck
    c = harness.consumer(bootstrap, **{"isolation.level": "read_committed"})
    try:
        c.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
        out = []
        deadline = time.monotonic() + timeout
        settle = None
        while time.monotonic() < deadline:
            out += [m.value().decode() for m in c.consume(500, timeout=0.3) if not m.error()]
            if len(out) >= expect:
                settle = settle or time.monotonic() + 2
                if time.monotonic() >= settle:
                    break
        return out
    finally:
        c.close()


def test_java_transactional_copier_exactly_once_with_kill(broker, tmp_path):
    cp = classpath()
    seed = int(os.environ.get("TXN_JAVA_SEED", random.randrange(1 << 30)))
    print("TXN_JAVA_SEED=%d" % seed)
    rnd = random.Random(seed)
    b = broker
    src = harness.create_topic(b.bootstrap, harness.unique_topic("jin"))
    dst = harness.create_topic(b.bootstrap, harness.unique_topic("jout"))
    n = 1000
    vals = ["j%05d" % i for i in range(n)]
    harness.produce(b.bootstrap, src, vals, partition=0)
    log = str(tmp_path / "copier.out")
    tid, group = "copier-" + src, "copier-g-" + src
    p = copier(cp, b.bootstrap, src, dst, tid, group, log)
    time.sleep(rnd.uniform(1.5, 4.0))
    killed = p.poll() is None
    if killed:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    print("killed mid-run: %s" % killed)
    p = copier(cp, b.bootstrap, src, dst, tid, group, log)
    try:
        assert p.wait(180) == 0, open(log).read()[-3000:]
    finally:
        if p.poll() is None:
            p.kill()
    got = read_committed(b.bootstrap, dst, n)
    dups = sorted({v for v in got if got.count(v) > 1})
    assert not dups, "duplicates (seed %d): %s" % (seed, dups[:10])
    assert sorted(got) == vals, "seed %d: %d records, %d expected" % (seed, len(got), n)


def test_java_idempotent_producer(broker):
    b = broker
    t = harness.create_topic(b.bootstrap, harness.unique_topic("jidem"))
    r = harness.kafka_tool("kafka-producer-perf-test.sh",
                           ["--topic", t, "--num-records", "20000", "--record-size", "100",
                            "--throughput", "-1", "--producer-props",
                            "bootstrap.servers=" + b.bootstrap, "enable.idempotence=true",
                            "acks=all", "batch.size=2000", "max.in.flight.requests.per.connection=5"])
    assert "20000 records sent" in r.stdout, r.stdout
    lo, hi = harness.watermarks(b.bootstrap, t)
    assert hi == 20000
