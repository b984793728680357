"""kafka-configs.sh (`sluice configs`): the seed's broker --describe --all
and topic --alter --add-config, delete-config, groups, the cluster default,
and byte-identical output against Apache Kafka's kafka-configs."""

import re

import harness
from toolcli import kafka, run

LINE = re.compile(r"^  (\S+?)=(.*) sensitive=(true|false) synonyms=\{(.*)\}$")


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def entries(out):
    lines = out.splitlines()
    return {m.group(1): m.group(2) for m in map(LINE.match, lines[1:]) if m}


def test_seed_broker_describe_all(module_broker):
    b = module_broker
    r = run("configs", *bs(b), "--describe", "--entity-type", "brokers", "--all", check=True)
    heads = [l for l in r.stdout.splitlines() if not l.startswith("  ")]
    assert re.fullmatch(r"All configs for broker \d+ are:", heads[0]), heads
    assert heads[-1] == "Default configs for brokers in the cluster are:"
    body = [l for l in r.stdout.splitlines() if l.startswith("  ")]
    assert all(LINE.match(l) for l in body)
    names = [LINE.match(l).group(1) for l in body]
    assert "log.retention.hours" in names and "num.partitions" in names


def test_topic_add_delete_config(module_broker):
    b = module_broker
    t = harness.unique_topic("cfg")
    harness.create_topic(b.bootstrap, t)
    r = run("configs", *bs(b), "--describe", "--entity-type", "topics", "--entity-name", t,
            check=True)
    assert r.stdout == "Dynamic configs for topic %s are:\n" % t
    r = run("configs", "--alter", "--add-config", "retention.ms=86400000,cleanup.policy=[compact,delete]",
            *bs(b), "--entity-type", "topics", "--entity-name", t, check=True)
    assert r.stdout == "Completed updating config for topic %s.\n" % t
    r = run("configs", *bs(b), "--describe", "--topic", t, check=True)
    e = entries(r.stdout)
    assert e["retention.ms"] == "86400000"
    assert e["cleanup.policy"] == "compact,delete"
    assert "  retention.ms=86400000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=86400000" in r.stdout
    r = run("configs", "--alter", "--delete-config", "cleanup.policy", *bs(b),
            "--entity-type", "topics", "--entity-name", t, check=True)
    r = run("configs", *bs(b), "--describe", "--entity-type", "topics", "--entity-name", t,
            check=True)
    assert list(entries(r.stdout)) == ["retention.ms"]
    r = run("configs", *bs(b), "--describe", "--entity-type", "topics", "--entity-name", t,
            "--all", check=True)
    assert r.stdout.startswith("All configs for topic %s are:\n" % t)
    assert entries(r.stdout)["segment.bytes"] == "1073741824"


def test_errors(module_broker):
    b = module_broker
    r = run("configs", *bs(b), "--alter", "--add-config", "x", "--entity-type", "topics",
            "--entity-name", "whatever")
    assert r.returncode == 1 and "requirement failed: Invalid entity config" in r.stderr
    r = run("configs", *bs(b), "--alter", "--add-config", "retention.ms=1", "--entity-type",
            "topics", "--entity-name", "no-such-topic")
    assert r.returncode == 1
    # Kafka's ConfigCommand prints the failure on stderr, nothing on stdout.
    assert r.stdout == ""
    assert r.stderr.startswith("Error while executing config command with args")
    assert "UnknownTopicOrPartitionException" in r.stderr
    r = run("configs", *bs(b), "--describe", "--entity-type", "topics", "--entity-name",
            "no-such-topic")
    assert r.returncode == 0
    assert r.stdout == "The topic 'no-such-topic' doesn't exist and doesn't have dynamic config.\n"
    r = run("configs", *bs(b), "--describe", "--entity-type", "bogus")
    assert r.returncode == 1


