"""KIP-848 consumer groups (group.protocol=consumer), on Sluice and on
Apache Kafka 4.3.1 (SLUICE_TARGET=kafka).

Raw protocol checks (test_groups_consumer_lib.Conn) pin the coordinator's
answers: epochs, revoke-before-assign, static members, range vs uniform,
offset commits with member epochs, type conflicts, errors. Client
scenarios run confluent-kafka members (this file run as a script: `python
test_groups_consumer.py member BOOTSTRAP GROUP TOPIC OUT [k=v...]`) that can
be killed with SIGKILL, the Java console consumer, and the broker restart.

Broker config: short consumer-group session (6 s) and heartbeat (500 ms)
so kill -9 is noticed quickly; Kafka needs the min bounds lowered too.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import test_groups_consumer_lib as cg  # noqa: E402

PY = sys.executable

CONFIG = {
    "offsets.topic.num.partitions": "5",
    "group.consumer.session.timeout.ms": "6000",
    "group.consumer.min.session.timeout.ms": "1000",
    "group.consumer.heartbeat.interval.ms": "500",
    "group.consumer.min.heartbeat.interval.ms": "500",
    "group.min.session.timeout.ms": "1000",
    # Sluice does not convert classic groups online (Kafka's default
    # "bidirectional" upgrades a live classic group on the first
    # ConsumerGroupHeartbeat): compare with Kafka's "disabled".
    "group.consumer.migration.policy": "disabled",
}


def uid(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


# ---------------------------------------------------------------------------
# the member subprocess

def member_main(argv):
    import confluent_kafka as ck
    bootstrap, group, topic, outfile = argv[:4]
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": "consumer",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "topic.metadata.refresh.interval.ms": 2000,
    }
    delay = 0.0
    for kv in argv[4:]:
        k, v = kv.split("=", 1)
        if k == "x.delay.ms":
            delay = int(v) / 1000.0
        else:
            conf[k] = v
    out = open(outfile, "a", buffering=1)
    stop = []

    def emit(**kw):
        out.write(json.dumps(kw) + "\n")
        out.flush()

    c = ck.Consumer(conf)

    def on_assign(consumer, parts):
        emit(ev="assign", parts=sorted(p.partition for p in parts))

    def on_revoke(consumer, parts):
        emit(ev="revoke", parts=sorted(p.partition for p in parts))

    signal.signal(signal.SIGTERM, lambda s, f: stop.append(1))
    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    emit(ev="start", pid=os.getpid())
    while not stop:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            emit(ev="error", code=m.error().code(), str=m.error().str())
            continue
        emit(ev="rec", p=m.partition(), o=m.offset(), v=(m.value() or b"").decode())
        if delay:
            time.sleep(delay)
        try:
            c.commit(message=m, asynchronous=False)
        except ck.KafkaException as e:
            err = e.args[0]
            emit(ev="commit_error", code=err.code(), str=err.str(),
                 v=(m.value() or b"").decode())
    c.close()
    emit(ev="closed")


if __name__ == "__main__":
    if sys.argv[1] == "member":
        member_main(sys.argv[2:])
    sys.exit(0)


import pytest  # noqa: E402

import harness  # noqa: E402
import toolcli  # noqa: E402

pytestmark = pytest.mark.broker_config(CONFIG)


class Member:
    def __init__(self, workdir, bootstrap, group, topic, **conf):
        self.out = os.path.join(workdir, "%s.jsonl" % uid("m"))
        open(self.out, "w").close()
        args = [PY, os.path.abspath(__file__), "member", bootstrap, group, topic, self.out]
        args += ["%s=%s" % (k.replace("_", "."), v) for k, v in conf.items()]
        # stderr (librdkafka's log) to a file beside the events, to read
        # when a member misbehaves; a pipe that nobody reads could also fill
        # up and block the member.
        with open(self.out + ".err", "wb") as err:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        self.killed = False

    def events(self):
        with open(self.out) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def records(self):
        return [(e["p"], e["o"], e["v"]) for e in self.events() if e["ev"] == "rec"]

    def assigned(self):
        cur = set()
        for e in self.events():
            if e["ev"] == "assign":
                cur |= set(e["parts"])
            elif e["ev"] == "revoke":
                cur -= set(e["parts"])
        return cur

    def terminate(self, timeout=30):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)

    def kill9(self):
        self.killed = True
        self.proc.kill()
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def members(tmp_path):
    made = []

    def make(*a, **kw):
        m = Member(str(tmp_path), *a, **kw)
        made.append(m)
        return m

    yield make
    for m in made:
        m.stop()


def produce_n(bootstrap, topic, n, prefix="r"):
    return harness.produce(bootstrap, topic, ["%s%d" % (prefix, i) for i in range(n)])


def seen_values(ms):
    vals = []
    for m in ms:
        vals += [v for (_, _, v) in m.records()]
    return vals


def wait_all_seen(ms, expected, timeout=120):
    try:
        harness.wait_for(lambda: set(seen_values(ms)) >= expected, timeout,
                         what="all %d records processed" % len(expected))
    except AssertionError as e:
        # What each member last did (its events other than records), to
        # tell a stuck client from a group that stopped assigning.
        tails = []
        for m in ms:
            evs = m.events()
            recs = [x for x in evs if x["ev"] == "rec"]
            tails.append({"pid": m.proc.pid, "alive": m.proc.poll() is None,
                          "records": len(recs), "last_record": recs[-1] if recs else None,
                          "events": [x for x in evs if x["ev"] != "rec"][-8:]})
        raise AssertionError("%s (have %d): %s" % (e, len(set(seen_values(ms))), tails))


def check_once(ms, expected):
    """Every record processed; twice only if the first member could not
    commit it (killed, or its commit was refused after losing the
    partition)."""
    seen = {}
    for m in ms:
        for (p, o, v) in m.records():
            seen.setdefault(v, []).append(m)
    assert set(seen) >= expected
    failed = set()
    for m in ms:
        failed |= {(id(m), e.get("v")) for e in m.events() if e["ev"] == "commit_error"}
    for v, ws in seen.items():
        if len(ws) > 1:
            assert any(w.killed or (id(w), v) in failed for w in ws[:-1]), (
                "record %s processed twice by live members" % v)


def wait_assignment(ms, n_parts, timeout=60, sizes=None):
    def ok():
        sets = [m.assigned() for m in ms]
        allp = [p for s in sets for p in s]
        if sizes is not None and sorted(map(len, sets)) != sizes:
            return False
        return sorted(allp) == list(range(n_parts))
    harness.wait_for(ok, timeout, what="assignment of %d partitions over %d members" % (
        n_parts, len(ms)))
    return [m.assigned() for m in ms]


def conn(broker):
    """A raw connection to the group's coordinator (one node)."""
    return cg.Conn(broker.bootstrap)


