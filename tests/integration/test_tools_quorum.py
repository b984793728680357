"""kafka-metadata-quorum.sh add-controller / remove-controller: a single
combined node with a static quorum (kraft.version 0) refuses voter changes;
Sluice answers AddRaftVoter / RemoveRaftVoter as Kafka 4.3.1 does, so
Sluice's tool and Kafka's tool print the same lines on both targets."""

import pytest

from toolcli import clean_stderr, kafka, run

DIR_ID = "b2Vj4fQ9R0y8mM3x3wqP0A"


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def same(b, *args):
    ours = run("metadata-quorum", *bs(b), *args)
    theirs = kafka("metadata-quorum", *bs(b), *args)
    assert ours.returncode == theirs.returncode, (args, ours, theirs)
    assert ours.stdout == theirs.stdout, args
    # Kafka's tool adds a stack trace (and the JVM may log): our message
    # must be its message line
    theirs_lines = clean_stderr(theirs.stderr).splitlines()
    ours_lines = ours.stderr.splitlines()
    assert bool(ours_lines) == bool(theirs_lines), (args, ours.stderr, theirs.stderr)
    if ours_lines:
        assert ours_lines[0] in theirs_lines, (args, ours.stderr, theirs.stderr)
    return ours


def controller_config(tmp_path, listeners="CONTROLLER://127.0.0.1:19999", names="CONTROLLER",
                      meta=True, **extra):
    d = tmp_path / "ctl"
    d.mkdir(exist_ok=True)
    if meta:
        (d / "meta.properties").write_text(
            "version=1\nnode.id=2\ncluster.id=YNHBSzSFiDstoQRurt1rOQ\ndirectory.id=%s\n" % DIR_ID)
    props = {"node.id": "2", "process.roles": "controller", "log.dirs": str(d),
             "listeners": listeners, "controller.listener.names": names}
    props.update(extra)
    cfg = tmp_path / "controller.properties"
    cfg.write_text("".join("%s=%s\n" % kv for kv in props.items() if kv[1] is not None))
    return str(cfg)


def test_remove_controller(module_broker):
    b = module_broker
    r = same(b, "remove-controller", "--controller-id", "1", "--controller-directory-id", DIR_ID)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("org.apache.kafka.common.errors.UnsupportedVersionException: "
                               "Cluster doesn't support removing voter because the "
                               "kraft.version feature is 0\n")
    r = same(b, "remove-controller", "-i", "3", "-d", "AAAAAAAAAAAAAAAAAAAAAA")
    assert r.stderr.startswith("org.apache.kafka.common.errors.InvalidRequestException: Remove "
                               "voter request didn't include a valid voter\n")
    r = same(b, "remove-controller", "-i", "1", "-d", DIR_ID, "--dry-run")
    assert r.returncode == 0
    assert r.stdout == "DRY RUN of removing  KRaft controller 1 with directory id %s\n" % DIR_ID
    r = same(b, "remove-controller", "-i", "-1", "-d", DIR_ID)
    assert r.returncode == 1 and r.stderr == "Invalid negative --controller-id: -1\n"
    r = same(b, "remove-controller", "-i", "1", "-d", "xyz")
    assert r.stderr == ("Failed to parse --controller-directory-id: Input string `xyz` decoded "
                        "as 2 bytes, which is not equal to the expected 16 bytes of a "
                        "base64-encoded UUID\n")
    r = run("metadata-quorum", *bs(b), "remove-controller", "-d", DIR_ID)
    assert r.returncode == 1 and "--controller-id/-i is required" in r.stderr


def test_add_controller(module_broker, tmp_path):
    b = module_broker
    cfg = controller_config(tmp_path)
    r = same(b, "--command-config", cfg, "add-controller")
    assert r.returncode == 1
    assert r.stderr.startswith("org.apache.kafka.common.errors.UnsupportedVersionException: "
                               "Cluster doesn't support adding voter because the kraft.version "
                               "feature is 0\n")
    r = same(b, "--command-config", cfg, "add-controller", "--dry-run")
    assert r.returncode == 0
    assert r.stdout == ("DRY RUN of adding controller 2 with directory id %s and endpoints: "
                        "CONTROLLER://127.0.0.1:19999\n" % DIR_ID)
    # the quorum's listener is CONTROLLER: an endpoint for FOO only is refused
    cfg = controller_config(tmp_path, listeners="FOO://127.0.0.1:19999", names="FOO",
                            **{"listener.security.protocol.map": "FOO:PLAINTEXT"})
    r = same(b, "--command-config", cfg, "add-controller")
    assert r.stderr.startswith(
        "org.apache.kafka.common.errors.InvalidRequestException: Add voter request didn't "
        "include the endpoint (Endpoints(endpoints={ListenerName(FOO)=127.0.0.1/<unresolved>:"
        "19999})) for the default listener ListenerName(CONTROLLER)\n")


@pytest.mark.parametrize("case,msg", [
    ("no-config", "You must supply the configuration file of the controller you are adding when "
                  "using add-controller."),
    ("missing-file", "Properties file /nonexistent/x.properties does not exists!"),
    ("no-node-id", "node.id not found in configuration file. Is this a valid controller "
                   "configuration file?"),
    ("broker-role", "process.roles did not contain 'controller' in configuration file. Is this a "
                    "valid controller configuration file?"),
    ("no-dirs", "Neither metadata.log.dir nor log.dirs were found. Is this a valid controller "
                "configuration file?"),
    ("no-meta", "Unable to read meta.properties from {dir}"),
    ("no-names", "controller.listener.names was not found. Is this a valid controller "
                 "configuration file?"),
    ("bad-name", "Cannot find information about controller listener name: BAR"),
])
def test_add_controller_config_errors(module_broker, tmp_path, case, msg):
    b = module_broker
    args = ["add-controller"]
    if case == "missing-file":
        args = ["--command-config", "/nonexistent/x.properties"] + args
    elif case != "no-config":
        kw = {"no-node-id": {"node.id": None}, "broker-role": {"process.roles": "broker"},
              "no-dirs": {"log.dirs": None}, "no-meta": {"meta": False},
              "no-names": {"controller.listener.names": None},
              "bad-name": {"names": "BAR"}}[case]
        args = ["--command-config", controller_config(tmp_path, **kw)] + args
    r = same(b, *args)
    assert r.returncode == 1
    assert r.stderr == msg.format(dir=tmp_path / "ctl") + "\n"