def test_broker_and_default_and_group(module_broker):
    b = module_broker
    r = run("configs", *bs(b), "--describe", "--entity-type", "brokers", check=True)
    node = re.search(r"Dynamic configs for broker (\d+) are:", r.stdout).group(1)
    run("configs", *bs(b), "--alter", "--entity-type", "brokers", "--entity-name", node,
        "--add-config", "log.cleaner.threads=2", check=True)
    harness.wait_for(lambda: entries(run("configs", *bs(b), "--describe", "--entity-type",
                                         "brokers", "--entity-name", node,
                                         check=True).stdout).get("log.cleaner.threads") == "2",
                     30, what="broker config")
    r = run("configs", *bs(b), "--alter", "--entity-type", "brokers", "--entity-default",
            "--add-config", "log.retention.ms=604800000", check=True)
    assert r.stdout == "Completed updating default config for brokers in the cluster.\n"
    def default_describe():
        return run("configs", *bs(b), "--describe", "--entity-type", "brokers",
                   "--entity-default", check=True).stdout
    # dynamic configs reach the broker's view asynchronously
    harness.wait_for(lambda: entries(default_describe()).get("log.retention.ms") == "604800000",
                     30, what="cluster default config")
    assert default_describe().startswith("Default configs for brokers in the cluster are:\n")
    g = "cfg-group-" + harness.unique_topic()
    r = run("configs", *bs(b), "--alter", "--entity-type", "groups", "--entity-name", g,
            "--add-config", "consumer.session.timeout.ms=50000", check=True)
    assert r.stdout == "Completed updating config for group %s.\n" % g
    r = run("configs", *bs(b), "--describe", "--entity-type", "groups", "--entity-name", g,
            check=True)
    assert entries(r.stdout) == {"consumer.session.timeout.ms": "50000"}


def test_same_output_as_kafka_configs(module_broker):
    b = module_broker
    t = harness.unique_topic("cmpc")
    harness.create_topic(b.bootstrap, t, config={"retention.ms": "1000000"})
    for args in (["--describe", "--entity-type", "topics", "--entity-name", t],
                 ["--describe", "--entity-type", "topics", "--entity-name", t, "--all"],
                 ["--describe", "--entity-type", "brokers", "--all"],
                 ["--describe", "--entity-type", "brokers", "--entity-default"]):
        ours = run("configs", *bs(b), *args)
        theirs = kafka("configs", *bs(b), *args)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), args


def test_user_and_client_quotas(module_broker):
    b = module_broker
    user = "u-" + harness.unique_topic()
    r = run("configs", *bs(b), "--alter", "--add-config",
            "producer_byte_rate=1024,consumer_byte_rate=2048", "--entity-type", "users",
            "--entity-name", user, check=True)
    assert r.stdout == "Completed updating config for user %s.\n" % user
    want = ("Quota configs for user-principal '%s' are consumer_byte_rate=2048.0, "
            "producer_byte_rate=1024.0\n" % user)
    harness.wait_for(lambda: run("configs", *bs(b), "--describe", "--entity-type", "users",
                                 "--entity-name", user, check=True).stdout == want,
                     30, what="user quota")
    args = ["--describe", "--entity-type", "users", "--entity-name", user]
    assert kafka("configs", *bs(b), *args).stdout == want
    run("configs", *bs(b), "--alter", "--delete-config", "consumer_byte_rate", "--entity-type",
        "users", "--entity-name", user, check=True)
    harness.wait_for(lambda: run("configs", *bs(b), *args, check=True).stdout ==
                     "Quota configs for user-principal '%s' are producer_byte_rate=1024.0\n" % user,
                     30, what="quota removal")
    r = run("configs", *bs(b), "--alter", "--add-config", "request_percentage=50",
            "--entity-type", "clients", "--entity-default", check=True)
    assert r.stdout == "Completed updating default config for clients in the cluster.\n"
    harness.wait_for(lambda: run("configs", *bs(b), "--describe", "--entity-type", "clients",
                                 "--entity-default", check=True).stdout ==
                     "Quota configs for the default client-id are request_percentage=50.0\n",
                     30, what="client default quota")
