"""kafka-producer-perf-test.sh, kafka-consumer-perf-test.sh (issue 8's
benchmark parses their lines), kafka-verifiable-producer/consumer.sh (the
seed's JSON events) and kafka-e2e-latency.sh."""

import json
import re

import harness
from toolcli import run

TOTAL = re.compile(
    r"^(\d+)( steady state)? records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg "
    r"latency, [\d.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$")
WINDOW = re.compile(r"^\d+ records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg "
                    r"latency, [\d.]+ ms max latency\.$")
CONS_HEADER = ("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, "
               "nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
CONS_ROW = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, "
                      r"[\d.]+, [\d.]+, (\d+), [\d.]+, \d+, -?\d+, [-\d.a-zA-Z]+, [-\d.a-zA-Z]+$")


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def test_producer_and_consumer_perf(module_broker):
    b = module_broker
    t = harness.unique_topic("perf")
    harness.create_topic(b.bootstrap, t, partitions=2)
    r = run("producer-perf-test", "--topic", t, "--num-records", "20000", "--record-size", "100",
            "--throughput", "-1", *bs(b), "--reporting-interval", "100", check=True)
    lines = r.stdout.splitlines()
    assert TOTAL.match(lines[-1]) and TOTAL.match(lines[-1]).group(1) == "20000", lines
    assert all(WINDOW.match(l) for l in lines[:-1]), lines
    # the deprecated --producer-props form, throttled, with warmup
    r = run("producer-perf-test", "--topic", t, "--num-records", "500", "--payload-monotonic",
            "--throughput", "1000", "--warmup-records", "100", "--producer-props",
            "bootstrap.servers=" + b.bootstrap, "acks=1", check=True)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Option --producer-props has been deprecated")
    assert lines[1] == ("Warmup first 100 records. Steady state results will print after the "
                        "complete test summary.")
    assert TOTAL.match(lines[-2]).group(1) == "500"
    assert TOTAL.match(lines[-1]).group(1) == "400" and TOTAL.match(lines[-1]).group(2)
    r = run("consumer-perf-test", *bs(b), "--topic", t, "--num-records", "20500", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == CONS_HEADER
    m = CONS_ROW.match(lines[1])
    assert m and m.group(1) == "20500", lines
    r = run("consumer-perf-test", *bs(b), "--topic", t, "--num-records", "30000", "--timeout",
            "2000", "--hide-header", check=True)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("WARNING: Exiting before consuming the expected number of messages")
    assert CONS_ROW.match(lines[1]).group(1) == "20500"
    r = run("producer-perf-test", "--topic", t, "--num-records", "10", "--throughput", "-1", *bs(b))
    assert r.returncode == 1 and "--record-size" in r.stderr


def test_payload_file(module_broker, tmp_path):
    b = module_broker
    t = harness.unique_topic("pf")
    harness.create_topic(b.bootstrap, t)
    f = tmp_path / "payloads.txt"
    f.write_text("alpha\nbeta\ngamma\n")
    r = run("producer-perf-test", "--topic", t, "--num-records", "30", "--payload-file", str(f),
            "--throughput", "-1", *bs(b), check=True)
    assert "Number of messages read: 3" in r.stdout
    r = run("console-consumer", *bs(b), "--topic", t, "--from-beginning", "--max-messages", "30",
            check=True)
    assert set(r.stdout.split()) <= {"alpha", "beta", "gamma"}


def events(out):
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def test_seed_verifiable_producer_consumer(module_broker):
    b = module_broker
    t = harness.unique_topic("kafka.test")
    harness.create_topic(b.bootstrap, t)
    # kafka-verifiable-producer --bootstrap-server ... --max-message 10 --topic kafka.test
    r = run("verifiable-producer", *bs(b), "--max-message", "10", "--topic", t, check=True)
    ev = events(r.stdout)
    assert ev[0]["name"] == "startup_complete"
    sends = [e for e in ev if e["name"] == "producer_send_success"]
    assert [e["value"] for e in sends] == [str(i) for i in range(10)]
    assert [e["offset"] for e in sends] == list(range(10))
    assert all(e["key"] is None and e["topic"] == t and e["partition"] == 0 for e in sends)
    assert list(sends[0]) == ["timestamp", "name", "key", "value", "offset", "topic", "partition"]
    assert ev[-2]["name"] == "shutdown_complete"
    assert ev[-1]["name"] == "tool_data" and ev[-1]["sent"] == 10 and ev[-1]["acked"] == 10
    assert list(ev[-1]) == ["timestamp", "name", "sent", "acked", "target_throughput",
                            "avg_throughput"]
    # kafka-verifiable-consumer --topic kafka.test --group-id test-group
    g = "test-group-" + t
    r = run("verifiable-consumer", *bs(b), "--topic", t, "--group-id", g, "--max-messages", "10",
            "--verbose", check=True)
    ev = events(r.stdout)
    names = [e["name"] for e in ev]
    assert names[0] == "startup_complete" and names[1] == "partitions_assigned"
    assert ev[1]["partitions"] == [{"topic": t, "partition": 0}]
    recs = [e for e in ev if e["name"] == "record_data"]
    assert [e["value"] for e in recs] == [str(i) for i in range(10)]
    consumed = [e for e in ev if e["name"] == "records_consumed"]
    assert sum(e["count"] for e in consumed) == 10
    assert consumed[-1]["partitions"][0]["maxOffset"] == 9
    commits = [e for e in ev if e["name"] == "offsets_committed"]
    assert commits[-1] == {"timestamp": commits[-1]["timestamp"], "name": "offsets_committed",
                           "offsets": [{"topic": t, "partition": 0, "offset": 10}],
                           "success": True}
    assert names[-2:] == ["shutdown_complete", "shutdown_requested"]
    r = run("consumer-groups", *bs(b), "--describe", "--group", g, check=True)
    assert re.search(r"^%s +%s +0 +10 +10 +0 " % (re.escape(g), re.escape(t)), r.stdout, re.M)


def test_verifiable_producer_keys_and_prefix(module_broker):
    b = module_broker
    t = harness.unique_topic("vk")
    harness.create_topic(b.bootstrap, t)
    r = run("verifiable-producer", *bs(b), "--max-messages", "4", "--topic", t,
            "--repeating-keys", "2", "--value-prefix", "7", "--acks", "1", check=True)
    sends = [e for e in events(r.stdout) if e["name"] == "producer_send_success"]
    assert [(e["key"], e["value"]) for e in sends] == [("0", "7.0"), ("1", "7.1"), ("0", "7.2"),
                                                      ("1", "7.3")]


def test_e2e_latency(module_broker):
    b = module_broker
    t = harness.unique_topic("e2e")
    r = run("e2e-latency", *bs(b), "--topic", t, "--num-records", "50", "--producer-acks", "1",
            "--record-size", "100", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == ('Topic "%s" does not exist. Will create topic with 1 partition(s) and '
                        'replication factor = 1' % t)
    assert re.fullmatch(r"0\t[\d.E-]+", lines[1])
    assert re.fullmatch(r"Avg latency: \d+\.\d{4} ms", lines[-2])
    assert re.fullmatch(r"Percentiles: 50th = \d+, 99th = \d+, 99\.9th = \d+", lines[-1])
    # the deprecated positional form
    r = run("e2e-latency", b.bootstrap, t, "20", "all", "10", check=True)
    assert r.stdout.startswith("WARNING: Positional argument usage is deprecated")
    r = run("e2e-latency", b.bootstrap, t, "20", "0", "10")
    assert r.returncode == 1 and "Please use 1 or all" in r.stderr
