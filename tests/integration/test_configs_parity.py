"""Configuration parity with Apache Kafka 4.3.1 (issue 15, defect 3).

Every broker, topic and group key Kafka 4.3.1 knows is known, with Kafka's
defaults, sources, types, documentation and dynamic scope; AlterConfigs,
IncrementalAlterConfigs and DescribeConfigs fail where Kafka fails, with
Kafka's error code and message. The describe test runs the target next to
a reference Apache Kafka broker started with the same server properties
and compares the two field by field; the error tests pin Kafka's answers
(recorded from Kafka 4.3.1) so both targets must produce them."""
import os

import pytest

import harness
import toolcli
from cfgraw import (APPEND, BROKER, CLIENT_METRICS, DELETE, GROUP, SET, SUBTRACT, TOPIC,
                    alter, describe, incremental_alter)

INVALID_REQUEST, INVALID_CONFIG, UNKNOWN_TOPIC, INVALID_TOPIC = 42, 40, 3, 17
DEFAULT_CONFIG, STATIC, DYNAMIC_BROKER, DYNAMIC_DEFAULT = 5, 4, 2, 3

# Keys whose value legitimately differs between two fresh nodes: addresses,
# paths, the controller quorum, and Sluice's documented default deviations
# (docs/configuration.md). Their presence, type, documentation and
# read-only flag are still compared.
INSTANCE = {"listeners", "advertised.listeners", "log.dirs", "log.dir",
            "controller.quorum.voters", "listener.security.protocol.map",
            "inter.broker.listener.name", "socket.receive.buffer.bytes",
            # Kafka's storage format writes a cluster-default
            # min.insync.replicas record (ELR bootstrap); Sluice does not.
            "min.insync.replicas"}
# Properties kafka.sh writes that only make sense for Kafka's process.
NOT_PASSED = {"listeners", "controller.quorum.voters", "listener.security.protocol.map",
              "log.dirs", "inter.broker.listener.name"}


