"""kafka-features.sh, kafka-transactions.sh, kafka-leader-election.sh and
kafka-metadata-quorum.sh against Apache Kafka's own tools' output."""

import re

import pytest

import harness
from toolcli import kafka, run


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def test_features_describe(module_broker):
    b = module_broker
    r = run("features", *bs(b), "describe")
    if r.returncode != 0:
        pytest.skip("broker reports no features: %s" % r.stderr.strip())
    lines = r.stdout.splitlines()
    assert any(l.startswith("Feature: metadata.version ") for l in lines)
    for l in lines:
        assert re.fullmatch(r"Feature: \S+ +SupportedMinVersion: \S+ +SupportedMaxVersion: \S+ +"
                            r"FinalizedVersionLevel: \S+ +Epoch: -?\d+", l), l
    theirs = kafka("features", *bs(b), "describe")
    strip = lambda s: [re.sub(r"Epoch: -?\d+", "", l) for l in s.splitlines()]
    assert strip(r.stdout) == strip(theirs.stdout)


def test_leader_election(module_broker):
    b = module_broker
    t = harness.unique_topic("le")
    harness.create_topic(b.bootstrap, t, partitions=2)
    args = ["--election-type", "preferred", "--topic", t, "--partition", "0"]
    r = run("leader-election", *bs(b), *args, check=True)
    assert r.stdout == "Valid replica already elected for partitions %s-0\n" % t
    assert kafka("leader-election", *bs(b), *args).stdout == r.stdout
    r = run("leader-election", *bs(b), "--election-type", "preferred", "--all-topic-partitions",
            check=True)
    assert "Error" not in r.stdout
    r = run("leader-election", *bs(b), "--topic", t, "--partition", "0")
    assert r.returncode == 1 and "election-type" in r.stderr


def test_transactions_list(module_broker):
    b = module_broker
    t = harness.unique_topic("tx")
    harness.create_topic(b.bootstrap, t)
    txid = "txid-" + t
    run("producer-perf-test", "--topic", t, "--num-records", "10", "--record-size", "10",
        "--throughput", "-1", "--transactional-id", txid, *bs(b), check=True)
    def state():
        r = run("transactions", *bs(b), "list", check=True)
        rows = [l for l in r.stdout.splitlines()[1:] if l.startswith(txid + " ") or
                l.startswith(txid + "\t")]
        return rows[0].split("\t")[3].strip() if rows else None
    harness.wait_for(lambda: state() == "CompleteCommit", 30, what="transaction completion")
    r = run("transactions", *bs(b), "list", check=True)
    assert [c.strip() for c in r.stdout.splitlines()[0].split("\t")] == [
        "TransactionalId", "Coordinator", "ProducerId", "TransactionState", ""]
    theirs = kafka("transactions", *bs(b), "list")
    assert sorted(r.stdout.splitlines()) == sorted(theirs.stdout.splitlines())


def test_metadata_quorum(module_broker):
    b = module_broker
    r = run("metadata-quorum", *bs(b), "describe", "--status")
    if r.returncode != 0:
        pytest.skip("broker does not answer DescribeQuorum: %s" % r.stderr.strip())
    keys = [l.split(":")[0] for l in r.stdout.splitlines()]
    assert keys == ["ClusterId", "LeaderId", "LeaderEpoch", "HighWatermark", "MaxFollowerLag",
                    "MaxFollowerLagTimeMs", "CurrentVoters", "CurrentObservers"]
    theirs = kafka("metadata-quorum", *bs(b), "describe", "--status")
    live = re.compile(r"^(HighWatermark|MaxFollowerLag|MaxFollowerLagTimeMs):.*$", re.M)
    assert live.sub("", r.stdout) == live.sub("", theirs.stdout)
    r = run("metadata-quorum", *bs(b), "describe", "--replication", check=True)
    lines = r.stdout.splitlines()
    assert [c.strip() for c in lines[0].split("\t")] == [
        "NodeId", "DirectoryId", "LogEndOffset", "Lag", "LastFetchTimestamp",
        "LastCaughtUpTimestamp", "Status", ""]
    assert lines[1].split("\t")[6] == "Leader"


def test_dump_log(module_broker):
    """kafka-dump-log on the broker's own segment files prints what Apache
    Kafka's DumpLogSegments prints (batches, records, keys, headers,
    transaction markers, index entries)."""
    b = module_broker
    t = harness.unique_topic("dump")
    harness.create_topic(b.bootstrap, t)
    run("console-producer", *bs(b), "--topic", t, "--reader-property", "parse.key=true",
        "--reader-property", "parse.headers=true",
        input="h1:a,h2:b\tk1\tv1\nh3:c\tk2\tv2\n", check=True)
    run("producer-perf-test", "--topic", t, "--num-records", "5", "--payload-monotonic",
        "--throughput", "-1", "--transactional-id", "dump-" + t, *bs(b), check=True)
    harness.wait_for(lambda: b.segment_files(t), 30, what="segment files")
    log = b.segment_files(t)[0]
    r = run("dump-log", "--files", log, "--print-data-log", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "Dumping %s" % log and lines[1] == "Log starting offset: 0"
    # The two lines share a batch unless the producer's first metadata took
    # longer than its linger (1000 ms): then librdkafka may send the first
    # record alone as it moves the queued records onto the partition.
    m = re.match(r"baseOffset: 0 lastOffset: (\d+) count: (\d+) baseSequence: -?\d+ lastSequence: "
                 r"-?\d+ producerId: -?\d+ producerEpoch: -?\d+ partitionLeaderEpoch: \d+ "
                 r"isTransactional: false isControl: false deleteHorizonMs: "
                 r"OptionalLong.empty position: 0 CreateTime: \d+ size: \d+ magic: 2 "
                 r"compresscodec: \w+ crc: \d+ isvalid: true$", lines[2])
    assert m and (m.group(1), m.group(2)) in (("1", "2"), ("0", "1")), lines[2]
    assert re.match(r"\| offset: 0 CreateTime: \d+ keySize: 2 valueSize: 2 sequence: -?\d+ "
                    r"headerKeys: \[h1,h2\] key: k1 payload: v1$", lines[3]), lines[3]
    # the coordinator writes the commit marker asynchronously
    harness.wait_for(lambda: "endTxnMarker: COMMIT" in run("dump-log", "--files", log,
                                                           "--deep-iteration").stdout,
                     30, what="commit marker")
    for args in (["--files", log, "--print-data-log"], ["--files", log]):
        ours = run("dump-log", *args)
        theirs = kafka("dump-log", *args)
        assert ours.stdout == theirs.stdout, args
    # index files of an active segment are preallocated; just check the form
    r = run("dump-log", "--files", log.replace(".log", ".index") + "," +
            log.replace(".log", ".timeindex"), check=True)
    for l in r.stdout.splitlines():
        assert re.match(r"(Dumping |offset: \d+ position: \d+$|timestamp: \d+ offset: \d+$|"
                        r"Mismatches in |  Index offset|The following indexed|Indexed offset|"
                        r".* is empty\.$)", l), l
