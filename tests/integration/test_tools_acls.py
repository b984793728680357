"""kafka-acls.sh against a broker with Kafka's StandardAuthorizer configured
(ACLs stored in the metadata log) and without an authorizer
(SECURITY_DISABLED): Sluice's tool and Apache Kafka's AclCommand print the
same, for every resource type (topic, group, cluster, transactional-id,
delegation-token, user)."""

import pytest

import harness
from toolcli import clean_stderr, kafka, run

AUTH = {"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "true", "super.users": "User:ANONYMOUS"}


# the module broker has the authorizer; test_no_authorizer starts its own
pytestmark = pytest.mark.broker_config(AUTH)


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def blocks(out):
    """ACL listing as {header line: sorted entry lines} (Kafka prints
    resources and entries in hash order)."""
    res = {}
    cur = None
    for l in out.splitlines():
        if not l.strip():
            cur = None
        elif not l.startswith(" ") and not l.startswith("\t"):
            cur = l.rstrip()
            res.setdefault(cur, [])
        else:
            res[cur].append(l.strip())
    return {k: sorted(v) for k, v in res.items()}


RESOURCES = [
    (["--transactional-id", "tx-{u}"], "TRANSACTIONAL_ID", "tx-{u}", "Write"),
    (["--delegation-token", "tok-{u}"], "DELEGATION_TOKEN", "tok-{u}", "Describe"),
    (["--user-principal", "User:bob-{u}"], "USER", "User:bob-{u}", "CreateTokens"),
    (["--topic", "t-{u}"], "TOPIC", "t-{u}", "Read"),
    (["--group", "g-{u}"], "GROUP", "g-{u}", "Read"),
]


@pytest.mark.parametrize("res", RESOURCES, ids=[r[1] for r in RESOURCES])
@pytest.mark.parametrize("adder", ["sluice", "kafka"])
def test_acl_resource_types(module_broker, res, adder):
    b = module_broker
    u = harness.unique_topic("x")[2:]
    flags = [f.format(u=u) for f in res[0]]
    name = res[2].format(u=u)
    tool = run if adder == "sluice" else kafka
    r = tool("acls", *bs(b), "--add", "--allow-principal", "User:alice", "--operation", res[3],
             *flags)
    assert r.returncode == 0, r.stderr
    op = {"CreateTokens": "CREATE_TOKENS"}.get(res[3], res[3].upper())
    entry = "(principal=User:alice, host=*, operation=%s, permissionType=ALLOW)" % op
    pattern = "ResourcePattern(resourceType=%s, name=%s, patternType=LITERAL)" % (res[1], name)
    # Kafka's brokers apply the controller's ACL records asynchronously
    harness.wait_for(lambda: run("acls", *bs(b), "--list", *flags).stdout, 10,
                     what="ACL visible")
    ours = run("acls", *bs(b), "--list", *flags, check=True)
    assert ours.stdout == "Current ACLs for resource `%s`:\n \t%s \n\n" % (pattern, entry) \
        or ours.stdout == "Current ACLs for resource `%s`:\n\t%s\n\n" % (pattern, entry), \
        ours.stdout
    theirs = kafka("acls", *bs(b), "--list", *flags)
    assert theirs.stdout == ours.stdout
    # by principal
    ours = run("acls", *bs(b), "--list", "--principal", "User:alice", check=True)
    theirs = kafka("acls", *bs(b), "--list", "--principal", "User:alice")
    assert blocks(ours.stdout) == blocks(theirs.stdout)
    r = run("acls", *bs(b), "--remove", "--force", "--allow-principal", "User:alice",
            "--operation", res[3], *flags, check=True)
    harness.wait_for(lambda: run("acls", *bs(b), "--list", *flags).stdout == "", 10,
                     what="ACL removed")
    assert kafka("acls", *bs(b), "--list", *flags).stdout == ""


def test_acl_list_all_and_prefixed(module_broker):
    b = module_broker
    u = harness.unique_topic("p")[2:]
    run("acls", *bs(b), "--add", "--deny-principal", "User:mallory", "--operation", "Write",
        "--topic", "pre-" + u, "--resource-pattern-type", "prefixed", check=True)
    kafka("acls", *bs(b), "--add", "--allow-principal", "User:carol", "--operation",
          "Describe", "--transactional-id", "txp-" + u, "--resource-pattern-type", "prefixed")
    harness.wait_for(lambda: "txp-" + u in run("acls", *bs(b), "--list").stdout, 10,
                     what="ACL visible")
    ours = run("acls", *bs(b), "--list", check=True)
    theirs = kafka("acls", *bs(b), "--list")
    assert blocks(ours.stdout) == blocks(theirs.stdout)
    assert ("Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=pre-%s, "
            "patternType=PREFIXED)`:" % u) in ours.stdout
    assert ("Current ACLs for resource `ResourcePattern(resourceType=TRANSACTIONAL_ID, "
            "name=txp-%s, patternType=PREFIXED)`:" % u) in ours.stdout


def test_no_authorizer(broker_factory):
    """Without authorizer.class.name: SECURITY_DISABLED, as Kafka."""
    b = broker_factory()
    for args in (["--list"], ["--add", "--allow-principal", "User:a", "--operation", "Read",
                              "--topic", "t"]):
        ours = run("acls", *bs(b), *args)
        theirs = kafka("acls", *bs(b), *args)
        assert ours.returncode == theirs.returncode == 1, (ours, theirs)
        assert "SecurityDisabledException: No Authorizer is configured" in ours.stdout + \
            ours.stderr
        assert "SecurityDisabledException: No Authorizer is configured" in theirs.stdout + \
            theirs.stderr