def ensure_coordinator(bs, group):
    """FindCoordinator (v1) until the coordinator answers: Kafka creates
    __consumer_offsets on the first one."""
    import struct

    def ok():
        r = harness.kafka_request(bs, 10, 1, harness.kstr(group) + b"\x00")
        return struct.unpack(">h", r[4:6])[0] == 0
    harness.wait_for(ok, 60, interval=0.3, what="group coordinator")


def join(c, group, topic_names, member_id=None, **kw):
    mid = member_id or cg.new_member_id()
    kw.setdefault("rebalance_ms", 30000)
    r = c.heartbeat(group, mid, 0, topics=topic_names, owned={}, **kw)
    for _ in range(50):
        if r["error"] not in (14, 15, 16):  # coordinator loading / not available
            break
        time.sleep(0.2)
        r = c.heartbeat(group, mid, 0, topics=topic_names, owned={}, **kw)
    return mid, r


def parts_of(assignment):
    return sorted(p for ps in (assignment or {}).values() for p in ps)


# ---------------------------------------------------------------------------
# raw protocol

def until(fn, what, timeout=60):
    """Calls fn() every 200 ms until it returns something true; returns it.
    (Kafka 4.3 computes target assignments off the heartbeat path, so a
    new target shows up a little later there.)"""
    end = time.time() + timeout
    while True:
        r = fn()
        if r:
            return r
        if time.time() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.2)


