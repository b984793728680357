"""Exactly-once consume-transform-produce with a KIP-848 consumer group
(group.protocol=consumer): the consumer's offsets go into the transaction
(TxnOffsetCommit with the member's epoch), an aborted transaction leaves the
group's committed offsets and the output untouched, and a committed one moves
both. (The member-epoch check itself is unit-tested in test_group_consumer.c:
grp_txn_commit_check.)"""

import time

import harness


def ck():
    import confluent_kafka
    return confluent_kafka


def poll_n(c, n, timeout=60):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        for m in c.consume(n - len(out), timeout=0.5):
            if m.error():
                if m.error().retriable():
                    continue
                raise AssertionError("consume error: %s" % m.error())
            out.append(m)
    assert len(out) == n, "got %d of %d records" % (len(out), n)
    return out


def committed_total(bootstrap, group, topic, partitions):
    c = harness.consumer(bootstrap, group=group)
    try:
        tps = c.committed([ck().TopicPartition(topic, p) for p in range(partitions)], 20)
        return sum(max(tp.offset, 0) for tp in tps)
    finally:
        c.close()


def test_eos_with_consumer_protocol_group(broker):
    bs = broker.bootstrap
    src = harness.create_topic(bs, harness.unique_topic("eos848-in"), partitions=3)
    dst = harness.create_topic(bs, harness.unique_topic("eos848-out"), partitions=1)
    harness.produce(bs, src, ["r%d" % i for i in range(60)])
    group = harness.unique_topic("eos848-g")
    c = harness.consumer(bs, group=group, **{"group.protocol": "consumer",
                                             "isolation.level": "read_committed"})
    p = ck().Producer({"bootstrap.servers": bs, "transactional.id": harness.unique_topic("t"),
                       "linger.ms": 1})
    try:
        c.subscribe([src])
        p.init_transactions(30)

        def run(count, commit):
            msgs = poll_n(c, count)
            p.begin_transaction()
            for m in msgs:
                p.produce(dst, value=b"out-" + m.value(), partition=0)
            p.send_offsets_to_transaction(c.position(c.assignment()),
                                          c.consumer_group_metadata(), 30)
            if commit:
                p.commit_transaction(30)
            else:
                p.abort_transaction(30)
            return msgs

        first = run(30, commit=True)
        assert committed_total(bs, group, src, 3) == 30
        # An aborted transaction moves neither the output nor the offsets.
        run(30, commit=False)
        assert committed_total(bs, group, src, 3) == 30
        # The application rewinds to its committed offsets (as it would after
        # a crash) and processes the rest in one committed transaction.
        tps = c.committed(c.assignment(), 20)
        for tp in tps:
            c.seek(tp)
        rest = run(30, commit=True)
        assert committed_total(bs, group, src, 3) == 60
        vals = sorted(m.value().decode() for m in first + rest)
        assert vals == sorted("r%d" % i for i in range(60))
    finally:
        c.close()
    out = harness.consume(bs, dst, 60, **{"isolation.level": "read_committed"})
    assert sorted(m.value().decode() for m in out) == sorted("out-r%d" % i for i in range(60))
