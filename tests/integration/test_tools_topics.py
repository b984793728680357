"""kafka-topics.sh (`sluice topics`): the commands of the seed notes'
"Kafka Command Line Tool" section and every mode of issue 7, checked for
Kafka's exact output and exit codes, and compared with Apache Kafka's own
kafka-topics on the same broker."""

import re
import time

import pytest

import harness
from toolcli import kafka, run

DESCRIBE_TOPIC = re.compile(
    r"^Topic: (\S+)\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: (\d+)\t"
    r"ReplicationFactor: (\d+)\tConfigs: (.*)$")
DESCRIBE_PART = re.compile(
    r"^\tTopic: (\S+)\tPartition: (\d+)\tLeader: (\d+|none)\tReplicas: ([\d,]*)\t"
    r"Isr: ([\d,]*)\tElr: ([\d,]*|N/A)\tLastKnownElr: ([\d,]*|N/A)$")


def bs(broker):
    return ["--bootstrap-server", broker.bootstrap]


def describe(broker, topic):
    r = run("topics", "--describe", *bs(broker), "--topic", topic, check=True)
    lines = r.stdout.splitlines()
    m = DESCRIBE_TOPIC.match(lines[0])
    assert m, lines[0]
    parts = [DESCRIBE_PART.match(l) for l in lines[1:]]
    assert all(parts), lines
    return m, parts, r.stdout


def test_seed_topic_lifecycle(module_broker):
    b = module_broker
    # kafka-topics --create ... --partitions 3 --replication-factor 1
    #   --config retention.ms=172800000 --topic hello.kafka
    r = run("topics", "--create", *bs(b), "--partitions", "3", "--replication-factor", "1",
            "--config", "retention.ms=172800000", "--topic", "hello.kafka")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Created topic hello.kafka.\n"

    # kafka-topics --list
    r = run("topics", "--list", *bs(b), check=True)
    assert "hello.kafka" in r.stdout.splitlines()

    # kafka-topics --describe --topic hello.kafka
    m, parts, out = describe(b, "hello.kafka")
    assert m.group(1) == "hello.kafka"
    assert m.group(2) == "3" and m.group(3) == "1"
    assert "retention.ms=172800000" in m.group(4).split(",")
    assert [p.group(2) for p in parts] == ["0", "1", "2"]
    for p in parts:
        assert p.group(3) == p.group(4) == p.group(5)  # single node: leader = replica = isr

    # kafka-topics --alter --topic hello.kafka --partitions 4
    r = run("topics", "--alter", *bs(b), "--topic", "hello.kafka", "--partitions", "4")
    assert r.returncode == 0 and r.stdout == "", (r.stdout, r.stderr)
    # metadata reaches the broker asynchronously (Kafka's tool races too)
    harness.wait_for(lambda: describe(b, "hello.kafka")[0].group(2) == "4", 30,
                     what="4 partitions")
    m, parts, _ = describe(b, "hello.kafka")
    assert len(parts) == 4

    # kafka-configs --alter --add-config retention.ms=86400000 (seed) shows
    # up in topics --describe
    r = run("configs", "--alter", "--add-config", "retention.ms=86400000", *bs(b),
            "--entity-type", "topics", "--entity-name", "hello.kafka")
    if r.returncode == 0:
        m, _, _ = describe(b, "hello.kafka")
        assert "retention.ms=86400000" in m.group(4).split(",")

    # kafka-topics --delete --topic hello.kafka
    r = run("topics", "--delete", *bs(b), "--topic", "hello.kafka")
    assert r.returncode == 0 and r.stdout == "", (r.stdout, r.stderr)
    harness.wait_for(lambda: "hello.kafka" not in run("topics", "--list", *bs(b)).stdout.split(),
                     30, what="topic deletion")
    r = run("topics", "--describe", *bs(b), "--topic", "hello.kafka")
    assert r.returncode == 1
    assert r.stdout == ("Error while executing topic command : Topic 'hello.kafka' "
                        "does not exist as expected\n")


def test_create_errors_and_if_not_exists(module_broker):
    b = module_broker
    t = harness.unique_topic("dup")
    run("topics", "--create", *bs(b), "--topic", t, "--partitions", "1", check=True)
    r = run("topics", "--create", *bs(b), "--topic", t, "--partitions", "1")
    assert r.returncode == 1
    assert r.stdout == "Error while executing topic command : Topic '%s' already exists.\n" % t
    r = run("topics", "--create", *bs(b), "--topic", t, "--if-not-exists")
    assert r.returncode == 0 and r.stdout == ""
    # period + underscore warning, as Kafka prints it
    t2 = "a.b_" + harness.unique_topic("c")
    r = run("topics", "--create", *bs(b), "--topic", t2, check=True)
    assert r.stdout.startswith("WARNING: Due to limitations in metric names, topics with a "
                               "period ('.') or underscore ('_') could collide.")
    assert r.stdout.endswith("Created topic %s.\n" % t2)
    r = run("topics", "--create", *bs(b), "--topic", harness.unique_topic(), "--partitions", "0")
    assert r.returncode == 1 and "The partitions must be greater than 0" in r.stderr


