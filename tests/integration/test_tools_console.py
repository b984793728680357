"""kafka-console-producer.sh / kafka-console-consumer.sh (`sluice
console-producer`, `sluice console-consumer`): the seed notes' commands,
Kafka's LineMessageReader and DefaultMessageFormatter properties, and
interoperability with Apache Kafka's console tools in both directions."""

import re

import harness
from toolcli import clean_stderr, kafka, run, sorted_lines


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def produce(b, topic, text, *args):
    return run("console-producer", *bs(b), "--topic", topic, *args, input=text, check=True)


def consume(b, topic, *args, timeout=60):
    return run("console-consumer", *bs(b), "--topic", topic, *args, timeout=timeout,
               check=True)


def test_seed_values_from_beginning(module_broker):
    b = module_broker
    t = harness.unique_topic("hello")
    harness.create_topic(b.bootstrap, t)
    # the seed's session: hello, world, 1, True, [1,2,3]
    r = produce(b, t, "hello\nworld\n1\nTrue\n[1,2,3]\n")
    assert r.stdout == ""  # no ">" prompt when stdin is not a terminal
    r = consume(b, t, "--from-beginning", "--max-messages", "5")
    assert r.stdout == "hello\nworld\n1\nTrue\n[1,2,3]\n"
    assert r.stderr.strip().splitlines()[-1] == "Processed a total of 5 messages"


def test_seed_key_value_with_group(module_broker):
    b = module_broker
    t = harness.unique_topic("kv")
    harness.create_topic(b.bootstrap, t, partitions=3)
    r = produce(b, t, "my_key:my_value\nk2:v2\n", "--property", "parse.key=true",
                "--property", "key.separator=:")
    assert r.stdout.startswith("Warning: --property is deprecated")
    g = "test-group-" + t
    r = consume(b, t, "--property", "print.key=true", "--property", "key.separator=-",
                "--group", g, "--from-beginning", "--max-messages", "2")
    assert sorted_lines(r.stdout)[-2:] == ["k2-v2", "my_key-my_value"]
    assert "Option --property is deprecated" in r.stdout
    # offsets were committed for the group: a second run sees nothing new
    r = run("console-consumer", *bs(b), "--topic", t, "--group", g, "--from-beginning",
            "--timeout-ms", "3000")
    assert r.returncode == 0
    assert r.stdout == ""
    assert "Processed a total of 0 messages" in r.stderr
    assert "TimeoutException" in r.stderr


def test_formatter_properties(module_broker):
    b = module_broker
    t = harness.unique_topic("fmt")
    harness.create_topic(b.bootstrap, t)
    produce(b, t, "h1:a,h2:b\tk1\tv1\n\tk2\tv2\n", "--reader-property", "parse.key=true",
            "--reader-property", "parse.headers=true", "--reader-property", "ignore.error=true")
    r = consume(b, t, "--from-beginning", "--max-messages", "2",
                "--formatter-property", "print.timestamp=true",
                "--formatter-property", "print.partition=true",
                "--formatter-property", "print.offset=true",
                "--formatter-property", "print.headers=true",
                "--formatter-property", "print.key=true")
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"CreateTime:\d+\tPartition:0\tOffset:0\th1:a,h2:b\tk1\tv1", lines[0]), lines
    assert re.fullmatch(r"CreateTime:\d+\tPartition:0\tOffset:1\t\S*\tk2\tv2", lines[1]), lines
    # print.value=false, custom separators, null literal for a null key
    produce(b, t, "novalue\n")
    r = consume(b, t, "--partition", "0", "--offset", "2", "--max-messages", "1",
                "--formatter-property", "print.key=true",
                "--formatter-property", "key.separator=|",
                "--formatter-property", "null.literal=<nil>",
                "--formatter-property", "line.separator=;\n")
    assert r.stdout == "<nil>|novalue;\n"