def test_cg_revoke_before_assign(module_broker):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("rba"), partitions=6)
    ensure_coordinator(bs, "cg-probe")
    group = uid("g")
    c = conn(module_broker)
    a, ra = join(c, group, [topic])
    assert ra["error"] == 0, ra
    assert ra["member_id"] == a and ra["epoch"] >= 1
    assert ra["interval"] == 500
    ea = ra["epoch"]
    if parts_of(ra["assignment"]) != list(range(6)):
        ra = until(lambda: (lambda r: r if parts_of(r["assignment"]) == list(range(6))
                            else None)(c.heartbeat(group, a, ea, owned={})), "A assigned")
        ea = ra["epoch"]
    tid = list(ra["assignment"])[0]
    d = c.describe([group])[0]
    assert d["state"] == "Stable" and d["epoch"] == ea and d["assignment_epoch"] == ea

    b, rb = join(c, group, [topic])
    assert rb["error"] == 0
    eb = rb["epoch"]
    # nothing for B yet: A still owns every partition
    assert parts_of(rb["assignment"]) == []

    # A is asked to revoke: it keeps 3 and stays at its epoch meanwhile
    def revoke_asked():
        r = c.heartbeat(group, a, ea, owned={tid: list(range(6))})
        assert r["error"] == 0 and r["epoch"] == ea, r
        return r if r["assignment"] is not None and len(parts_of(r["assignment"])) < 6 \
            else None
    ra = until(revoke_asked, "A asked to revoke")
    kept = parts_of(ra["assignment"])
    assert len(kept) == 3
    # B still gets nothing until A acknowledges
    for _ in range(3):
        rb = c.heartbeat(group, b, eb)
        assert rb["error"] == 0, rb
        eb = rb["epoch"]
        assert parts_of(rb["assignment"]) == []
        time.sleep(0.2)
    assert c.describe([group])[0]["state"] == "Reconciling"
    # A acknowledges (owns only what it kept): moves to the new epoch
    ra = c.heartbeat(group, a, ea, owned={tid: kept})
    assert ra["error"] == 0 and ra["epoch"] > ea, ra
    ea = ra["epoch"]
    # now B gets the released partitions
    rb = until(lambda: (lambda r: r if parts_of(r["assignment"]) else None)(
        c.heartbeat(group, b, eb, owned={})), "B assigned")
    assert rb["error"] == 0 and rb["epoch"] == ea
    got = parts_of(rb["assignment"])
    assert sorted(got + kept) == list(range(6)) and not set(got) & set(kept)

    d = c.describe([group])[0]
    assert d["error"] == 0 and d["state"] == "Stable"
    assert d["epoch"] == ea and d["assignment_epoch"] == ea
    assert d["assignor"] == "uniform"
    ms = {m["member_id"]: m for m in d["members"]}
    assert parts_of(ms[a]["assignment"]) == kept and ms[b]["assignment"] == {topic: got}
    assert ms[a]["target"] == {topic: kept}
    assert ms[a]["topics"] == [topic] and ms[a]["client_id"] == "cgraw"
    assert ms[a]["epoch"] == ea and ms[a]["regex"] == ""

    # B leaves (-1): A gets everything at a later epoch
    rl = c.heartbeat(group, b, -1)
    assert rl["error"] == 0 and rl["epoch"] == -1
    ra = until(lambda: (lambda r: r if parts_of(r["assignment"]) == list(range(6)) else None)(
        c.heartbeat(group, a, ea, owned={tid: kept})), "A gets everything")
    assert ra["epoch"] > ea
    c.close()


def test_cg_heartbeat_errors(module_broker):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("err"), partitions=2)
    ensure_coordinator(bs, "cg-probe")
    group = uid("g")
    c = conn(module_broker)
    a, ra = join(c, group, [topic])
    assert ra["error"] == 0
    e1 = ra["epoch"]
    # an epoch ahead of the coordinator's: fenced
    assert c.heartbeat(group, a, e1 + 5)["error"] == cg.FENCED_MEMBER_EPOCH
    # an unknown member
    assert c.heartbeat(group, cg.new_member_id(), e1)["error"] == cg.UNKNOWN_MEMBER_ID
    # an unknown group (epoch > 0)
    assert c.heartbeat(uid("nope"), a, e1)["error"] == cg.GROUP_ID_NOT_FOUND
    # first request without a rebalance timeout / without topics
    r = c.heartbeat(group, cg.new_member_id(), 0, topics=[topic], owned={})
    assert r["error"] == cg.INVALID_REQUEST
    r = c.heartbeat(group, cg.new_member_id(), 0, rebalance_ms=1000, owned={})
    assert r["error"] == cg.INVALID_REQUEST
    # v1: the client generates the member id
    r = c.heartbeat(group, "", 0, rebalance_ms=1000, topics=[topic], owned={})
    assert r["error"] == cg.INVALID_REQUEST
    # an assignor the broker does not have
    r = c.heartbeat(group, cg.new_member_id(), 0, rebalance_ms=1000, topics=[topic],
                    owned={}, assignor="sticky")
    assert r["error"] == cg.UNSUPPORTED_ASSIGNOR
    # a bad epoch value
    assert c.heartbeat(group, a, -3)["error"] == cg.INVALID_REQUEST
    # the member is still fine
    assert c.heartbeat(group, a, e1)["error"] == 0
    c.close()


def test_cg_ids_with_nul_bytes_keep_all_their_bytes(module_broker):
    """Group id, member ids, instance ids, rack ids and the client id are
    Kafka STRINGs: ids that differ only after a NUL are different ids (as on
    Kafka; Sluice cut them, so "i\0b" was refused as owned by "i\0a",
    UNRELEASED_INSTANCE_ID) and ConsumerGroupDescribe gives them whole."""
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("nul"), partitions=2)
    ensure_coordinator(bs, "cg-probe")
    group = uid("g") + "\x00x"
    c = cg.Conn(bs, client_id="cl\x00ient")
    try:
        a, ra = join(c, group, [topic], member_id="m\x00a", instance_id="i\x00a",
                     rack_id="r\x00a")
        b, rb = join(c, group, [topic], member_id="m\x00b", instance_id="i\x00b",
                     rack_id="r\x00b")
        assert (ra["error"], ra["member_id"]) == (0, "m\x00a"), ra
        assert (rb["error"], rb["member_id"]) == (0, "m\x00b"), rb
        assert c.heartbeat(group, a, ra["epoch"], instance_id="i\x00a")["error"] == 0
        # "uniform\0x" is no assignor the broker has
        r = c.heartbeat(group, "m\x00c", 0, rebalance_ms=1000, topics=[topic], owned={},
                        assignor="uniform\x00x")
        assert r["error"] == cg.UNSUPPORTED_ASSIGNOR, r
        d = c.describe([group])[0]
    finally:
        c.close()
    assert (d["error"], d["group_id"]) == (0, group)
    got = sorted((m["member_id"], m["instance_id"], m["rack_id"], m["client_id"])
                 for m in d["members"])
    assert got == [("m\x00a", "i\x00a", "r\x00a", "cl\x00ient"),
                   ("m\x00b", "i\x00b", "r\x00b", "cl\x00ient")]


