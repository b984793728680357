"""kafka-get-offsets.sh, kafka-delete-records.sh and
kafka-broker-api-versions.sh (the seed's broker count check), against the
same commands of Apache Kafka's tools."""

import json
import re

import harness
from toolcli import kafka, run


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def offsets(b, *args):
    r = run("get-offsets", *bs(b), *args, check=True)
    return [tuple(l.rsplit(":", 2)) for l in r.stdout.splitlines()]


def test_get_offsets_specs(module_broker):
    b = module_broker
    t = harness.unique_topic("go")
    harness.create_topic(b.bootstrap, t, partitions=3)
    for p, n in ((0, 3), (1, 1), (2, 0)):
        if n:
            harness.produce(b.bootstrap, t, [b"x"] * n, partition=p)
    assert offsets(b, "--topic", t) == [(t, "0", "3"), (t, "1", "1"), (t, "2", "0")]
    assert offsets(b, "--topic", t, "--time", "-1") == offsets(b, "--topic", t, "--time", "latest")
    assert offsets(b, "--topic", t, "--time", "-2") == [(t, "0", "0"), (t, "1", "0"), (t, "2", "0")]
    # -3: offset of the record with the largest timestamp (none in an empty partition)
    got = offsets(b, "--topic", t, "--time", "-3", "--partitions", "0,1")
    assert [g[:2] for g in got] == [(t, "0"), (t, "1")] and got[0][2] in ("0", "1", "2")
    assert offsets(b, "--topic-partitions", "%s:1-" % t) == [(t, "1", "1"), (t, "2", "0")]
    assert offsets(b, "--topic-partitions", "%s:-1" % t) == [(t, "0", "3")]
    # a timestamp far in the future matches no record: nothing printed
    assert offsets(b, "--topic", t, "--time", "99999999999999") == []
    r = run("get-offsets", *bs(b), "--topic", "no-such-topic")
    assert r.returncode == 1
    assert r.stderr == "Error occurred: Could not match any topic-partitions with the specified filters\n"
    r = run("get-offsets", *bs(b), "--topic", t, "--time", "yesterday")
    assert r.returncode == 1 and r.stderr.startswith("Error occurred: Malformed time argument yesterday.")
    r = run("get-offsets", *bs(b), "--exclude-internal-topics", check=True)
    assert "__consumer_offsets" not in r.stdout
    for args in (["--topic", t], ["--topic", t, "--time", "-3"], ["--topic-partitions", t + ":0-2"]):
        assert run("get-offsets", *bs(b), *args).stdout == kafka("get-offsets", *bs(b), *args).stdout


def test_delete_records(module_broker, tmp_path):
    b = module_broker
    t = harness.unique_topic("dr")
    harness.create_topic(b.bootstrap, t, partitions=2)
    harness.produce(b.bootstrap, t, [b"a", b"b", b"c", b"d"], partition=0)
    f = tmp_path / "offsets.json"
    f.write_text(json.dumps({"partitions": [{"topic": t, "partition": 0, "offset": 3},
                                            {"topic": t, "partition": 1, "offset": 10}],
                             "version": 1}))
    r = run("delete-records", *bs(b), "--offset-json-file", str(f), check=True)
    lines = r.stdout.splitlines()
    assert lines[:2] == ["Executing records delete operation", "Records delete operation completed:"]
    assert lines[2] == "partition: %s-0\tlow_watermark: 3" % t
    assert lines[3].startswith("partition: %s-1\terror: org.apache.kafka.common.errors."
                               "OffsetOutOfRangeException" % t)
    assert offsets(b, "--topic", t, "--time", "-2") == [(t, "0", "3"), (t, "1", "0")]
    r = run("console-consumer", *bs(b), "--topic", t, "--partition", "0", "--offset", "earliest",
            "--max-messages", "1", check=True)
    assert r.stdout == "d\n"
    f.write_text("{not json")
    r = run("delete-records", *bs(b), "--offset-json-file", str(f))
    assert r.returncode == 1 and "doesn't contain valid JSON data" in r.stderr
    r = run("delete-records", *bs(b))
    assert r.returncode == 1 and "offset-json-file" in r.stderr


def test_broker_api_versions(module_broker):
    b = module_broker
    r = run("broker-api-versions", *bs(b), check=True)
    first = r.stdout.splitlines()[0]
    assert re.fullmatch(r"127\.0\.0\.1:%d \(id: \d+ rack: null isFenced: false\) -> \(" % b.port, first)
    assert "\tApiVersions(18): 0 to 4 [usable: 4]," in r.stdout.splitlines()
    assert re.search(r"^\tProduce\(0\): \d+ to \d+ \[usable: \d+\],$", r.stdout, re.M)
    assert r.stdout.endswith("\n)\n")
    # the seed counts brokers by counting the "(id: " lines
    assert r.stdout.count("(id: ") == 1
    theirs = kafka("broker-api-versions", *bs(b))
    assert r.stdout == theirs.stdout


def test_seed_run_class_and_delete_records_file(module_broker, tmp_path):
    """The seed's `kafka-run-class kafka.tools.GetOffsetShell --broker-list ...
    --topic <topic>` and its delete-data.json (with a stray '}' that Kafka's
    Jackson parser ignores) both work."""
    b = module_broker
    t = harness.unique_topic("test")
    harness.create_topic(b.bootstrap, t)
    harness.produce(b.bootstrap, t, [b"m%d" % i for i in range(60)], partition=0)
    r = run("run-class", "kafka.tools.GetOffsetShell", "--broker-list", b.bootstrap,
            "--topic", t, check=True)
    assert r.stdout == "%s:0:60\n" % t
    f = tmp_path / "delete-data.json"
    f.write_text('{"partitions":[{"topic":"%s", "partition": 0, "offset":50}]}, "version":1}' % t)
    r = run("delete-records", *bs(b), "--offset-json-file", str(f), check=True)
    assert r.stdout.splitlines()[-1] == "partition: %s-0\tlow_watermark: 50" % t
    r = run("run-class", "kafka.tools.NoSuchTool")
    assert r.returncode == 1
