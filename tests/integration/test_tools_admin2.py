"""kafka-reassign-partitions.sh (the seed's --generate/--execute/--verify
flow), kafka-storage.sh (random-uuid/format/info) and kafka-acls.sh, against
the same commands of Apache Kafka's tools where they run on a broker."""

import json
import re

import pytest

import harness
from toolcli import kafka, run


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def node_id(b):
    r = run("broker-api-versions", *bs(b), check=True)
    return int(re.search(r"\(id: (\d+) ", r.stdout).group(1))


def test_seed_reassign_flow(module_broker, tmp_path):
    b = module_broker
    foo, bar = harness.unique_topic("foo"), harness.unique_topic("bar")
    harness.create_topic(b.bootstrap, foo, partitions=3)
    harness.create_topic(b.bootstrap, bar, partitions=2)
    nid = node_id(b)
    move = tmp_path / "tmp.json"
    move.write_text(json.dumps({"version": 1, "topics": [{"topic": foo}, {"topic": bar}]}))
    r = run("reassign-partitions", *bs(b), "--topics-to-move-json-file", str(move),
            "--broker-list", str(nid), "--generate", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "Current partition replica assignment"
    current = json.loads(lines[1])
    assert lines[2] == "" and lines[3] == "Proposed partition reassignment configuration"
    proposed = json.loads(lines[4])
    assert current["version"] == 1 and len(current["partitions"]) == 5
    assert [(p["topic"], p["partition"]) for p in proposed["partitions"]] == \
        sorted([(bar, 0), (bar, 1), (foo, 0), (foo, 1), (foo, 2)])
    assert all(p["replicas"] == [nid] and p["log_dirs"] == ["any"] for p in proposed["partitions"])
    plan = tmp_path / "proposed.json"
    plan.write_text(lines[4])
    r = run("reassign-partitions", *bs(b), "--reassignment-json-file", str(plan), "--execute",
            check=True)
    out = r.stdout.splitlines()
    assert out[0] == "Current partition replica assignment" and out[1] == ""
    assert json.loads(out[2])["partitions"][0]["replicas"] == [nid]
    assert out[4] == "Save this to use as the --reassignment-json-file option during rollback"
    assert out[5] == ("Successfully started partition reassignments for %s-0,%s-1,%s-0,%s-1,%s-2"
                      % (bar, bar, foo, foo, foo))
    r = run("reassign-partitions", *bs(b), "--reassignment-json-file", str(plan), "--verify",
            check=True)
    out = r.stdout.splitlines()
    assert out[0] == "Status of partition reassignment:"
    assert out[1] == "Reassignment of partition %s-0 is completed." % bar
    assert out[-2].startswith("Clearing broker-level throttles on broker")
    assert out[-1] == "Clearing topic-level throttles on topics %s,%s" % (bar, foo)
    r = run("reassign-partitions", *bs(b), "--list", check=True)
    assert r.stdout == "No partition reassignments found.\n"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": foo, "partition": 0, "replicas": [nid + 100]}]}))
    r = run("reassign-partitions", *bs(b), "--reassignment-json-file", str(bad), "--execute")
    assert r.returncode == 1 and r.stdout.startswith("Error: Unknown broker id %d" % (nid + 100))
    # byte-identical to Kafka's tool
    def norm(out):
        # Kafka lists the throttled topics in hash-set order
        def fix(l):
            if not l.startswith("Clearing topic-level"):
                return l
            head, _, topics = l.rpartition(" ")
            return head + " " + ",".join(sorted(topics.split(",")))
        return sorted(fix(l) for l in out.splitlines())
    for args in (["--reassignment-json-file", str(plan), "--verify"], ["--list"],
                 ["--reassignment-json-file", str(plan), "--cancel"]):
        assert norm(run("reassign-partitions", *bs(b), *args).stdout) == \
            norm(kafka("reassign-partitions", *bs(b), *args).stdout), args


def test_storage(tmp_path):
    r = run("storage", "random-uuid", check=True)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}\n", r.stdout) and not r.stdout.startswith("-")
    d = tmp_path / "logs"
    cfg = tmp_path / "server.properties"
    # a config Kafka's own StorageTool accepts too
    cfg.write_text("node.id=7\nprocess.roles=broker,controller\nlog.dirs=%s\n"
                   "controller.listener.names=CONTROLLER\n"
                   "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"
                   "controller.quorum.bootstrap.servers=127.0.0.1:9093\n" % d)
    r = run("storage", "info", "-c", str(cfg))
    assert r.returncode == 1 and "%s does not exist" % d in r.stdout
    cid = run("storage", "random-uuid", check=True).stdout.strip()
    r = run("storage", "format", "-t", cid, "-c", str(cfg), "--standalone", check=True)
    assert r.stdout.splitlines()[-1] == \
        "Formatting metadata directory %s with metadata.version 4.3-IV0." % d
    props = dict(l.split("=", 1) for l in (d / "meta.properties").read_text().splitlines()
                 if l and not l.startswith("#"))
    assert props["cluster.id"] == cid and props["node.id"] == "7" and props["version"] == "1"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", props["directory.id"])
    r = run("storage", "format", "-t", cid, "-c", str(cfg))
    assert r.returncode == 1 and "is already formatted. Use --ignore-formatted" in r.stderr
    r = run("storage", "format", "-t", cid, "-c", str(cfg), "--ignore-formatted", check=True)
    r = run("storage", "info", "-c", str(cfg), check=True)
    assert r.stdout == ("Found log directory:\n  %s\n\nFound metadata: {cluster.id=%s, "
                        "directory.id=%s, node.id=7, version=1}\n\n"
                        % (d, cid, props["directory.id"]))
    theirs = kafka("storage", "info", "-c", str(cfg))
    assert theirs.stdout == r.stdout
    # A release given without its IV formats at that release's last
    # production metadata.version, printed by its full name as Kafka does.
    d2 = tmp_path / "logs40"
    cfg2 = tmp_path / "server40.properties"
    cfg2.write_text(cfg.read_text().replace(str(d), str(d2)))
    r = run("storage", "format", "-t", cid, "-c", str(cfg2), "--standalone",
            "--release-version", "4.0", check=True)
    assert r.stdout.splitlines()[-1] == \
        "Formatting metadata directory %s with metadata.version 4.0-IV3." % d2
    r = run("storage", "format", "-t", "not-a-uuid", "-c", str(cfg))
    assert r.returncode == 1