def settle(c, group, specs, timeout=60):
    """Joins members (specs: [(member_id, join kwargs)]) and heartbeats
    them, each reporting what it was given as owned, until the group is
    Stable. Returns ({member_id: (epoch, {topic_id: parts})}, describe)."""
    state = {}
    for mid, kw in specs:
        _, r = join(c, group, kw.pop("topics"), member_id=mid, **kw)
        assert r["error"] == 0, r
        state[mid] = (r["epoch"], r["assignment"] or {}, kw.get("instance_id"))
    end = time.time() + timeout
    while True:
        for mid in list(state):
            ep, asg, iid = state[mid]
            r = c.heartbeat(group, mid, ep, owned=asg, instance_id=iid)
            assert r["error"] == 0, r
            state[mid] = (r["epoch"], r["assignment"] if r["assignment"] is not None
                          else asg, iid)
        d = c.describe([group])[0]
        if d["state"] == "Stable" and all(
                state[m["member_id"]][0] == d["assignment_epoch"] for m in d["members"]):
            return {m: (e, a) for m, (e, a, _) in state.items()}, d
        if time.time() > end:
            raise AssertionError("group did not settle: %s" % d)
        time.sleep(0.2)


def test_cg_static_member_rejoin_keeps_partitions(module_broker):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("st"), partitions=4)
    ensure_coordinator(bs, "cg-probe")
    group = uid("g")
    c = conn(module_broker)
    a, b = cg.new_member_id(), cg.new_member_id()
    st, d = settle(c, group, [(a, {"topics": [topic], "instance_id": "inst-a"}),
                              (b, {"topics": [topic], "instance_id": "inst-b"})])
    kept = parts_of(st[a][1])
    assert sorted(kept + parts_of(st[b][1])) == list(range(4)) and len(kept) == 2
    epoch_before = d["epoch"]
    ea = st[a][0]

    # another process with inst-a while a is alive: refused
    _, r = join(c, group, [topic], instance_id="inst-a")
    assert r["error"] == cg.UNRELEASED_INSTANCE_ID
    # a heartbeat for inst-a from another member id: fenced
    assert c.heartbeat(group, cg.new_member_id(), ea, instance_id="inst-a")["error"] == \
        cg.FENCED_INSTANCE_ID
    # a leaves temporarily (-2) and a new process rejoins with inst-a
    r = c.heartbeat(group, a, -2, instance_id="inst-a")
    assert r["error"] == 0 and r["epoch"] == -2
    a2, r = join(c, group, [topic], instance_id="inst-a")
    assert r["error"] == 0, r
    assert parts_of(r["assignment"]) == kept
    d = c.describe([group])[0]
    assert d["epoch"] == epoch_before  # no rebalance
    ms = {m["member_id"]: m for m in d["members"]}
    assert set(ms) == {a2, b}
    assert ms[a2]["instance_id"] == "inst-a"
    c.close()


def test_cg_range_and_uniform_assignors(module_broker):
    bs = module_broker.bootstrap
    ta = harness.create_topic(bs, uid("ra"), partitions=3)
    tb = harness.create_topic(bs, uid("rb"), partitions=3)
    ensure_coordinator(bs, "cg-probe")
    c = conn(module_broker)

    def run(group, ids, assignor):
        st, d = settle(c, group, [(m, {"topics": [ta, tb], "assignor": assignor})
                                  for m in ids])
        return {m["member_id"]: m["assignment"] for m in d["members"]}, d

    g1 = uid("range")
    m1, m2 = "aaaa-" + uid("m"), "bbbb-" + uid("m")
    asg, d = run(g1, [m1, m2], "range")
    assert d["assignor"] == "range"
    # range: per topic, contiguous ranges in member id order, co-partitioned
    assert asg[m1] == {ta: [0, 1], tb: [0, 1]}
    assert asg[m2] == {ta: [2], tb: [2]}

    g2 = uid("uniform")
    asg, d = run(g2, [m1, m2], "uniform")
    assert d["assignor"] == "uniform"
    counts = sorted(sum(len(ps) for ps in a.values()) for a in asg.values())
    assert counts == [3, 3]
    allp = sorted((t, p) for a in asg.values() for t, ps in a.items() for p in ps)
    assert allp == sorted([(ta, p) for p in range(3)] + [(tb, p) for p in range(3)])
    c.close()