def test_if_exists_and_default_partitions(module_broker):
    b = module_broker
    r = run("topics", "--delete", *bs(b), "--topic", "no-such-topic", "--if-exists")
    assert r.returncode == 0 and r.stdout == ""
    r = run("topics", "--alter", *bs(b), "--topic", "no-such-topic", "--partitions", "3",
            "--if-exists")
    assert r.returncode == 0
    r = run("topics", "--delete", *bs(b), "--topic", "no-such-topic")
    assert r.returncode == 1 and "does not exist as expected" in r.stdout
    t = harness.unique_topic("dflt")
    run("topics", "--create", *bs(b), "--topic", t, check=True)
    m, parts, _ = describe(b, t)
    assert m.group(2) == "1"  # num.partitions default


def test_replica_assignment_and_overrides(module_broker):
    b = module_broker
    t = harness.unique_topic("ra")
    run("topics", "--create", *bs(b), "--topic", t, "--partitions", "1", check=True)
    _, parts, _ = describe(b, t)
    node = parts[0].group(3)
    t2 = harness.unique_topic("ra2")
    run("topics", "--create", *bs(b), "--topic", t2, "--replica-assignment",
        "%s,%s" % (node, node), check=True)
    m, parts, _ = describe(b, t2)
    assert m.group(2) == "2" and [p.group(4) for p in parts] == [node, node]
    # grow it with an explicit assignment for the new partition
    run("topics", "--alter", *bs(b), "--topic", t2, "--partitions", "3",
        "--replica-assignment", "%s,%s,%s" % (node, node, node), check=True)
    harness.wait_for(lambda: describe(b, t2)[0].group(2) == "3", 30, what="3 partitions")

    t3 = harness.unique_topic("ovr")
    run("topics", "--create", *bs(b), "--topic", t3, "--config", "cleanup.policy=compact",
        check=True)
    r = run("topics", "--describe", *bs(b), "--topics-with-overrides", check=True)
    lines = r.stdout.splitlines()
    mine = [l for l in lines if l.startswith("Topic: %s\t" % t3)]
    assert len(mine) == 1 and "cleanup.policy=compact" in mine[0]
    assert all(DESCRIBE_TOPIC.match(l) for l in lines)  # no partition lines
    r = run("topics", "--describe", *bs(b), "--under-replicated-partitions", check=True)
    assert r.stdout == ""  # a single node is never under-replicated


def test_exclude_internal(module_broker):
    b = module_broker
    t = harness.unique_topic("int")
    harness.create_topic(b.bootstrap, t)
    harness.produce(b.bootstrap, t, [b"x"])
    harness.consume(b.bootstrap, t, 1, group="g-" + t)  # creates __consumer_offsets
    r = run("topics", "--list", *bs(b), check=True)
    assert "__consumer_offsets" in r.stdout.split()
    r = run("topics", "--list", *bs(b), "--exclude-internal", check=True)
    assert "__consumer_offsets" not in r.stdout.split() and t in r.stdout.split()
    # --topic takes a regular expression
    r = run("topics", "--list", *bs(b), "--topic", "int-.*", check=True)
    assert t in r.stdout.split() and all(n.startswith("int-") for n in r.stdout.split())


def test_flag_errors():
    r = run("topics", "--bootstrap-server", "127.0.0.1:1", "--list", "--bogus")
    assert r.returncode == 1 and "bogus is not a recognized option" in r.stderr
    assert "--bootstrap-server" in r.stderr  # usage follows
    r = run("topics", "--bootstrap-server", "127.0.0.1:1")
    assert r.returncode == 1
    assert r.stderr.startswith("Command must include exactly one action: --list, --describe, "
                               "--create, --alter or --delete")
    r = run("topics", "--bootstrap-server", "127.0.0.1:1", "--create")
    assert r.returncode == 1 and 'Missing required argument "[topic]"' in r.stderr
    r = run("topics", "--help")
    assert r.returncode == 0 and "--replica-assignment" in r.stdout
    # jopt-simple accepts unique abbreviations
    r = run("topics", "--bootstrap-server", "127.0.0.1:1", "--list", "--exclude-int", "--bogu")
    assert "bogu is not a recognized option" in r.stderr


def test_unreachable_broker_times_out(tmp_path):
    cfg = tmp_path / "admin.properties"
    cfg.write_text("default.api.timeout.ms=2000\n")
    port = harness.free_port()
    t0 = time.time()
    r = run("topics", "--bootstrap-server", "127.0.0.1:%d" % port, "--command-config",
            str(cfg), "--list", timeout=30)
    assert r.returncode == 1
    assert r.stdout.startswith("Error while executing topic command : Timed out waiting for "
                               "a node assignment. Call: listTopics")
    assert time.time() - t0 < 15


def test_same_output_as_kafka_topics(module_broker):
    """Sluice's and Apache Kafka's kafka-topics print the same bytes."""
    b = module_broker
    t = harness.unique_topic("cmp")
    ours = run("topics", "--create", *bs(b), "--topic", t, "--partitions", "2",
               "--config", "retention.ms=3600000")
    t2 = harness.unique_topic("cmp")
    theirs = kafka("topics", "--create", *bs(b), "--topic", t2, "--partitions", "2",
                   "--config", "retention.ms=3600000")
    assert (ours.returncode, ours.stdout.replace(t, "X")) == \
        (theirs.returncode, theirs.stdout.replace(t2, "X"))
    for args in (["--describe", "--topic", t], ["--describe", "--topic", t2],
                 ["--list", "--topic", "cmp-.*"], ["--describe", "--topic", "nope"],
                 ["--create", "--topic", t]):
        ours = run("topics", *bs(b), *args)
        theirs = kafka("topics", *bs(b), *args)
        assert ours.returncode == theirs.returncode, args
        assert ours.stdout == theirs.stdout, args