AUTH = {"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "true", "super.users": "User:ANONYMOUS"}


@pytest.mark.broker_config(AUTH)
def test_acls(broker):
    b = broker
    t = harness.unique_topic("acl")
    r = run("acls", *bs(b), "--list")
    if "SecurityDisabledException" in r.stdout or r.returncode != 0:
        pytest.skip("broker has no authorizer: %s" % r.stdout.strip()[:200])
    r = run("acls", *bs(b), "--add", "--allow-principal", "User:alice", "--operation", "Read",
            "--topic", t, check=True)
    assert r.stdout == ("Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=%s, "
                        "patternType=LITERAL)`: \n \t(principal=User:alice, host=*, "
                        "operation=READ, permissionType=ALLOW)\n\n" % t)
    r = run("acls", *bs(b), "--list", "--topic", t, check=True)
    assert r.stdout == ("Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=%s, "
                        "patternType=LITERAL)`:\n \t(principal=User:alice, host=*, "
                        "operation=READ, permissionType=ALLOW)\n\n" % t).replace(":\n \t", ":\n\t")
    assert kafka("acls", *bs(b), "--list", "--topic", t).stdout == r.stdout
    run("acls", *bs(b), "--add", "--consumer", "--allow-principal", "User:bob", "--topic", t,
        "--group", "g1", check=True)
    r = run("acls", *bs(b), "--list", "--principal", "User:bob", check=True)
    assert r.stdout.startswith("ACLs for principal `User:bob`\n")
    assert "operation=DESCRIBE" in r.stdout and "resourceType=GROUP, name=g1" in r.stdout
    run("acls", *bs(b), "--remove", "--force", "--topic", t, check=True)
    r = run("acls", *bs(b), "--list", "--topic", t, check=True)
    assert r.stdout == ""