def test_cg_offset_commit_member_epoch(module_broker):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("oc"), partitions=2)
    ensure_coordinator(bs, "cg-probe")
    group = uid("g")
    c = conn(module_broker)
    a, ra = join(c, group, [topic])
    e1 = ra["epoch"]
    assert ra["error"] == 0 and e1 >= 1
    assert c.commit(group, a, e1, {(topic, 0): 5}) == {(topic, 0): 0}
    assert c.commit(group, a, e1 - 1, {(topic, 0): 6}) == {(topic, 0): cg.STALE_MEMBER_EPOCH}
    assert c.commit(group, a, e1 + 1, {(topic, 0): 6}) == {(topic, 0): cg.STALE_MEMBER_EPOCH}
    assert c.commit(group, cg.new_member_id(), e1, {(topic, 0): 6}) == \
        {(topic, 0): cg.UNKNOWN_MEMBER_ID}
    # a simple (admin) commit while the group has members
    assert c.commit(group, "", -1, {(topic, 0): 6}) == {(topic, 0): cg.UNKNOWN_MEMBER_ID}
    e, offs = c.fetch(group, a, e1, topic, [0, 1])
    assert e == 0 and offs == {0: 5, 1: -1}
    e, _ = c.fetch(group, a, e1 + 2, topic, [0])
    assert e == cg.STALE_MEMBER_EPOCH
    e, _ = c.fetch(group, cg.new_member_id(), e1, topic, [0])
    assert e == cg.UNKNOWN_MEMBER_ID
    e, offs = c.fetch(group, None, -1, topic, [0])
    assert e == 0 and offs == {0: 5}
    # once empty, the admin may commit and delete the group
    assert c.heartbeat(group, a, -1)["error"] == 0
    assert c.commit(group, "", -1, {(topic, 1): 9}) == {(topic, 1): 0}
    a_ = harness.admin(bs)
    a_.delete_consumer_groups([group])[group].result()
    assert c.describe([group])[0]["error"] == cg.GROUP_ID_NOT_FOUND
    c.close()