def _props(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                out[k] = v
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(reference Kafka broker, target broker with the same properties)."""
    base = str(tmp_path_factory.getbasetemp())
    ref = harness.Broker(harness.new_workdir(base, "cfgref"), target="kafka")
    ref.start()
    try:
        props = _props(os.path.join(ref.workdir, "server.properties"))
        conf = {k: v for k, v in props.items() if k not in NOT_PASSED}
        tgt = harness.Broker(harness.new_workdir(base, "cfgtgt"), conf)
        tgt.start()
    except Exception:
        ref.cleanup()
        raise
    try:
        for b in (ref, tgt):
            harness.create_topic(b.bootstrap, "parity", config={"retention.ms": "3600000"})
        yield ref, tgt
    finally:
        tgt.cleanup()
        ref.cleanup()
        tgt.check_sanitizers()


def _compare(ref, tgt, skip_values=()):
    assert set(tgt) == set(ref), (
        "only on Kafka: %s; only on target: %s" % (sorted(set(ref) - set(tgt)),
                                                   sorted(set(tgt) - set(ref))))
    bad = []
    for k in sorted(ref):
        a, b = dict(ref[k]), dict(tgt[k])
        if k in skip_values:
            for e in (a, b):
                e.pop("value"), e.pop("source"), e.pop("synonyms")
        if a != b:
            bad.append("%s:\n  kafka  %s\n  target %s" % (
                k, {f: a[f] for f in a if a[f] != b.get(f)},
                {f: b[f] for f in b if b[f] != a.get(f)}))
    assert not bad, "%d keys differ:\n%s" % (len(bad), "\n".join(bad[:20]))


def test_describe_all_matches_kafka(pair):
    """DescribeConfigs with synonyms and documentation on a fresh node: the
    same 340 broker keys (no internal ones), and for each the same value,
    source, synonyms, read_only, sensitive, config_type and documentation;
    likewise the topic and group resources."""
    ref, tgt = pair
    e1, m1, kb = describe(ref.bootstrap, BROKER, "1")
    e2, m2, sb = describe(tgt.bootstrap, BROKER, "1")
    assert (e1, m1) == (e2, m2) == (0, "")
    assert len(kb) == 340
    _compare(kb, sb, INSTANCE)
    # the key: dynamic per broker, described with its default
    k = sb["sasl.kerberos.min.time.before.relogin"]
    assert (k["value"], k["read_only"], k["source"], k["config_type"]) == ("60000", False,
                                                                          DEFAULT_CONFIG, 5)
    assert sb["log.dirs"]["read_only"] and not sb["log.cleaner.threads"]["read_only"]
    for rtype, name in ((TOPIC, "parity"), (GROUP, "parity-group")):
        e1, m1, kt = describe(ref.bootstrap, rtype, name)
        e2, m2, st = describe(tgt.bootstrap, rtype, name)
        assert (e1, m1) == (e2, m2) == (0, "")
        _compare(kt, st, INSTANCE)
    assert st["share.delivery.count.limit"]["synonyms"] == [
        ("group.share.delivery.count.limit", "5", DEFAULT_CONFIG)]
    # a client-metrics subscription, stored and described back
    for b in (ref, tgt):
        assert incremental_alter(b.bootstrap, CLIENT_METRICS, "parity-sub", [
            ("interval.ms", SET, "1000"), ("metrics", SET, "org.apache.kafka.producer.")
        ]) == (0, None)
    got = []
    for b in (ref, tgt):
        harness.wait_for(lambda: describe(b.bootstrap, CLIENT_METRICS, "parity-sub")[2]
                         .get("interval.ms", {}).get("value") == "1000", what="subscription")
        got.append(describe(b.bootstrap, CLIENT_METRICS, "parity-sub"))
    assert got[0][:2] == got[1][:2] == (0, "")
    _compare(got[0][2], got[1][2])
    assert got[1][2]["match"]["source"] == DEFAULT_CONFIG


def _tool_rows(out):
    """kafka-configs --describe --all rows: key -> rest of the line."""
    rows = {}
    for line in out.splitlines():
        line = line.strip()
        if "=" in line and " sensitive=" in line:
            k, rest = line.split("=", 1)
            rows[k] = rest
    return rows


def test_kafka_configs_describe_all_lists_the_same_keys(pair):
    """Kafka's own kafka-configs --describe --all prints the same keys,
    defaults and sources for both brokers, and Sluice's kafka-configs prints
    what Kafka's tool prints."""
    ref, tgt = pair
    args = ["--entity-type", "brokers", "--entity-name", "1", "--describe", "--all"]
    k = toolcli.kafka("configs", "--bootstrap-server", ref.bootstrap, *args)
    t = toolcli.kafka("configs", "--bootstrap-server", tgt.bootstrap, *args)
    assert k.returncode == t.returncode == 0, k.stderr + t.stderr
    kr, tr = _tool_rows(k.stdout), _tool_rows(t.stdout)
    assert len(kr) == 340 and set(kr) == set(tr)
    diff = [key for key in kr if key not in INSTANCE and kr[key] != tr[key]]
    assert not diff, "\n".join("%s\n  kafka  %s\n  target %s" % (d, kr[d], tr[d])
                               for d in diff[:20])
    own = toolcli.run("configs", "--bootstrap-server", tgt.bootstrap, *args)
    assert own.returncode == 0, own.stderr
    assert own.stdout == t.stdout
    # topics and groups: the same rows on both brokers, and Sluice's tool
    # prints what Kafka's prints
    for entity in (["topics", "parity"], ["groups", "parity-group"]):
        args = ["--entity-type", entity[0], "--entity-name", entity[1], "--describe", "--all"]
        k = toolcli.kafka("configs", "--bootstrap-server", ref.bootstrap, *args)
        t = toolcli.kafka("configs", "--bootstrap-server", tgt.bootstrap, *args)
        own = toolcli.run("configs", "--bootstrap-server", tgt.bootstrap, *args)
        assert k.returncode == t.returncode == own.returncode == 0, k.stderr + t.stderr
        kr, tr = _tool_rows(k.stdout), _tool_rows(t.stdout)
        assert set(kr) == set(tr) and len(kr) > 10
        assert {x: kr[x] for x in kr if x not in INSTANCE} == \
            {x: tr[x] for x in tr if x not in INSTANCE}
        assert own.stdout == t.stdout


def _described(bs, name, key, value):
    """The entry of key once its value is `value` (Kafka applies a change on
    the broker shortly after the controller has committed it)."""
    got = {}

    def ok():
        got.update(describe(bs, BROKER, name, [key])[2])
        return got.get(key, {}).get("value") == value
    harness.wait_for(ok, timeout=15, what="%s=%s on broker %r" % (key, value, name))
    return got[key]


def test_dynamic_broker_key_per_broker_not_cluster_wide(broker):
    """sasl.kerberos.min.time.before.relogin is per-broker dynamic in Kafka
    (DynamicListenerConfig): set on the node it is described back as
    DYNAMIC_BROKER_CONFIG over the default; at the cluster default it is
    refused with Kafka's message. A cluster-wide key works at both levels."""
    bs = broker.bootstrap
    key = "sasl.kerberos.min.time.before.relogin"
    assert incremental_alter(bs, BROKER, "1", [(key, SET, "61000")]) == (0, None)
    e = _described(bs, "1", key, "61000")
    assert (e["source"], e["read_only"]) == (DYNAMIC_BROKER, False)
    assert e["synonyms"] == [(key, "61000", DYNAMIC_BROKER), (key, "60000", DEFAULT_CONFIG)]
    assert incremental_alter(bs, BROKER, "", [(key, SET, "62000")]) == (
        INVALID_REQUEST, "Cannot update these configs at default cluster level, broker id "
        "must be specified: [%s]" % key)
    assert alter(bs, BROKER, "", [(key, "62000")])[0] == INVALID_REQUEST
    assert incremental_alter(bs, BROKER, "1", [(key, DELETE, None)]) == (0, None)
    assert _described(bs, "1", key, "60000")["source"] == DEFAULT_CONFIG

    ck = "log.cleaner.backoff.ms"
    assert incremental_alter(bs, BROKER, "", [(ck, SET, "16000")]) == (0, None)
    assert _described(bs, "1", ck, "16000")["source"] == DYNAMIC_DEFAULT
    assert _described(bs, "", ck, "16000")["source"] == DYNAMIC_DEFAULT
    assert alter(bs, BROKER, "1", [(ck, "17000")]) == (0, None)
    assert [s[2] for s in _described(bs, "1", ck, "17000")["synonyms"]] == [DYNAMIC_BROKER, DYNAMIC_DEFAULT,
                                                DEFAULT_CONFIG]
    assert incremental_alter(bs, BROKER, "", [(ck, DELETE, None)]) == (0, None)


def test_unknown_broker_keys_are_stored_and_described(broker):
    """Kafka accepts dynamic broker keys it does not define and describes
    them back: no value, sensitive, read-only, unknown type, no doc, at the
    levels where they are set; legacy AlterConfigs' full replacement removes
    them again."""
    bs = broker.bootstrap
    assert incremental_alter(bs, BROKER, "", [("sluice.test.a", SET, "x")]) == (0, None)
    assert incremental_alter(bs, BROKER, "1", [("sluice.test.b", SET, "y")]) == (0, None)
    got = {}

    def both():
        got.clear()
        got.update(describe(bs, BROKER, "1")[2])
        return "sluice.test.a" in got and "sluice.test.b" in got
    harness.wait_for(both, timeout=15, what="unknown keys described")
    base = {"value": None, "read_only": True, "sensitive": True, "config_type": 0,
            "documentation": None}
    assert got["sluice.test.a"] == dict(base, name="sluice.test.a", source=DYNAMIC_DEFAULT,
                                        synonyms=[("sluice.test.a", None, DYNAMIC_DEFAULT)])
    assert got["sluice.test.b"] == dict(base, name="sluice.test.b", source=DYNAMIC_BROKER,
                                        synonyms=[("sluice.test.b", None, DYNAMIC_BROKER)])
    d = describe(bs, BROKER, "")[2]
    assert "sluice.test.a" in d and "sluice.test.b" not in d
    assert alter(bs, BROKER, "1", [("log.cleaner.backoff.ms", "16000")]) == (0, None)
    harness.wait_for(lambda: "sluice.test.b" not in describe(bs, BROKER, "1")[2],
                     timeout=15, what="replaced")


# (resource type, name, ops, expected (error code, message)), as Apache
# Kafka 4.3.1 answers IncrementalAlterConfigs (validate_only) on node 1.
IAC_ERRORS = [
    (BROKER, "1", [("log.dirs", SET, "/x")],
     (INVALID_REQUEST, "Cannot update these configs dynamically: [log.dirs]")),
    (BROKER, "1", [("internal.metadata.log.segment.bytes", SET, "1")],
     (INVALID_REQUEST, "Cannot update these configs dynamically: "
                       "[internal.metadata.log.segment.bytes]")),
    (BROKER, "1", [("log.cleaner.threads", SET, "abc")],
     (INVALID_REQUEST, "Invalid value abc for configuration log.cleaner.threads: Not a number "
                       "of type INT")),
    (BROKER, "1", [("log.cleaner.threads", SET, "-1")],
     (INVALID_REQUEST, "Invalid value -1 for configuration log.cleaner.threads: Value must be "
                       "at least 0")),
    (BROKER, "1", [("num.network.threads", SET, "0")],
     (INVALID_REQUEST, "Invalid value 0 for configuration num.network.threads: Value must be "
                       "at least 1")),
    (BROKER, "1", [("log.cleaner.min.cleanable.ratio", SET, "1.5")],
     (INVALID_REQUEST, "Invalid value 1.5 for configuration log.cleaner.min.cleanable.ratio: "
                       "Value must be no more than 1")),
    (BROKER, "1", [("unclean.leader.election.enable", SET, "yes")],
     (INVALID_REQUEST, "Invalid value yes for configuration unclean.leader.election.enable: "
                       "Expected value to be either true or false")),
    (BROKER, "1", [("log.message.timestamp.type", SET, "createtime")],
     (INVALID_REQUEST, "Invalid value createtime for configuration log.message.timestamp.type: "
                       "String must be one of: CreateTime, LogAppendTime")),
    (BROKER, "1", [("log.cleanup.policy", SET, "foo")],
     (INVALID_REQUEST, "Invalid value foo for configuration log.cleanup.policy: String must be "
                       "one of: compact, delete")),
    (BROKER, "1", [("ssl.keystore.type", SET, "JKS")],
     (INVALID_REQUEST, "These security configs can be dynamically updated only per-listener "
                       "using the listener prefix: [ssl.keystore.type]")),
    (BROKER, "1", [("leader.replication.throttled.rate", SET, "-1")],
     (INVALID_REQUEST, "Invalid value -1 for configuration leader.replication.throttled.rate: "
                       "Value must be at least 0")),
    (BROKER, "1", [("log.cleaner.threads", APPEND, "2")],
     (INVALID_CONFIG, "Config value append is not allowed for config key: log.cleaner.threads")),
    (BROKER, "1", [("log.cleaner.threads", SET, None)],
     (INVALID_REQUEST, "Null value not supported for : log.cleaner.threads")),
    (BROKER, "1", [("log.cleaner.threads", SET, "2"), ("log.cleaner.threads", SET, "3")],
     (INVALID_REQUEST, "Error due to duplicate config keys")),
    (BROKER, "2", [("log.cleaner.threads", SET, "2")],
     (INVALID_REQUEST, "Unexpected broker id, expected 1, but received 2")),
    (BROKER, "x", [("log.cleaner.threads", SET, "2")],
     (INVALID_REQUEST, "Node id must be an integer, but it is: x")),
    (GROUP, "g1", [("no.such", SET, "1")],
     (INVALID_CONFIG, "Unknown group config name: no.such")),
    (GROUP, "g1", [("share.delivery.count.limit", SET, "1")],
     (INVALID_CONFIG, "Invalid value 1 for configuration share.delivery.count.limit: Value must "
                      "be at least 2")),
    (GROUP, "g1", [("consumer.session.timeout.ms", SET, "1000")],
     (INVALID_CONFIG, "consumer.session.timeout.ms must be greater than or equal to "
                      "group.consumer.min.session.timeout.ms")),
    (GROUP, "g1", [("consumer.session.timeout.ms", SET, "70000")],
     (INVALID_CONFIG, "consumer.session.timeout.ms must be less than or equal to "
                      "group.consumer.max.session.timeout.ms")),
    (GROUP, "g1", [("consumer.session.timeout.ms", APPEND, "1")],
     (INVALID_CONFIG, "Can't APPEND to key consumer.session.timeout.ms because its type is not "
                      "LIST.")),
    (GROUP, "g1", [("share.auto.offset.reset", SET, "foo")],
     (INVALID_CONFIG, "Invalid value foo for configuration share.auto.offset.reset: Invalid "
                      "value `foo` for configuration share.auto.offset.reset. The value must be "
                      "either 'earliest', 'latest' or of the format "
                      "'by_duration:<PnDTnHnMn.nS>'.")),
    (GROUP, "g1", [("streams.num.standby.replicas", SET, "3")],
     (INVALID_CONFIG, "streams.num.standby.replicas must be less than or equal to "
                      "group.streams.max.standby.replicas")),
    (GROUP, "g1", [("share.record.lock.duration.ms", SET, "1000")],
     (INVALID_CONFIG, "share.record.lock.duration.ms must be greater than or equal to "
                      "group.share.min.record.lock.duration.ms")),
    (GROUP, "g1", [("consumer.assignment.interval.ms", SET, "20000")],
     (INVALID_CONFIG, "consumer.assignment.interval.ms must be less than or equal to "
                      "group.consumer.max.assignment.interval.ms")),
    (GROUP, "", [("consumer.session.timeout.ms", SET, "50000")],
     (INVALID_REQUEST, "Default group resources are not allowed.")),
    (TOPIC, "nosuch", [("retention.ms", SET, "1")],
     (UNKNOWN_TOPIC, "The topic 'nosuch' does not exist.")),
    (9, "x", [("a", SET, "1")], (INVALID_REQUEST, "Unknown resource type 9")),
    (CLIENT_METRICS, "m1", [("interval.ms", SET, "1")],
     (INVALID_REQUEST, "Invalid value 1 for interval.ms, interval must be between 100 and "
                       "3600000 (1 hour)")),
    (CLIENT_METRICS, "m1", [("foo", SET, "100")],
     (INVALID_REQUEST, "Unknown client metrics configuration: foo")),
    (CLIENT_METRICS, "", [("interval.ms", SET, "1000")],
     (INVALID_REQUEST, "Subscription name can't be empty")),
    (CLIENT_METRICS, "m1", [("match", SET, "client_colour=red")],
     (INVALID_CONFIG, "Illegal client matching pattern: client_colour=red")),
    (CLIENT_METRICS, "m1", [("interval.ms", APPEND, "1")],
     (INVALID_CONFIG, "Can't APPEND to key interval.ms because its type is not LIST.")),
    # Kafka's controller has no types for client-metrics keys: even the
    # list key refuses APPEND
    (CLIENT_METRICS, "m1", [("metrics", APPEND, "org.apache.kafka.producer.")],
     (INVALID_CONFIG, "Can't APPEND to key metrics because its type is not LIST.")),
]

# Accepted by Kafka (validate_only): dynamic keys of every scope, keys Kafka
# does not know (stored, as Kafka stores them), list edits.
IAC_OK = [
    (BROKER, "1", [("sasl.kerberos.min.time.before.relogin", SET, "60001")]),
    (BROKER, "1", [("no.such.key", SET, "1")]),
    (BROKER, "1", [("allow.everyone.if.no.acl.found", SET, "true")]),
    (BROKER, "", [("leader.replication.throttled.rate", SET, "10")]),
    (BROKER, "1", [("log.cleanup.policy", APPEND, "compact")]),
    (BROKER, "1", [("log.cleanup.policy", SUBTRACT, "delete")]),
    (BROKER, "1", [("node.id", DELETE, None)]),
    (GROUP, "g1", [("share.delivery.count.limit", SET, "3")]),
    (GROUP, "g1", [("share.auto.offset.reset", SET, "by_duration:PT1H")]),
    (GROUP, "g1", [("streams.num.standby.replicas", SET, "2")]),
    (CLIENT_METRICS, "m1", [("interval.ms", SET, "100")]),
    (CLIENT_METRICS, "m1", [("match", SET, "client_id=app-.*,client_software_name=java")]),
]


@pytest.mark.parametrize("rtype,name,ops,want", IAC_ERRORS,
                         ids=["%d-%s-%s" % (c[0], c[1] or "default", c[2][0][0])
                              for c in IAC_ERRORS])
def test_incremental_alter_errors_are_kafkas(module_broker, rtype, name, ops, want):
    assert incremental_alter(module_broker.bootstrap, rtype, name, ops,
                             validate_only=True) == want


@pytest.mark.parametrize("rtype,name,ops", IAC_OK,
                         ids=["%d-%s-%s" % (c[0], c[1] or "default", c[2][0][0]) for c in IAC_OK])
def test_incremental_alter_accepts_what_kafka_accepts(module_broker, rtype, name, ops):
    assert incremental_alter(module_broker.bootstrap, rtype, name, ops,
                             validate_only=True) == (0, None)


# Topic config changes, as Kafka 4.3.1 answers them (validate_only).
TOPIC_CASES = [
    ([("foo", SET, "1")], (INVALID_CONFIG, "Unknown topic config name: foo")),
    ([("retention.ms", SET, "abc")],
     (INVALID_CONFIG, "Invalid value abc for configuration retention.ms: Not a number of type "
                      "LONG")),
    ([("segment.bytes", SET, "10")],
     (INVALID_CONFIG, "Invalid value 10 for configuration segment.bytes: Value must be at least "
                      "1048576")),
    ([("min.cleanable.dirty.ratio", SET, "2")],
     (INVALID_CONFIG, "Invalid value 2.0 for configuration min.cleanable.dirty.ratio: Value must "
                      "be no more than 1")),
    ([("compression.type", SET, "brotli")],
     (INVALID_CONFIG, "Invalid value brotli for configuration compression.type: String must be "
                      "one of: uncompressed, zstd, lz4, snappy, gzip, producer")),
    ([("retention.ms", APPEND, "1")],
     (INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST.")),
    ([("retention.ms", SET, None)],
     (INVALID_REQUEST, "Null value not supported for : retention.ms")),
    ([("remote.storage.enable", SET, "true")],
     (INVALID_CONFIG, "Tiered Storage functionality is disabled in the broker. Topic cannot be "
                      "configured with remote log storage.")),
    ([("leader.replication.throttled.replicas", SET, "0:1,*")],
     (INVALID_CONFIG, "Invalid value [0:1, *] for configuration "
                      "leader.replication.throttled.replicas: leader.replication.throttled."
                      "replicas must be the literal '*' or a list of replicas in the following "
                      "format: [partitionId]:[brokerId],[partitionId]:[brokerId],...")),
    ([("retention.ms", SET, "1"), ("retention.ms", SET, "2")],
     (INVALID_REQUEST, "Error due to duplicate config keys")),
    ([("cleanup.policy", SET, "delete,delete")], (0, None)),
    ([("cleanup.policy", APPEND, "compact")], (0, None)),
    ([("internal.segment.bytes", SET, "1")], (0, None)),
    ([("follower.replication.throttled.replicas", SET, "0:1,1:1")], (0, None)),
]


def test_topic_alter_errors_are_kafkas(module_broker):
    bs = module_broker.bootstrap
    harness.create_topic(bs, "cfg-topic")
    got = [(ops, incremental_alter(bs, TOPIC, "cfg-topic", ops, validate_only=True))
           for ops, _ in TOPIC_CASES]
    assert got == [(ops, want) for ops, want in TOPIC_CASES]
    assert alter(bs, TOPIC, "cfg-topic", [("retention.ms", None)], True) == (
        INVALID_REQUEST, "Null value not supported for : retention.ms")
    assert alter(bs, TOPIC, "cfg-topic", [("segment.bytes", "10")], True) == (
        INVALID_CONFIG, "Invalid value 10 for configuration segment.bytes: Value must be at "
        "least 1048576")


def test_legacy_alter_errors_are_kafkas(module_broker):
    bs = module_broker.bootstrap
    assert alter(bs, BROKER, "1", [("log.dirs", "/x")], True) == (
        INVALID_REQUEST, "Cannot update these configs dynamically: [log.dirs]")
    assert alter(bs, BROKER, "1", [("log.cleaner.threads", None)], True) == (
        INVALID_REQUEST, "Null value not supported for : log.cleaner.threads")
    assert alter(bs, BROKER, "1", [("log.cleaner.threads", "abc")], True) == (
        INVALID_REQUEST, "Invalid value abc for configuration log.cleaner.threads: Not a number "
        "of type INT")
    assert alter(bs, BROKER, "1", [("sasl.kerberos.min.time.before.relogin", "60001")],
                 True) == (0, None)


def test_describe_errors_are_kafkas(module_broker):
    bs = module_broker.bootstrap
    assert describe(bs, BROKER, "2")[:2] == (
        INVALID_REQUEST, "Unexpected broker id, expected 1 or empty string, but received 2")
    assert describe(bs, BROKER, "x")[:2] == (
        INVALID_REQUEST, "Broker id must be an integer, but it is: x")
    assert describe(bs, GROUP, "")[:2] == (INVALID_REQUEST, "Group name must not be empty")
    assert describe(bs, TOPIC, "nosuch")[:2] == (UNKNOWN_TOPIC, "")
    assert describe(bs, TOPIC, "a/b")[:2] == (
        INVALID_TOPIC, "Topic name is invalid: 'a/b' contains one or more characters other "
        "than ASCII alphanumerics, '.', '_' and '-'")
    assert describe(bs, 8, "")[:2] == (INVALID_REQUEST, "Broker id must not be empty")
    assert describe(bs, CLIENT_METRICS, "")[:2] == (
        INVALID_REQUEST, "Client metrics subscription name must not be empty")
    # a read-only key is described as such, a sensitive one without value
    _, _, d = describe(bs, BROKER, "1", ["log.dirs", "ssl.key.password"])
    assert d["log.dirs"]["read_only"] and not d["log.dirs"]["sensitive"]
    p = d["ssl.key.password"]
    assert (p["value"], p["sensitive"], p["read_only"], p["config_type"]) == (None, True, False, 9)


@pytest.mark.broker_config({"allow.everyone.if.no.acl.found": "true",
                            "super.users": "User:admin",
                            "sasl.kerberos.min.time.before.relogin": "61000"})
def test_authorizer_keys_are_not_unknown(broker):
    """allow.everyone.if.no.acl.found and super.users (StandardAuthorizer's
    keys) in the server config give no unknown-key warning, and a dynamic
    key set there is described as a static config."""
    harness.wait_for(lambda: broker.log_paths(), what="broker log")
    text = "\n".join(open(p, errors="replace").read() for p in broker.log_paths())
    for key in ("allow.everyone.if.no.acl.found", "super.users"):
        assert "'%s' was supplied but isn't a known config" % key not in text
    if broker.target == "sluice":
        # accepted keys Sluice does not act on are reported at start-up,
        # not silently ignored (docs/configuration.md lists them)
        assert ("'super.users' is accepted but has no effect yet (not implemented by "
                "sluice; see docs/configuration.md)") in text
    key = "sasl.kerberos.min.time.before.relogin"
    _, _, d = describe(broker.bootstrap, BROKER, "1", [key])
    assert (d[key]["value"], d[key]["source"]) == ("61000", STATIC)
