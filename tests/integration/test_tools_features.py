"""kafka-features.sh upgrade / downgrade / disable / version-mapping /
feature-dependencies: Sluice's
tool and Apache Kafka's FeatureCommand against the broker under test print
the same lines and exit the same way (the broker validates UpdateFeatures as
Kafka's FeatureControlManager does)."""

import re

import pytest

from toolcli import clean_stderr, kafka, run


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def same(b, *args):
    """Runs ours and Kafka's tool; asserts equal stdout/stderr/exit code and
    returns ours."""
    ours = run("features", *bs(b), *args)
    theirs = kafka("features", *bs(b), *args)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), (args, ours,
                                                                                   theirs)
    assert ours.stderr.strip() == clean_stderr(theirs.stderr), args
    return ours


FAIL_ALL = "The update failed for all features since the following feature had an error: "


def test_metadata_version_updates(module_broker):
    b = module_broker
    r = same(b, "upgrade", "--feature", "metadata.version=30", "--dry-run")
    assert r.returncode == 0 and r.stdout == "metadata.version can be upgraded to 30.\n"
    r = same(b, "upgrade", "--metadata", "4.3-IV0")
    assert r.stdout == (" `metadata` flag is deprecated and may be removed in a future release.\n"
                        "metadata.version was upgraded to 30.\n")
    r = same(b, "downgrade", "--feature", "metadata.version=29")
    assert r.returncode == 1
    assert r.stdout == ("Could not downgrade metadata.version to 29. " + FAIL_ALL +
                        "Unsupported metadata.version downgrade from 30 to 29. Refusing to "
                        "perform the requested downgrade because it might delete metadata "
                        "information.\n")
    assert r.stderr == "1 out of 1 operation(s) failed.\n"
    r = same(b, "downgrade", "--unsafe", "--dry-run", "--feature", "metadata.version=29")
    assert r.stdout.startswith("Can not downgrade metadata.version to 29. ")
    assert "Unsafe metadata downgrade is not supported in this version." in r.stdout
    r = same(b, "upgrade", "--feature", "metadata.version=29")
    assert "Can't downgrade the version of this feature without setting the upgrade type" in \
        r.stdout
    r = same(b, "upgrade", "--feature", "metadata.version=31")
    assert re.search(r"Invalid update version 31 for feature metadata.version. Local controller "
                     r"\d+ only supports versions 7-30\n$", r.stdout)
    r = same(b, "disable", "--feature", "metadata.version")
    assert r.stdout.startswith("Could not disable metadata.version. " + FAIL_ALL)
    # the finalized level is unchanged
    d = run("features", *bs(b), "describe", check=True).stdout
    assert re.search(r"Feature: metadata.version +SupportedMinVersion: 3.3-IV3 +"
                     r"SupportedMaxVersion: 4.3-IV0 +FinalizedVersionLevel: 4.3-IV0 ", d), d


def test_unsupported_features(module_broker):
    b = module_broker
    r = same(b, "upgrade", "--feature", "no.such.feature=1")
    assert re.fullmatch("Could not upgrade no.such.feature to 1. " + re.escape(FAIL_ALL) +
                        r"Invalid update version 1 for feature no.such.feature. Local controller "
                        r"\d+ does not support this feature.\n", r.stdout)
    # several features: one failure fails them all, listed in name order
    r = same(b, "upgrade", "--feature", "no.such.feature=1", "--feature", "metadata.version=30")
    assert r.stdout.splitlines()[0].startswith("Could not upgrade metadata.version to 30. ")
    assert r.stderr == "2 out of 2 operation(s) failed.\n"


@pytest.mark.parametrize("args,msg", [
    (["upgrade"], "You must specify at least one feature to upgrade"),
    (["disable"], "You must specify at least one feature to disable"),
    (["upgrade", "--feature", "metadata.version"],
     "Can't parse feature=level string metadata.version: equals sign not found."),
    (["upgrade", "--feature", "metadata.version=x"],
     "Can't parse feature=level string metadata.version=x: unable to parse x as a short."),
    (["upgrade", "--feature", "metadata.version=30", "--feature", "metadata.version=30"],
     "Feature metadata.version was specified more than once."),
    (["upgrade", "--release-version", "4.3-IV0", "--feature", "group.version=1"],
     "Can not specify `release-version` with other feature flags."),
    (["upgrade", "--release-version", "9.9"],
     "Unknown metadata.version '9.9'. Supported metadata.version are: 3.3-IV3, 3.4-IV0, "
     "3.5-IV0, 3.5-IV1, 3.5-IV2, 3.6-IV0, 3.6-IV1, 3.6-IV2, 3.7-IV0, 3.7-IV1, 3.7-IV2, 3.7-IV3, "
     "3.7-IV4, 3.8-IV0, 3.9-IV0, 4.0-IV0, 4.0-IV1, 4.0-IV2, 4.0-IV3, 4.1-IV0, 4.1-IV1, 4.2-IV0, "
     "4.2-IV1, 4.3-IV0, 4.4-IV0"),
])
def test_bad_arguments(module_broker, args, msg):
    r = same(module_broker, *args)
    assert r.returncode == 1 and r.stderr == msg + "\n"