def test_cg_group_type_conflicts(module_broker):
    import confluent_kafka as ck
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("tc"), partitions=2)
    harness.produce(bs, topic, ["x"])
    ensure_coordinator(bs, "cg-probe")
    # a classic group with a member
    classic = uid("classic")
    k = ck.Consumer({"bootstrap.servers": bs, "group.id": classic,
                     "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    k.subscribe([topic])
    harness.wait_for(lambda: k.poll(0.2) is not None or bool(k.assignment()), 30,
                     what="classic member assigned")
    c = conn(module_broker)
    _, r = join(c, classic, [topic])
    assert r["error"] == cg.GROUP_ID_NOT_FOUND
    d = c.describe([classic])[0]
    assert d["error"] == cg.GROUP_ID_NOT_FOUND
    k.close()
    # a consumer group: DescribeGroups sees no classic group there
    group = uid("g")
    a, r = join(c, group, [topic])
    assert r["error"] == 0
    ad = harness.admin(bs)
    listed = {g.group_id: g for g in ad.list_consumer_groups().result().valid}
    assert str(listed[group].type).endswith("CONSUMER")
    # a classic member cannot join the consumer group
    import grpraw
    gc = grpraw.Conn(bs)
    r = gc.join(group, topics=[topic])
    assert r["error"] == cg.INCONSISTENT_GROUP_PROTOCOL, r
    gc.close()
    c.close()


# ---------------------------------------------------------------------------
# clients

def test_cg_members_join_leave_and_die(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("jl"), partitions=12)
    group = uid("g")
    n = 1200
    expected = {"r%d" % i for i in range(n)}
    produce_n(bs, topic, n)
    ms = [members(bs, group, topic, x_delay_ms=8) for _ in range(3)]
    wait_assignment(ms, 12, sizes=[4, 4, 4])
    harness.wait_for(lambda: len(seen_values(ms)) > 150, 60, what="progress")
    ms.append(members(bs, group, topic, x_delay_ms=8))
    wait_assignment(ms, 12, sizes=[3, 3, 3, 3])
    ms[0].terminate()
    ms[1].kill9()
    live = [m for m in ms if m.proc.poll() is None]
    # the killed member's partitions come back after the session timeout
    wait_assignment(live, 12, sizes=[6, 6], timeout=60)
    wait_all_seen(ms, expected)
    check_once(ms, expected)


def test_cg_more_members_than_partitions(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("idle"), partitions=3)
    group = uid("g")
    ms = [members(bs, group, topic) for _ in range(5)]
    wait_assignment(ms, 3, sizes=[0, 0, 1, 1, 1])
    expected = {"r%d" % i for i in range(300)}
    produce_n(bs, topic, 300)
    wait_all_seen(ms, expected)
    check_once(ms, expected)
    idle = [m for m in ms if not m.assigned()]
    assert len(idle) == 2 and all(not m.records() for m in idle)


def test_cg_two_groups_each_read_everything(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("two"), partitions=4)
    expected = {"r%d" % i for i in range(400)}
    produce_n(bs, topic, 400)
    g1 = [members(bs, uid("ga"), topic) for _ in range(1)]
    gb = uid("gb")
    g2 = [members(bs, gb, topic) for _ in range(2)]
    wait_all_seen(g1, expected)
    wait_all_seen(g2, expected)
    check_once(g1, expected)
    check_once(g2, expected)


def test_cg_incremental_unaffected_partitions_stay(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("inc"), partitions=6)
    group = uid("g")
    a = members(bs, group, topic)
    b = members(bs, group, topic)
    before = wait_assignment([a, b], 6, sizes=[3, 3])
    c = members(bs, group, topic)
    after = wait_assignment([a, b, c], 6, sizes=[2, 2, 2])
    # the old members only gave partitions away: nothing moved between them
    assert after[0] <= before[0] and after[1] <= before[1]
    # and they never lost a partition they kept (no revoke of a kept one)
    for m, kept in ((a, after[0]), (b, after[1])):
        revoked = set()
        for e in m.events():
            if e["ev"] == "revoke":
                revoked |= set(e["parts"])
        assert not revoked & kept, (m.events(), kept)


def test_cg_static_member_restart_keeps_partitions(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("stc"), partitions=4)
    group = uid("g")
    a = members(bs, group, topic, group_instance_id="ia")
    b = members(bs, group, topic, group_instance_id="ib")
    before = wait_assignment([a, b], 4, sizes=[2, 2])
    c = conn(module_broker)
    epoch = c.describe([group])[0]["epoch"]
    a.terminate()
    a2 = members(bs, group, topic, group_instance_id="ia")
    after = wait_assignment([a2, b], 4, sizes=[2, 2])
    assert after[0] == before[0] and after[1] == before[1]
    d = c.describe([group])[0]
    assert d["epoch"] == epoch, d
    assert sorted(m["instance_id"] for m in d["members"]) == ["ia", "ib"]
    c.close()


def test_cg_broker_restart_keeps_group(broker, members):
    bs = broker.bootstrap
    topic = harness.create_topic(bs, uid("rs"), partitions=4)
    group = uid("g")
    n = 400
    expected = {"r%d" % i for i in range(n)}
    produce_n(bs, topic, n)
    ms = [members(bs, group, topic, x_delay_ms=20) for _ in range(2)]
    wait_assignment(ms, 4, sizes=[2, 2])
    harness.wait_for(lambda: len(seen_values(ms)) > 60, 60, what="progress")
    c = conn(broker)
    d1 = c.describe([group])[0]
    c.close()
    broker.stop()
    broker.start()
    c = conn(broker)
    harness.wait_for(lambda: c.describe([group])[0]["error"] == 0, 60, what="group loaded")
    d2 = c.describe([group])[0]
    # the group came back from __consumer_offsets: same members, epochs,
    # assignment
    assert {m["member_id"] for m in d2["members"]} == {m["member_id"] for m in d1["members"]}
    assert d2["assignment_epoch"] >= d1["assignment_epoch"]
    wait_all_seen(ms, expected)
    # committed progress survives: at most the records in flight around the
    # restart (a commit the stopping broker did not answer) come again
    seen = seen_values(ms)
    assert len(seen) - len(set(seen)) <= 20, len(seen) - len(set(seen))
    d3 = c.describe([group])[0]
    assert {m["member_id"] for m in d3["members"]} == {m["member_id"] for m in d1["members"]}
    c.close()


def test_cg_java_console_consumer(module_broker, tmp_path):
    """Kafka's Java console consumer with group.protocol=consumer: it joins
    through ConsumerGroupHeartbeat (the group shows it with every
    partition) and reads everything."""
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("java"), partitions=3)
    expected = ["j%d" % i for i in range(30)]
    harness.produce(bs, topic, expected)
    group = uid("g")
    out = open(str(tmp_path / "console.out"), "w+")
    p = subprocess.Popen([harness.KAFKA_SH, "tool", "kafka-console-consumer",
                          "--bootstrap-server", bs, "--topic", topic, "--group", group,
                          "--consumer-property", "group.protocol=consumer",
                          "--from-beginning", "--timeout-ms", "120000"],
                         stdout=out, stderr=subprocess.DEVNULL, start_new_session=True)
    c = conn(module_broker)
    try:
        def described():
            d = c.describe([group])[0]
            if d["error"] == 0 and d["state"] == "Stable" and len(d["members"]) == 1 \
                    and d["members"][0]["assignment"] == {topic: [0, 1, 2]}:
                return d
            return None
        d = until(described, "the Java member in the consumer group", timeout=90)
        assert d["members"][0]["epoch"] == d["assignment_epoch"]

        def got():
            out.seek(0)
            return sorted(w for w in out.read().split() if w.startswith("j") and
                          w[1:].isdigit())
        harness.wait_for(lambda: got() == sorted(expected), 60, what="30 records")
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(60)
        out.close()
    c.close()


def test_cg_partitions_added_are_assigned(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("grow"), partitions=2)
    group = uid("g")
    ms = [members(bs, group, topic) for _ in range(2)]
    wait_assignment(ms, 2, sizes=[1, 1])
    import confluent_kafka.admin as cka
    ad = harness.admin(bs)
    ad.create_partitions([cka.NewPartitions(topic, 6)])[topic].result()
    wait_assignment(ms, 6, sizes=[3, 3], timeout=90)
    expected = {"r%d" % i for i in range(120)}
    produce_n(bs, topic, 120)
    wait_all_seen(ms, expected)
    check_once(ms, expected)


def test_cg_regex_subscription(module_broker):
    """SubscribedTopicRegex: whole-name matches, and a topic created later
    that matches joins the assignment."""
    bs = module_broker.bootstrap
    base = uid("rx")
    t1 = harness.create_topic(bs, base + "-a", partitions=2)
    t2 = harness.create_topic(bs, base + "-b", partitions=1)
    harness.create_topic(bs, "x" + base + "-a", partitions=1)  # no whole match
    ensure_coordinator(bs, "cg-probe")
    group = uid("g")
    c = conn(module_broker)
    mid = cg.new_member_id()
    r = c.heartbeat(group, mid, 0, rebalance_ms=30000, regex=base + "-.*", owned={})
    for _ in range(50):
        if r["error"] not in (14, 15, 16):
            break
        time.sleep(0.2)
        r = c.heartbeat(group, mid, 0, rebalance_ms=30000, regex=base + "-.*", owned={})
    assert r["error"] == 0, r
    state = {"epoch": r["epoch"], "asg": r["assignment"] or {}}

    def assigned():
        rr = c.heartbeat(group, mid, state["epoch"], owned=state["asg"])
        assert rr["error"] == 0, rr
        state["epoch"] = rr["epoch"]
        if rr["assignment"] is not None:
            state["asg"] = rr["assignment"]
        d = c.describe([group])[0]
        return d["members"][0]["assignment"]
    until(lambda: assigned() == {t1: [0, 1], t2: [0]}, "regex topics assigned")
    t3 = harness.create_topic(bs, base + "-c", partitions=2)
    until(lambda: assigned() == {t1: [0, 1], t2: [0], t3: [0, 1]},
          "new matching topic assigned")
    d = c.describe([group])[0]
    assert d["members"][0]["regex"] == base + "-.*"
    # an invalid regex
    r = c.heartbeat(group, cg.new_member_id(), 0, rebalance_ms=30000, regex="(", owned={})
    assert r["error"] == 128  # INVALID_REGULAR_EXPRESSION
    c.close()


def test_cg_records_decoded_by_kafka_dump_log(module_broker):
    """The ConsumerGroup* records in __consumer_offsets are Kafka's: Kafka's
    own kafka-dump-log --offsets-decoder reads them."""
    import glob
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("dump"), partitions=2)
    ensure_coordinator(bs, "cg-probe")
    group = uid("g")
    c = conn(module_broker)
    settle(c, group, [(cg.new_member_id(), {"topics": [topic], "instance_id": "dump-i",
                                            "assignor": "range"})])
    c.close()
    segs = glob.glob(os.path.join(module_broker.data_dir, "__consumer_offsets-*", "*.log"))
    found = {}
    for seg in segs:
        out = harness.kafka_tool("kafka-dump-log", ["--files", seg, "--offsets-decoder"],
                                 check=False).stdout
        for line in out.splitlines():
            if '"groupId":"%s"' % group not in line or "key: " not in line:
                continue
            key = json.loads(line.split("key: ", 1)[1].split(" payload: ")[0])
            payload = line.split(" payload: ", 1)[1] if " payload: " in line else "null"
            found.setdefault(int(key["type"]), []).append(
                None if payload.strip() == "<DELETE>" else json.loads(payload))
    # group epoch, member, target epoch, target member, current assignment
    for t in (3, 5, 6, 7, 8):
        assert t in found, (t, sorted(found))
    member = [v for v in found[5] if v][-1]["data"]
    assert member["instanceId"] == "dump-i" and member["serverAssignor"] == "range"
    assert member["subscribedTopicNames"] == [topic]
    current = [v for v in found[8] if v][-1]["data"]
    assert current["assignedPartitions"][0]["partitions"] == [0, 1]


