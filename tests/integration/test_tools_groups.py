"""kafka-consumer-groups.sh (`sluice consumer-groups`): the seed notes'
list/describe/delete/reset commands, every reset scenario, the members and
state views, delete-offsets, and the same tables as Apache Kafka's tool."""

import datetime
import re

import harness
from toolcli import kafka, run, table


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def setup_group(b, partitions=4, per_part=3, consume_n=None):
    """A topic with per_part records in each partition and a group that has
    consumed (and committed) consume_n of them, then left."""
    t = harness.unique_topic("cg")
    g = "test-group-" + t
    harness.create_topic(b.bootstrap, t, partitions=partitions)
    for p in range(partitions):
        harness.produce(b.bootstrap, t, [b"m%d-%d" % (p, i) for i in range(per_part)],
                        partition=p)
    total = partitions * per_part
    n = total if consume_n is None else consume_n
    r = run("console-consumer", *bs(b), "--topic", t, "--group", g, "--from-beginning",
            "--max-messages", str(n), check=True)
    assert "Processed a total of %d messages" % n in r.stderr
    return t, g


def offsets_table(out):
    rows = table(out)
    assert rows[0] == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
                       "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"], rows
    return rows[1:]


def test_seed_list_describe_delete(module_broker):
    b = module_broker
    t, g = setup_group(b)
    r = run("consumer-groups", "--list", *bs(b), check=True)
    assert g in r.stdout.splitlines()
    r = run("consumer-groups", "--describe", *bs(b), "--group", g, check=True)
    assert r.stdout.startswith("\nGROUP ")
    assert "Consumer group '%s' has no active members." % g in r.stderr
    rows = offsets_table(r.stdout)
    assert rows == [[g, t, str(p), "3", "3", "0", "-", "-", "-"] for p in range(4)]
    # the seed deletes the group
    r = run("consumer-groups", *bs(b), "--delete", "--group", g, check=True)
    assert r.stdout == "Deletion of requested consumer groups ('%s') was successful.\n" % g
    r = run("consumer-groups", "--list", *bs(b), check=True)
    assert g not in r.stdout.splitlines()
    r = run("consumer-groups", *bs(b), "--delete", "--group", g, check=True)
    assert r.stdout == ("\nError: Deletion of some consumer groups failed:\n"
                        "* Group '%s' could not be deleted due to: "
                        "org.apache.kafka.common.errors.GroupIdNotFoundException: "
                        "The group id does not exist.\n" % g)


def test_describe_lag_and_missing_group(module_broker):
    b = module_broker
    t, g = setup_group(b, partitions=1, per_part=10, consume_n=4)
    r = run("consumer-groups", "--describe", *bs(b), "--group", g, "--offsets", check=True)
    assert offsets_table(r.stdout) == [[g, t, "0", "4", "10", "6", "-", "-", "-"]]
    r = run("consumer-groups", "--describe", *bs(b), "--group", g, "--offsets", "--verbose",
            check=True)
    assert table(r.stdout)[0][3] == "LEADER-EPOCH"
    r = run("consumer-groups", "--describe", *bs(b), "--group", "no-such-group")
    assert r.returncode == 0
    assert r.stdout == ("\nError: Executing consumer group command failed due to "
                        "org.apache.kafka.common.errors.GroupIdNotFoundException: "
                        "Group no-such-group not found.\n")


def test_state_and_members(module_broker):
    b = module_broker
    t, g = setup_group(b, partitions=2, per_part=1)
    r = run("consumer-groups", "--describe", *bs(b), "--group", g, "--state", check=True)
    rows = [l for l in r.stdout.splitlines() if l]
    assert rows[0].split() == ["GROUP", "COORDINATOR", "(ID)", "ASSIGNMENT-STRATEGY", "STATE",
                               "#MEMBERS"]
    assert re.match(r"^%s +\S+:\d+  \(\d+\) +- +Empty +0$" % re.escape(g), rows[1]), rows
    r = run("consumer-groups", "--describe", *bs(b), "--group", g, "--members", check=True)
    assert [l.split() for l in r.stdout.splitlines() if l] == [
        ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"]]
    # an active member shows up with its assignment
    c = harness.consumer(b.bootstrap, group=g)
    c.subscribe([t])
    harness.wait_for(lambda: (c.poll(0.2), len(c.assignment()) == 2)[1], 30,
                     what="assignment")
    try:
        r = run("consumer-groups", "--describe", *bs(b), "--group", g, "--members", "--verbose",
                check=True)
        rows = table(r.stdout)
        assert rows[0][:5] == ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"]
        assert rows[1][0] == g and rows[1][4] == "2"
        assert "%s:0,1" % t in rows[1]
        r = run("consumer-groups", "--describe", *bs(b), "--group", g, check=True)
        rows = offsets_table(r.stdout)
        assert all(row[6] != "-" for row in rows)  # consumer id filled in
        r = run("consumer-groups", "--list", "--state", *bs(b), check=True)
        line = [l for l in r.stdout.splitlines() if l.startswith(g + " ")]
        assert line and line[0].split()[1] == "Stable"
        r = run("consumer-groups", "--reset-offsets", "--to-earliest", "--all-topics",
                "--execute", "--group", g, *bs(b), check=True)
        assert ("Assignments can only be reset if the group '%s' is inactive, but the "
                "current state is Stable." % g) in r.stdout
    finally:
        c.close()


def reset(b, g, *args):
    r = run("consumer-groups", *bs(b), "--group", g, "--reset-offsets", *args, check=True)
    rows = table(r.stdout)
    assert rows[0] == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], r.stdout
    return [(row[1], int(row[2]), int(row[3])) for row in rows[1:]]


