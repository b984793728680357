"""SCRAM credentials: kafka-configs.sh --entity-type users with
SCRAM-SHA-256/512 (Describe/AlterUserScramCredentials), by Sluice's tool and
Apache Kafka's ConfigCommand against the broker under test."""

import os

import pytest

from toolcli import clean_stderr, kafka, run


def bs(b):
    return ["--bootstrap-server", b.bootstrap]


def user_args(name, *rest):
    return ["--entity-type", "users", "--entity-name", name] + list(rest)


def describe(b, name=None, tool=run):
    args = ["--describe", "--entity-type", "users"] + (["--entity-name", name] if name else [])
    return tool("configs", *bs(b), *args)


def scram_line(out, user):
    lines = [l for l in out.splitlines()
             if l.startswith("SCRAM credential configs for user-principal '%s' are " % user)]
    assert len(lines) <= 1
    if not lines:
        return None
    return sorted(lines[0].split(" are ", 1)[1].split(", "))


def test_scram_add_describe_delete(broker):
    b = broker
    r = run("configs", *bs(b), "--alter", *user_args("alice"), "--add-config",
            "SCRAM-SHA-256=[iterations=8192,password=alice-secret]", check=True)
    assert r.stdout == "Completed updating config for user alice.\n"
    r = describe(b, "alice")
    assert r.stdout == ("SCRAM credential configs for user-principal 'alice' are "
                        "SCRAM-SHA-256=iterations=8192\n")
    assert describe(b, "alice", kafka).stdout == r.stdout
    # Kafka's tool adds the other mechanism (default iterations 4096)
    theirs = kafka("configs", *bs(b), "--alter", *user_args("alice"), "--add-config",
                   "SCRAM-SHA-512=[password=other]")
    assert theirs.returncode == 0, theirs.stderr
    assert theirs.stdout == "Completed updating config for user alice.\n"
    assert scram_line(describe(b, "alice").stdout, "alice") == [
        "SCRAM-SHA-256=iterations=8192", "SCRAM-SHA-512=iterations=4096"]
    run("configs", *bs(b), "--alter", *user_args("bob"), "--add-config",
        "SCRAM-SHA-512=[iterations=5000,password=b]", check=True)
    # all users
    out = describe(b).stdout
    assert scram_line(out, "bob") == ["SCRAM-SHA-512=iterations=5000"]
    assert scram_line(out, "alice") is not None
    assert sorted(describe(b, tool=kafka).stdout.splitlines()) == sorted(out.splitlines())
    # a user without credentials prints nothing
    assert describe(b, "nobody").stdout == ""
    assert describe(b, "nobody", kafka).stdout == ""

    r = run("configs", *bs(b), "--alter", *user_args("alice"), "--delete-config",
            "SCRAM-SHA-256", check=True)
    assert r.stdout == "Completed updating config for user alice.\n"
    assert scram_line(describe(b, "alice").stdout, "alice") == ["SCRAM-SHA-512=iterations=4096"]
    # deleting a credential that does not exist fails on both tools
    for tool in (run, kafka):
        r = tool("configs", *bs(b), "--alter", *user_args("alice"), "--delete-config",
                 "SCRAM-SHA-256")
        assert r.returncode == 1
        assert ("ResourceNotFoundException: Attempt to delete a user credential that does not "
                "exist") in r.stderr + r.stdout

    # kept across a restart (records in __cluster_metadata), no password on disk
    b.restart()
    assert scram_line(describe(b).stdout, "bob") == ["SCRAM-SHA-512=iterations=5000"]
    assert scram_line(describe(b).stdout, "alice") == ["SCRAM-SHA-512=iterations=4096"]
    seen = 0
    for root, _, files in os.walk(b.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                data = fh.read()
            seen += b"alice" in data
            assert b"alice-secret" not in data, f
    assert seen  # the credential records are there, the password is not


@pytest.mark.parametrize("extra,msg", [
    (["--add-config", "SCRAM-SHA-256=[iterations=100,password=x]"],
     "Iterations 100 is less than the minimum 4096 required for SCRAM-SHA-256"),
    (["--add-config", "SCRAM-SHA-256=[iterations=9000]"],
     "Invalid credential property SCRAM_SHA_256=iterations=9000"),
    (["--add-config", "SCRAM-SHA-256=[password=x],producer_byte_rate=10"],
     "Cannot alter both quota and SCRAM credential configs simultaneously for 'users' using "
     "--bootstrap-server."),
    (["--add-config", "SCRAM-SHA-1=[password=x]"],
     "Only quota and SCRAM credential configs can be added for 'users' using "
     "--bootstrap-server. Unexpected config names: Set(SCRAM-SHA-1)"),
])
def test_scram_bad_input(module_broker, extra, msg):
    b = module_broker
    for tool in (run, kafka):
        r = tool("configs", *bs(b), "--alter", *user_args("carol"), *extra)
        assert r.returncode == 1, (tool, r.stdout, r.stderr)
        err = r.stderr if tool is run else clean_stderr(r.stderr) + "\n"
        assert err == msg + "\n", (tool, r.stderr)
    r = run("configs", *bs(b), "--alter", "--entity-type", "users", "--entity-default",
            "--add-config", "SCRAM-SHA-256=[password=x]")
    theirs = kafka("configs", *bs(b), "--alter", "--entity-type", "users", "--entity-default",
                   "--add-config", "SCRAM-SHA-256=[password=x]")
    assert r.returncode == theirs.returncode == 1
    assert r.stderr.strip() == clean_stderr(theirs.stderr) == (
        "The use of --entity-default or --user-defaults is not allowed with User SCRAM "
        "Credentials using --bootstrap-server.")


def test_scram_record_keys(broker):
    """The UserScramCredentialRecord in __cluster_metadata holds Kafka's
    derived keys: StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey
    = HMAC(SaltedPassword, "Server Key"), SaltedPassword = PBKDF2(password,
    salt, iterations), as Kafka's own metadata decoder shows them."""
    import base64
    import hashlib
    import hmac
    import json
    b = broker
    run("configs", *bs(b), "--alter", *user_args("dave"), "--add-config",
        "SCRAM-SHA-256=[iterations=4096,password=pw-dave]", check=True)
    kafka("configs", *bs(b), "--alter", *user_args("erin"), "--add-config",
          "SCRAM-SHA-512=[iterations=4100,password=pw-erin]")
    meta = os.path.join(b.data_dir, "__cluster_metadata-0")
    logs = sorted(os.path.join(meta, f) for f in os.listdir(meta) if f.endswith(".log"))
    r = kafka("dump-log", "--cluster-metadata-decoder", "--files", ",".join(logs))
    recs = {}
    for line in r.stdout.splitlines():
        if "payload: " not in line:
            continue
        p = json.loads(line.split("payload: ", 1)[1])
        if p.get("type") == "USER_SCRAM_CREDENTIAL_RECORD":
            recs[p["data"]["name"]] = p["data"]
    assert set(recs) == {"dave", "erin"}, r.stdout[-2000:]
    for user, pw, h in (("dave", b"pw-dave", hashlib.sha256), ("erin", b"pw-erin",
                                                                hashlib.sha512)):
        d = recs[user]
        salt = base64.b64decode(d["salt"])
        salted = hashlib.pbkdf2_hmac(h().name, pw, salt, d["iterations"])
        client = hmac.new(salted, b"Client Key", h).digest()
        assert base64.b64decode(d["storedKey"]) == h(client).digest(), user
        assert base64.b64decode(d["serverKey"]) == hmac.new(salted, b"Server Key",
                                                            h).digest(), user
    assert recs["dave"]["mechanism"] == 1 and recs["dave"]["iterations"] == 4096
    assert recs["erin"]["mechanism"] == 2 and recs["erin"]["iterations"] == 4100


def _dump_scram(path):
    """UserScramCredentialRecords of a checkpoint/log file, through Kafka's
    own metadata decoder."""
    import json
    r = kafka("dump-log", "--cluster-metadata-decoder", "--files", path)
    recs = {}
    for line in r.stdout.splitlines():
        if "payload: " in line:
            p = json.loads(line.split("payload: ", 1)[1])
            if p.get("type") == "USER_SCRAM_CREDENTIAL_RECORD":
                recs[p["data"]["name"]] = p["data"]
    return recs, r


@pytest.mark.parametrize("formatter", ["sluice", "kafka"])
def test_format_add_scram(broker_factory, tmp_path, formatter):
    """kafka-storage format --add-scram writes the credentials into
    bootstrap.checkpoint (Kafka's checkpoint format: Kafka's decoder reads
    Sluice's file), and the broker loads them at its first start."""
    import base64
    import hashlib
    import hmac
    b = broker_factory(start=False)
    cfg = tmp_path / "server.properties"
    cfg.write_text(
        "process.roles=broker,controller\nnode.id=1\n"
        "controller.quorum.voters=1@127.0.0.1:%d\ncontroller.listener.names=CONTROLLER\n"
        "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d\n"
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
        "log.dirs=%s\n" % (b.port + 1, b.port, b.port + 1, b.data_dir))
    tool = run if formatter == "sluice" else kafka
    cid = run("storage", "random-uuid", check=True).stdout.strip()
    args = ["format", "-t", cid, "-c", str(cfg),
            "--add-scram", "SCRAM-SHA-256=[name=alice,iterations=8192,password=alice-secret]",
            "--add-scram", "SCRAM-SHA-512=[name=bob,password=bob-secret]"]
    r = tool("storage", *args)
    assert r.returncode == 0, r.stderr
    assert "Formatting metadata directory %s with metadata.version 4.3-IV0." % b.data_dir \
        in r.stdout
    ckpt = os.path.join(b.data_dir, "bootstrap.checkpoint")
    recs, dump = _dump_scram(ckpt)
    assert set(recs) == {"alice", "bob"}, dump.stdout
    for user, pw, h, it in (("alice", b"alice-secret", hashlib.sha256, 8192),
                            ("bob", b"bob-secret", hashlib.sha512, 4096)):
        d = recs[user]
        assert d["iterations"] == it
        salted = hashlib.pbkdf2_hmac(h().name, pw, base64.b64decode(d["salt"]), it)
        assert base64.b64decode(d["storedKey"]) == h(
            hmac.new(salted, b"Client Key", h).digest()).digest()
        assert base64.b64decode(d["serverKey"]) == hmac.new(salted, b"Server Key",
                                                            h).digest()
    with open(ckpt, "rb") as f:
        assert b"alice-secret" not in f.read()
    b.start()
    out = describe(b).stdout
    assert scram_line(out, "alice") == ["SCRAM-SHA-256=iterations=8192"]
    assert scram_line(out, "bob") == ["SCRAM-SHA-512=iterations=4096"]


@pytest.mark.parametrize("arg,msg", [
    ("SCRAM-SHA-1=[name=a,password=b]", "The add-scram mechanism SCRAM-SHA-1 is not supported."),
    ("SCRAM-SHA-256=name=a,password=b", "Expected configuration string to start with ["),
    ("SCRAM-SHA-256=[password=b]", "You must supply 'name' to add-scram"),
    ("SCRAM-SHA-256=[name=a]", "You must supply one of 'password' or 'saltedpassword' to "
                               "add-scram"),
    ("SCRAM-SHA-256=[name=a,password=b,iterations=10]",
     "The 'iterations' value must be >= 4096 for add-scram using SCRAM_SHA_256"),
    ("SCRAM-SHA-256=[name=a,password=b,color=red]", "Unknown SCRAM configurations: color"),
])
def test_format_add_scram_errors(tmp_path, arg, msg):
    cfg = tmp_path / "server.properties"
    cfg.write_text("process.roles=broker,controller\nnode.id=1\n"
                   "controller.quorum.voters=1@127.0.0.1:19093\n"
                   "controller.listener.names=CONTROLLER\n"
                   "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n"
                   "log.dirs=%s\n" % (tmp_path / "d"))
    cid = "rQB2v0hKQ0aTnbGmYeVQ3g"
    for tool in (run, kafka):
        r = tool("storage", "format", "-t", cid, "-c", str(cfg), "--add-scram", arg)
        assert r.returncode == 1, (tool, r.stdout)
        err = r.stderr if tool is run else clean_stderr(r.stderr) + "\n"
        assert err == msg + "\n", (tool, r.stderr)
        assert not os.path.exists(tmp_path / "d" / "meta.properties")