def test_cg_api_versions_advertise_kip848(module_broker):
    """ApiVersions v4: ConsumerGroupHeartbeat and ConsumerGroupDescribe are
    advertised and group.version is finalized at 1, so clients with
    group.protocol=consumer use them."""
    import struct
    c = conn(module_broker)
    body = cg.cstr("cgraw") + cg.cstr("1.0") + cg.TAGS
    c.corr += 1
    # v4: KIP-1022 sends features whose range starts at 0 only to v4+
    hdr = struct.pack(">hhi", 18, 4, c.corr) + struct.pack(">h", 5) + b"cgraw" + cg.TAGS
    frame = hdr + body
    c.s.sendall(struct.pack(">i", len(frame)) + frame)
    size = struct.unpack(">i", c._recv(4))[0]
    r = cg.Reader(c._recv(size))
    assert r.i32() == c.corr
    assert r.i16() == 0
    keys = {}
    for k, lo, hi, _ in r.carr(lambda x: (x.i16(), x.i16(), x.i16(), x.tags())):
        keys[k] = (lo, hi)
    assert keys[68] == (0, 1)
    assert keys[69][0] == 0
    r.i32()  # throttle
    supported, finalized = {}, {}
    for _ in range(r.uvarint()):
        tag, size = r.uvarint(), r.uvarint()
        x = cg.Reader(r.take(size))
        if tag == 0:
            for n, lo, hi, _ in x.carr(lambda y: (y.cstr(), y.i16(), y.i16(), y.tags())):
                supported[n] = (lo, hi)
        elif tag == 2:
            for n, hi, lo, _ in x.carr(lambda y: (y.cstr(), y.i16(), y.i16(), y.tags())):
                finalized[n] = hi
    assert supported["group.version"][1] >= 1
    assert finalized.get("group.version") == 1
    c.close()