def committed(b, g):
    r = run("consumer-groups", "--describe", *bs(b), "--group", g, check=True)
    return {(row[1], int(row[2])): int(row[3]) for row in offsets_table(r.stdout)}


def test_reset_offsets_scenarios(module_broker, tmp_path):
    b = module_broker
    t, g = setup_group(b, partitions=2, per_part=5)
    # seed: --to-earliest --dry-run, then --execute
    assert reset(b, g, "--topic", t, "--to-earliest", "--dry-run") == [(t, 0, 0), (t, 1, 0)]
    assert committed(b, g) == {(t, 0): 5, (t, 1): 5}
    assert reset(b, g, "--topic", t, "--to-earliest", "--execute") == [(t, 0, 0), (t, 1, 0)]
    assert committed(b, g) == {(t, 0): 0, (t, 1): 0}
    assert reset(b, g, "--all-topics", "--to-latest", "--execute") == [(t, 0, 5), (t, 1, 5)]
    assert reset(b, g, "--topic", "%s:1" % t, "--to-offset", "2", "--execute") == [(t, 1, 2)]
    assert reset(b, g, "--all-topics", "--shift-by", "-1", "--execute") == [(t, 0, 4), (t, 1, 1)]
    assert reset(b, g, "--all-topics", "--shift-by", "100", "--dry-run") == [(t, 0, 5), (t, 1, 5)]
    assert reset(b, g, "--all-topics", "--to-current", "--dry-run") == [(t, 0, 4), (t, 1, 1)]
    assert reset(b, g, "--all-topics", "--to-offset", "99", "--dry-run") == [(t, 0, 5), (t, 1, 5)]
    past = (datetime.datetime.now() - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000")
    assert reset(b, g, "--all-topics", "--to-datetime", past, "--dry-run") == [(t, 0, 0), (t, 1, 0)]
    assert reset(b, g, "--all-topics", "--by-duration", "P1D", "--dry-run") == [(t, 0, 0), (t, 1, 0)]
    # export, then apply the file
    r = run("consumer-groups", *bs(b), "--group", g, "--reset-offsets", "--all-topics",
            "--to-offset", "3", "--export", "--dry-run", check=True)
    assert r.stdout == "%s,0,3\n%s,1,3\n\n" % (t, t)
    plan = tmp_path / "plan.csv"
    plan.write_text(r.stdout)
    assert reset(b, g, "--from-file", str(plan), "--execute") == [(t, 0, 3), (t, 1, 3)]
    assert committed(b, g) == {(t, 0): 3, (t, 1): 3}
    # no --execute: Kafka's warning, nothing changes
    r = run("consumer-groups", *bs(b), "--group", g, "--reset-offsets", "--all-topics",
            "--to-earliest", check=True)
    assert "WARN: No action will be performed as the --execute option is missing." in r.stderr
    assert committed(b, g) == {(t, 0): 3, (t, 1): 3}
    # usage errors
    r = run("consumer-groups", *bs(b), "--group", g, "--reset-offsets", "--to-earliest")
    assert r.returncode == 1
    assert "One of the reset scopes should be defined: --all-topics, --topic." in r.stderr
    r = run("consumer-groups", *bs(b), "--group", g, "--reset-offsets", "--all-topics")
    assert r.returncode == 1


def test_delete_offsets(module_broker):
    b = module_broker
    t, g = setup_group(b, partitions=2, per_part=1)
    r = run("consumer-groups", *bs(b), "--delete-offsets", "--group", g, "--topic", t,
            check=True)
    assert r.stdout.splitlines()[0] == "Request succeeded for deleting offsets from group %s." % g
    assert table("\n".join(r.stdout.splitlines()[1:])) == [
        ["TOPIC", "PARTITION", "STATUS"], [t, "0", "Successful"], [t, "1", "Successful"]]
    r = run("consumer-groups", "--describe", *bs(b), "--group", g)
    assert t not in r.stdout


def test_same_tables_as_kafka(module_broker):
    b = module_broker
    t, g = setup_group(b, partitions=3, per_part=2, consume_n=6)
    for args in (["--describe", "--group", g], ["--describe", "--group", g, "--state"],
                 ["--describe", "--group", g, "--members", "--verbose"],
                 ["--describe", "--group", g, "--offsets", "--verbose"],
                 ["--group", g, "--reset-offsets", "--all-topics", "--to-earliest", "--dry-run"],
                 ["--group", g, "--reset-offsets", "--topic", t, "--shift-by", "-1", "--dry-run"]):
        ours = run("consumer-groups", *bs(b), *args)
        theirs = kafka("consumer-groups", *bs(b), *args)
        assert ours.returncode == theirs.returncode, args
        assert table(ours.stdout) == table(theirs.stdout), args
        # column alignment too: the header lines are byte-identical
        hdr = [l for l in ours.stdout.splitlines() if l.startswith("GROUP")]
        assert hdr == [l for l in theirs.stdout.splitlines() if l.startswith("GROUP")], args
    r = kafka("consumer-groups", *bs(b), "--list")
    assert g in r.stdout.split()
    assert set(run("consumer-groups", *bs(b), "--list").stdout.split()) == set(r.stdout.split())