@pytest.mark.parametrize("rel", [None, "3.9-IV0", "4.0", "3.3-IV3"])
def test_version_mapping(rel):
    args = ["version-mapping"] + (["--release-version", rel] if rel else [])
    ours = run("features", *args, check=True)
    theirs = kafka("features", *args)
    assert ours.stdout == theirs.stdout
    assert ours.stdout.splitlines()[1:] == [
        "kraft.version=%s" % ("1" if rel in (None, "3.9-IV0", "4.0") else "0"),
        "transaction.version=%s" % ("2" if rel in (None, "4.0") else "0"),
        "group.version=%s" % ("1" if rel in (None, "4.0") else "0"),
        "eligible.leader.replicas.version=%s" % ("1" if rel is None else "0"),
        "share.version=%s" % ("1" if rel is None else "0"),
        "streams.version=%s" % ("1" if rel is None else "0")]


@pytest.mark.parametrize("feats", [
    ["eligible.leader.replicas.version=1", "group.version=1", "metadata.version=25"],
    ["transaction.version=2", "eligible.leader.replicas.version=0"],
    ["group.version=1", "foo=1"],            # unknown feature after a good one
    ["group.version=2"],                     # level the feature does not have
    ["metadata.version=6"],                  # below the first KRaft level
    ["metadata.version=4.0-IV3"],            # a name, not a level
    ["group.version"],                       # no '='
    [],                                      # --feature missing
])
def test_feature_dependencies(feats):
    """feature-dependencies needs no broker: both tools print the same
    lines, messages and exit code (only ELR 1 has a dependency in 4.3.1)."""
    args = ["feature-dependencies"]
    for f in feats:
        args += ["--feature", f]
    ours = run("features", *args)
    theirs = kafka("features", *args)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
    assert ours.stderr.strip() == clean_stderr(theirs.stderr).strip()
    if feats and feats[0].startswith("eligible"):
        assert ours.stdout.startswith("eligible.leader.replicas.version=1 requires:\n"
                                      "    metadata.version=23 (4.0-IV1)\n")


def test_upgrade_persists(broker_factory, tmp_path):
    """A cluster formatted at 4.2-IV1 (kafka-storage format --release-version,
    bootstrap.checkpoint) is upgraded to 4.3-IV0 with kafka-features; the
    level is finalized in the metadata log and kept across a restart; the
    way back is refused (4.3-IV0 changed the metadata format)."""
    b = broker_factory(start=False)
    cfg = tmp_path / "server.properties"
    cfg.write_text(
        "process.roles=broker,controller\nnode.id=1\n"
        "controller.quorum.voters=1@127.0.0.1:%d\ncontroller.listener.names=CONTROLLER\n"
        "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d\n"
        "log.dirs=%s\n" % (b.port + 1, b.port, b.port + 1, b.data_dir))
    cid = run("storage", "random-uuid", check=True).stdout.strip()
    run("storage", "format", "-t", cid, "-c", str(cfg), "--release-version", "4.2-IV1",
        check=True)
    b.start()

    def level():
        d = run("features", *bs(b), "describe", check=True).stdout
        m = re.search(r"Feature: metadata.version .*FinalizedVersionLevel: (\S+)", d)
        return m.group(1)
    assert level() == "4.2-IV1"
    r = same(b, "upgrade", "--release-version", "4.3-IV0", "--dry-run")
    r = run("features", *bs(b), "upgrade", "--metadata", "4.3-IV0", check=True)
    assert r.stdout.endswith("metadata.version was upgraded to 30.\n")
    assert level() == "4.3-IV0"
    b.restart()
    assert level() == "4.3-IV0"
    r = same(b, "downgrade", "--metadata", "4.2-IV1")
    assert "Unsupported metadata.version downgrade from 30 to 29." in r.stdout