def test_cg_java_members_share_partitions(module_broker, tmp_path):
    """Two Java console consumers (group.protocol=consumer, server-side
    range assignor) share a topic: the coordinator gives each a contiguous
    half, and together they print every record exactly once."""
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("java2"), partitions=4)
    group = uid("g")
    procs, outs = [], []
    for i in range(2):
        out = open(str(tmp_path / ("c%d.out" % i)), "w+")
        outs.append(out)
        procs.append(subprocess.Popen(
            [harness.KAFKA_SH, "tool", "kafka-console-consumer", "--bootstrap-server", bs,
             "--topic", topic, "--group", group,
             "--consumer-property", "group.protocol=consumer",
             "--consumer-property", "group.remote.assignor=range",
             "--from-beginning", "--timeout-ms", "120000"],
            stdout=out, stderr=subprocess.DEVNULL, start_new_session=True))
    c = conn(module_broker)
    try:
        def split():
            d = c.describe([group])[0]
            if d["error"] or d["state"] != "Stable" or len(d["members"]) != 2:
                return None
            return d
        d = until(split, "two Java members, stable", timeout=120)
        assert d["assignor"] == "range"
        halves = sorted(m["assignment"].get(topic, []) for m in d["members"])
        assert halves == [[0, 1], [2, 3]]
        expected = ["k%d" % i for i in range(200)]
        harness.produce(bs, topic, expected)

        def got():
            vals = []
            for out in outs:
                out.seek(0)
                vals += [w for w in out.read().split() if w.startswith("k") and
                         w[1:].isdigit()]
            return vals
        harness.wait_for(lambda: len(got()) >= 200, 90, what="200 records")
        time.sleep(1)
        assert sorted(got()) == sorted(expected)
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(60)
        for out in outs:
            out.close()
    c.close()


def test_cg_tools_list_and_describe(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("tl"), partitions=4)
    group = uid("g")
    ms = [members(bs, group, topic) for _ in range(2)]
    wait_assignment(ms, 4, sizes=[2, 2])
    for tool in (toolcli.run, toolcli.kafka):
        r = tool("consumer-groups", "--bootstrap-server", bs, "--list", "--type", "consumer")
        assert group in r.stdout.split(), r.stdout + r.stderr
        r = tool("consumer-groups", "--bootstrap-server", bs, "--list", "--type", "classic")
        assert group not in r.stdout.split()
    outs = {}
    for name, tool in (("sluice", toolcli.run), ("kafka", toolcli.kafka)):
        for opt in ("--members", "--state"):
            r = tool("consumer-groups", "--bootstrap-server", bs, "--describe", "--group", group,
                     opt)
            outs[(name, opt)] = r.stdout
    for opt in ("--members", "--state"):
        def norm(s):
            return sorted(" ".join(l.split()) for l in s.splitlines() if l.strip())
        assert len(norm(outs[("sluice", opt)])) == len(norm(outs[("kafka", opt)])), outs
    st = [l.split() for l in outs[("kafka", "--state")].splitlines() if group in l][0]
    assert "Stable" in st and "uniform" in st and "2" in st
