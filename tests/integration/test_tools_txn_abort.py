"""kafka-transactions.sh abort and find-hanging (Sluice's tool and Apache
Kafka's own tool, against the broker under test): an open transaction is
found through DescribeProducers and aborted with WriteTxnMarkers sent to the
partition leader, as Kafka's Admin.abortTransaction does."""

import time

import harness
from toolcli import clean_stderr, kafka, run


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def open_txn(b, t, txid):
    """A transactional producer with one record of an open transaction on
    t-0 (never committed)."""
    p = harness.producer(b.bootstrap, **{"transactional.id": txid,
                                         "transaction.timeout.ms": 120000})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(t, b"v", partition=0)
    p.flush(30)
    return p


def producers(b, t):
    r = run("transactions", *bs(b), "describe-producers", "--topic", t, "--partition", "0",
            check=True)
    return [l.split() for l in r.stdout.splitlines()[1:]]


def test_abort_by_start_offset(module_broker):
    b = module_broker
    t = harness.unique_topic("abort")
    harness.create_topic(b.bootstrap, t)
    harness.produce(b.bootstrap, t, [b"plain"], partition=0)
    p = open_txn(b, t, "txa-" + t)
    rows = producers(b, t)
    txn_rows = [r for r in rows if r[5] != "None"]
    assert len(txn_rows) == 1 and txn_rows[0][5] == "1", rows
    pid = txn_rows[0][0]

    # nothing hangs: the coordinator lists the partition in the transaction
    args = ["find-hanging", "--topic", t, "--max-transaction-timeout", "0"]
    ours = run("transactions", *bs(b), *args, check=True)
    assert ours.stdout.split() == ["Topic", "Partition", "ProducerId", "ProducerEpoch",
                                   "CoordinatorEpoch", "StartOffset", "LastTimestamp",
                                   "Duration(min)"]
    assert kafka("transactions", *bs(b), *args).stdout == ours.stdout

    # wrong offset: Kafka's message, exit 1, on both tools
    args = ["abort", "--topic", t, "--partition", "0", "--start-offset", "7"]
    ours = run("transactions", *bs(b), *args)
    assert ours.returncode == 1
    assert ours.stderr == ("Could not find any open transactions starting at offset 7 on "
                           "partition %s-0\n" % t)
    theirs = kafka("transactions", *bs(b), *args)
    assert theirs.returncode == 1 and clean_stderr(theirs.stderr) == ours.stderr.strip()

    r = run("transactions", *bs(b), "abort", "--topic", t, "--partition", "0",
            "--start-offset", "1", check=True)
    assert r.stdout == "" and r.stderr == ""
    rows = producers(b, t)
    assert [r[5] for r in rows if r[0] == pid] == ["None"]
    # the partition's last stable offset moved past the aborted data: a
    # read_committed consumer reaches the end (plain + 1 aborted + marker)
    got = harness.consume(b.bootstrap, t, 1, timeout=30, **{"isolation.level": "read_committed"})
    assert [m.value() for m in got] == [b"plain"]
    try:
        p.abort_transaction(10)
    except Exception:
        pass


def test_abort_by_producer_id_with_kafkas_tool(module_broker):
    b = module_broker
    t = harness.unique_topic("abortk")
    harness.create_topic(b.bootstrap, t)
    p = open_txn(b, t, "txk-" + t)
    row = [r for r in producers(b, t) if r[5] != "None"][0]
    pid, epoch, cepoch = row[0], row[1], row[2]
    base = ["abort", "--topic", t, "--partition", "0"]
    # missing pieces of the old-broker form: same message from both tools
    for extra, msg in ((["--producer-id", pid], "Missing required argument --producer-epoch"),
                       (["--producer-id", pid, "--producer-epoch", epoch],
                        "Missing required argument --coordinator-epoch"),
                       ([], "The transaction to abort must be identified either with "
                            "--start-offset (for brokers on 3.0 or above) or with --producer-id, "
                            "--producer-epoch, and --coordinator-epoch (for older brokers)")):
        ours = run("transactions", *bs(b), *base, *extra)
        assert ours.returncode == 1 and ours.stderr == msg + "\n"
        theirs = kafka("transactions", *bs(b), *base, *extra)
        assert theirs.returncode == 1 and clean_stderr(theirs.stderr) == msg
    theirs = kafka("transactions", *bs(b), *base, "--producer-id", pid, "--producer-epoch",
                   epoch, "--coordinator-epoch", cepoch)
    assert theirs.returncode == 0, theirs.stderr
    assert [r[5] for r in producers(b, t) if r[0] == pid] == ["None"]
    try:
        p.abort_transaction(10)
    except Exception:
        pass


def test_find_hanging_flags(module_broker):
    b = module_broker
    for args, msg in ((["find-hanging"], "The `find-hanging` command requires either --topic "
                       "or --broker-id to limit the scope of the search"),
                      (["find-hanging", "--broker-id", "1", "--partition", "0"],
                       "The --partition argument requires --topic to be provided")):
        ours = run("transactions", *bs(b), *args)
        assert ours.returncode == 1 and ours.stderr == msg + "\n"
        theirs = kafka("transactions", *bs(b), *args)
        assert theirs.returncode == 1 and clean_stderr(theirs.stderr) == msg
    # a broker-wide search over every partition it hosts finds nothing old
    t = harness.unique_topic("fh")
    harness.create_topic(b.bootstrap, t, partitions=3)
    time.sleep(0.1)
    ours = run("transactions", *bs(b), "find-hanging", "--broker-id", "1", check=True)
    assert len(ours.stdout.splitlines()) == 1
    theirs = kafka("transactions", *bs(b), "find-hanging", "--broker-id", "1")
    assert theirs.stdout == ours.stdout