def test_partition_offset_and_max_messages(module_broker):
    b = module_broker
    t = harness.unique_topic("po")
    harness.create_topic(b.bootstrap, t, partitions=2)
    harness.produce(b.bootstrap, t, [b"p1-%d" % i for i in range(5)], partition=1)
    r = consume(b, t, "--partition", "1", "--offset", "2", "--max-messages", "2")
    assert r.stdout == "p1-2\np1-3\n"
    r = consume(b, t, "--partition", "1", "--offset", "earliest", "--max-messages", "5")
    assert r.stdout.splitlines() == ["p1-%d" % i for i in range(5)]
    r = run("console-consumer", *bs(b), "--topic", t, "--partition", "1", "--timeout-ms",
            "2000")
    assert r.returncode == 0 and r.stdout == ""  # latest by default
    # usage errors exit 1 like Kafka's
    r = run("console-consumer", *bs(b), "--topic", t, "--offset", "3")
    assert r.returncode == 1 and "The partition is required when offset is specified." in r.stderr
    r = run("console-consumer", *bs(b))
    assert r.returncode == 1 and "[topic], [include]" in r.stderr
    r = run("console-consumer", *bs(b), "--topic", t, "--partition", "0", "--group", "g")
    assert r.returncode == 1 and "Options group and partition cannot be specified together." in r.stderr


def test_producer_options(module_broker):
    b = module_broker
    t = harness.unique_topic("opts")
    harness.create_topic(b.bootstrap, t)
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        produce(b, t, "%s-1\n%s-2\n" % (codec, codec), "--compression-codec", codec,
                "--request-required-acks", "1", "--sync",
                "--producer-property", "linger.ms=5")
    produce(b, t, "plain\n", "--compression-codec")  # gzip when no value
    r = consume(b, t, "--from-beginning", "--max-messages", "9")
    assert r.stdout.splitlines() == ["gzip-1", "gzip-2", "snappy-1", "snappy-2", "lz4-1",
                                     "lz4-2", "zstd-1", "zstd-2", "plain"]
    r = run("console-producer", *bs(b), "--topic", t, "--property", "parse.key=true",
            input="no separator here\n")
    assert r.returncode == 1
    assert "No key separator found on line number 1: 'no separator here'" in r.stderr


def test_isolation_and_include(module_broker):
    b = module_broker
    t = harness.unique_topic("incl")
    harness.create_topic(b.bootstrap, t)
    produce(b, t, "x\n")
    r = consume(b, t, "--from-beginning", "--max-messages", "1", "--isolation-level",
                "read_committed")
    assert r.stdout == "x\n"
    r = run("console-consumer", *bs(b), "--include", "incl-.*", "--from-beginning",
            "--max-messages", "1", "--command-property", "topic.metadata.refresh.interval.ms=500",
            check=True, timeout=90)
    assert r.stdout == "x\n"


def test_interop_with_kafka_console_tools(module_broker):
    """Keys land on the same partitions whichever producer wrote them, and
    each side reads what the other wrote."""
    b = module_broker
    t = harness.unique_topic("xk")
    harness.create_topic(b.bootstrap, t, partitions=3)
    lines = "".join("key%d:v%d\n" % (i, i) for i in range(12))
    produce(b, t, lines, "--reader-property", "parse.key=true",
            "--reader-property", "key.separator=:")
    r = kafka("console-producer", *bs(b), "--topic", t, "--reader-property", "parse.key=true",
              "--reader-property", "key.separator=:", input=lines)
    assert r.returncode == 0, r.stderr
    fmt = ["--formatter-property", "print.key=true", "--formatter-property",
           "print.partition=true", "--from-beginning", "--max-messages", "24"]
    ours = consume(b, t, *fmt)
    theirs = kafka("console-consumer", *bs(b), "--topic", t, *fmt)
    assert theirs.returncode == 0, theirs.stderr
    assert sorted_lines(ours.stdout) == sorted_lines(theirs.stdout)
    # each key printed twice from one partition
    seen = {}
    for l in sorted_lines(ours.stdout):
        part, key, _ = l.split("\t")
        seen.setdefault(key, set()).add(part)
    assert len(seen) == 12 and all(len(p) == 1 for p in seen.values()), seen
    assert "Processed a total of 24 messages" in ours.stderr
    assert "Processed a total of 24 messages" in clean_stderr(theirs.stderr)
