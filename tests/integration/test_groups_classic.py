"""Consumer groups (classic protocol) with real clients, on Sluice and on
Apache Kafka (SLUICE_TARGET=kafka): members joining, leaving and being
killed while every record gets processed; idle extra members; independent
groups; cooperative-sticky; static membership; auto.offset.reset; committed
offsets across a broker restart; stale generations refused.

Members run as subprocesses (group_member.py) so they can be killed with
SIGKILL. Broker config keeps it quick: group.initial.rebalance.delay.ms=0
(harness default) and a low group.min.session.timeout.ms so members may use
short session timeouts.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

import grpraw
import harness

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable

pytestmark = pytest.mark.broker_config({
    "group.min.session.timeout.ms": "1000",
    "offsets.topic.num.partitions": "5",
})

SESSION_MS = 4000


def uid(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


class Member:
    """A group_member.py subprocess and the events it wrote."""

    def __init__(self, workdir, bootstrap, group, topic, **conf):
        self.out = os.path.join(workdir, "%s.jsonl" % uid("m"))
        open(self.out, "w").close()
        args = [PY, os.path.join(HERE, "group_member.py"), bootstrap, group, topic, self.out]
        conf.setdefault("session.timeout.ms", SESSION_MS)
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
        """Current partition set from the assign/revoke events."""
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


def wait_all_seen(ms, expected, timeout=90):
    harness.wait_for(lambda: set(seen_values(ms)) >= expected, timeout,
                     what="all %d records processed (have %d)" % (
                         len(expected), len(set(seen_values(ms)))))


def check_once(ms, expected):
    """Every record processed; a record processed twice only if the member
    that processed it first could not commit it: it was killed with SIGKILL
    (the commit died with it) or its commit was refused (it had lost the
    partition in a rebalance)."""
    seen = {}
    for m in ms:
        got = set()  # (p, o) received in the current assignment
        for e in m.events():
            if e["ev"] in ("assign", "revoke"):
                got = set()
            elif e["ev"] == "rec":
                # librdkafka (2.16) may deliver a record twice within one
                # assignment: a partition revoked while its offset reset
                # (ListOffsets) was in flight gets the outdated reply, which
                # restarts the offset query although the partition is
                # stopped; it fetches from 0 unassigned, and when the
                # partition is assigned again the first of those records
                # reaches the application before the new fetch, from 0,
                # replaces them (debug=cgrp,fetch: "outdated offset
                # response: (re)starting offset query timer"). Seen with
                # Apache Kafka, whose ListOffsets answer is slow enough for
                # the revoke to overtake it. The client re-reading, not the
                # group handing the partition to another member: counted
                # once.
                if (e["p"], e["o"]) in got:
                    continue
                got.add((e["p"], e["o"]))
                seen.setdefault(e["v"], []).append(m)
    assert set(seen) >= expected
    failed = set()
    for m in ms:
        failed |= {(id(m), e.get("v")) for e in m.events() if e["ev"] == "commit_error"}
    dups = {v: ws for v, ws in seen.items() if len(ws) > 1}
    for v, ws in dups.items():
        assert any(w.killed or (id(w), v) in failed for w in ws[:-1]), (
            "record %s processed twice by live members: %s" % (v, [
                [e for e in w.events() if e["ev"] != "rec" or e["v"] == v] for w in ws]))


def wait_assignment(ms, n_parts, timeout=60, sizes=None):
    """Until the members' current assignments partition 0..n_parts-1 (with
    these sorted sizes, if given)."""
    def ok():
        sets = [m.assigned() for m in ms]
        allp = [p for s in sets for p in s]
        if sizes is not None and sorted(map(len, sets)) != sizes:
            return False
        return sorted(allp) == list(range(n_parts))
    harness.wait_for(ok, timeout, what="assignment of %d partitions over %d members" % (
        n_parts, len(ms)))
    return [m.assigned() for m in ms]


# ---------------------------------------------------------------------------

def test_groups_members_join_leave_and_die(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("jl"), partitions=12)
    group = uid("g")
    n = 1200
    expected = {"r%d" % i for i in range(n)}
    produce_n(bs, topic, n)
    ms = [members(bs, group, topic, x_delay_ms=8) for _ in range(3)]
    harness.wait_for(lambda: len(seen_values(ms)) > 100, 60, what="first records")
    # two more join
    ms += [members(bs, group, topic, x_delay_ms=8) for _ in range(2)]
    harness.wait_for(lambda: all(m.assigned() for m in ms), 60, what="5 members assigned")
    # one leaves cleanly, one is killed without a word
    ms[0].terminate()
    ms[1].kill9()
    wait_all_seen(ms, expected, timeout=120)
    check_once(ms, expected)
    # The killed member's partitions went to live members.
    live = [m for m in ms[2:]]
    wait_assignment(live, 12, timeout=60)


def test_groups_more_members_than_partitions(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("mm"), partitions=2)
    group = uid("g")
    produce_n(bs, topic, 20)
    ms = [members(bs, group, topic) for _ in range(4)]
    wait_assignment(ms, 2, sizes=[0, 0, 1, 1])
    time.sleep(2)  # let any late rebalance settle
    sets = wait_assignment(ms, 2, sizes=[0, 0, 1, 1])
    produce_n(bs, topic, 50, prefix="late")
    late = {"late%d" % i for i in range(50)}
    wait_all_seen(ms, late | {"r%d" % i for i in range(20)})
    check_once(ms, late)
    idle = [m for m, s in zip(ms, sets) if not s]
    assert len(idle) == 2
    assert all(not (set(v for (_, _, v) in m.records()) & late) for m in idle)


def test_groups_two_groups_each_read_everything(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("tg"), partitions=4)
    produce_n(bs, topic, 200)
    expected = {"r%d" % i for i in range(200)}
    ga, gb = uid("ga"), uid("gb")
    g1 = [members(bs, ga, topic) for _ in range(2)]
    g2 = [members(bs, gb, topic) for _ in range(2)]
    wait_all_seen(g1, expected)
    wait_all_seen(g2, expected)
    check_once(g1, expected)
    check_once(g2, expected)


def test_groups_cooperative_sticky_keeps_partitions(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("cs"), partitions=6)
    group = uid("g")
    conf = {"partition.assignment.strategy": "cooperative-sticky"}
    a = members(bs, group, topic, **conf)
    b = members(bs, group, topic, **conf)
    before = wait_assignment([a, b], 6, sizes=[3, 3])
    n_events = [len(a.events()), len(b.events())]
    c = members(bs, group, topic, **conf)
    after = wait_assignment([a, b, c], 6, sizes=[2, 2, 2])
    # a and b only gave up what moved to c, and never lost the rest.
    for m, old, new, k in ((a, before[0], after[0], n_events[0]),
                           (b, before[1], after[1], n_events[1])):
        revoked = set()
        for e in m.events()[k:]:
            if e["ev"] == "revoke":
                revoked |= set(e["parts"])
        assert new <= old
        assert revoked == old - new, (old, new, revoked)
        assert not (revoked & new)
    assert after[2] == (before[0] | before[1]) - (after[0] | after[1])


def test_groups_static_member_restart_without_rebalance(module_broker, members):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("st"), partitions=4)
    group = uid("g")
    conf = {"session.timeout.ms": 15000}
    a = members(bs, group, topic, group_instance_id="inst-a", **conf)
    b = members(bs, group, topic, group_instance_id="inst-b", **conf)
    wait_assignment([a, b], 4, sizes=[2, 2])
    time.sleep(2)
    before = wait_assignment([a, b], 4, sizes=[2, 2])
    nb = len(b.events())
    a.kill9()
    a2 = members(bs, group, topic, group_instance_id="inst-a", **conf)
    harness.wait_for(lambda: a2.assigned(), 30, what="restarted static member assigned")
    assert a2.assigned() == before[0]
    time.sleep(3)
    # b never saw a rebalance: no revoke, no new assign.
    assert [e for e in b.events()[nb:] if e["ev"] in ("assign", "revoke")] == []
    # the group still has exactly two members
    c = grpraw.Conn(bs)
    try:
        c.find_coordinator(group)
        d = c.describe([group])[0]
        assert d["state"] == "Stable"
        assert sorted(m["instance_id"] for m in d["members"]) == ["inst-a", "inst-b"]
    finally:
        c.close()


def test_groups_auto_offset_reset(module_broker):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("ar"), partitions=1)
    produce_n(bs, topic, 10, prefix="old")
    ck = harness._ck()

    def read(reset, want, settle=3.0):
        """Subscribe with this auto.offset.reset; once assigned, poll a
        while (the reset position gets looked up), then produce `want` and
        keep polling for `settle` seconds."""
        c = harness.consumer(bs, group=uid("g"), auto_offset_reset=reset)
        c.subscribe([topic])
        got, errs = [], []
        deadline = time.monotonic() + 30
        produced_at = None
        assigned_at = None
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None:
                if m.error():
                    errs.append(m.error())
                    if reset == "error":
                        break
                else:
                    got.append(m.value().decode())
            now = time.monotonic()
            if assigned_at is None and c.assignment():
                assigned_at = now
            if assigned_at is not None and produced_at is None and now > assigned_at + 2:
                if want:
                    harness.produce(bs, topic, want)
                produced_at = now
            if produced_at is not None and now > produced_at + settle:
                break
        c.close()
        return got, errs

    got, _ = read("earliest", [])
    assert got == ["old%d" % i for i in range(10)]
    got, _ = read("latest", ["new0", "new1"])
    assert got == ["new0", "new1"]
    got, errs = read("error", [])
    assert got == []
    assert errs and errs[0].code() == ck.KafkaError._AUTO_OFFSET_RESET
    # kafka-python's auto_offset_reset='none'
    from kafka import KafkaConsumer
    from kafka.consumer.fetcher import NoOffsetForPartitionError
    kc = KafkaConsumer(topic, bootstrap_servers=bs, group_id=uid("g"),
                       auto_offset_reset="none", enable_auto_commit=False)
    try:
        with pytest.raises(NoOffsetForPartitionError):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                kc.poll(timeout_ms=500)
    finally:
        kc.close()


@pytest.mark.parametrize("clean", [True, False], ids=["sigterm", "kill9"])
def test_groups_committed_offsets_survive_restart(broker, clean):
    bs = broker.bootstrap
    topic = harness.create_topic(bs, uid("rs"), partitions=3)
    for p in range(3):
        harness.produce(bs, topic, ["p%d-%d" % (p, i) for i in range(10)], partition=p)
    ck = harness._ck()
    group = uid("g")
    # A group member commits through the group...
    c = harness.consumer(bs, group=group)
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 30 and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m)
    assert len(got) == 30
    c.commit(offsets=[ck.TopicPartition(topic, 0, 4, metadata="meta-0"),
                      ck.TopicPartition(topic, 1, 7)], asynchronous=False)
    c.close()
    # ...and a standalone consumer (assign, no group membership) too.
    solo = uid("solo")
    s = harness.consumer(bs, group=solo)
    s.assign([ck.TopicPartition(topic, 2, 0)])
    s.commit(offsets=[ck.TopicPartition(topic, 2, 9, metadata="standalone")], asynchronous=False)
    s.close()

    broker.restart(clean=clean)

    def committed(consumer, tps):
        # Right after a restart the coordinator may still be loading
        # (Kafka answers NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS).
        deadline = time.monotonic() + 30
        while True:
            try:
                return consumer.committed(tps, timeout=10)
            except ck.KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    c = harness.consumer(bs, group=group)
    com = committed(c, [ck.TopicPartition(topic, p) for p in range(3)])
    assert [(tp.partition, tp.offset) for tp in com] == [(0, 4), (1, 7), (2, ck.OFFSET_INVALID)]
    assert com[0].metadata == "meta-0"
    c.close()
    s = harness.consumer(bs, group=solo)
    com = committed(s, [ck.TopicPartition(topic, 2)])
    assert com[0].offset == 9 and com[0].metadata == "standalone"
    # resume where committed
    s.assign([ck.TopicPartition(topic, 2)])
    m = None
    deadline = time.monotonic() + 30
    while m is None and time.monotonic() < deadline:
        m = s.poll(0.2)
    assert m is not None and m.offset() == 9
    s.close()


def test_groups_stale_generation_commit_refused(module_broker):
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("sg"), partitions=2)
    group = uid("g")
    a = grpraw.Conn(bs, "client-a")
    b = grpraw.Conn(bs, "client-b")
    try:
        a.find_coordinator(group)
        # v4+ join: the first JoinGroup of a dynamic member gets an id back
        r = a.join(group, topics=[topic], session_ms=SESSION_MS)
        assert r["error"] == grpraw.MEMBER_ID_REQUIRED and r["member_id"].startswith("client-a-")
        ra = a.join(group, member_id=r["member_id"], topics=[topic], session_ms=SESSION_MS)
        assert ra["error"] == 0 and ra["leader"] == ra["member_id"]
        ma, g1 = ra["member_id"], ra["generation"]
        assert [m[0] for m in ra["members"]] == [ma]
        s = a.sync(group, g1, ma, [(ma, grpraw.assignment({topic: [0, 1]}))])
        assert s["error"] == 0 and grpraw.parse_assignment(s["assignment"]) == {topic: [0, 1]}
        assert a.commit(group, g1, ma, {(topic, 0): (1, "x")}) == {(topic, 0): 0}
        # an unknown member and a wrong generation are refused
        assert a.commit(group, g1, "nobody", {(topic, 0): (1, "")}) == {
            (topic, 0): grpraw.UNKNOWN_MEMBER_ID}
        assert a.commit(group, g1 + 5, ma, {(topic, 0): (1, "")}) == {
            (topic, 0): grpraw.ILLEGAL_GENERATION}
        assert a.heartbeat(group, g1 + 5, ma) == grpraw.ILLEGAL_GENERATION
        # b joins: the group rebalances; a learns it from its heartbeat
        res = {}
        t = threading.Thread(target=lambda: res.update(
            b=b.join_full(group, topics=[topic], session_ms=SESSION_MS)))
        t.start()
        harness.wait_for(lambda: a.heartbeat(group, g1, ma) == grpraw.REBALANCE_IN_PROGRESS,
                         20, what="REBALANCE_IN_PROGRESS on heartbeat")
        # during PreparingRebalance the current generation may still commit
        assert a.commit(group, g1, ma, {(topic, 1): (2, "")}) == {(topic, 1): 0}
        ra2 = a.join(group, member_id=ma, topics=[topic], session_ms=SESSION_MS)
        t.join(30)
        rb = res["b"]
        g2 = ra2["generation"]
        assert ra2["error"] == 0 and rb["error"] == 0
        assert g2 == rb["generation"] and g2 > g1
        assert ra2["leader"] == ma
        assert sorted(m[0] for m in ra2["members"]) == sorted([ma, rb["member_id"]])
        assert rb["members"] == []
        # the group waits for the leader's assignment: commits get
        # REBALANCE_IN_PROGRESS, the old generation ILLEGAL_GENERATION
        assert a.commit(group, g2, ma, {(topic, 0): (3, "")}) == {
            (topic, 0): grpraw.REBALANCE_IN_PROGRESS}
        assert a.commit(group, g1, ma, {(topic, 0): (3, "")}) == {
            (topic, 0): grpraw.ILLEGAL_GENERATION}
        res = {}
        t = threading.Thread(target=lambda: res.update(
            b=b.sync(group, g2, rb["member_id"])))
        t.start()
        time.sleep(0.3)
        sa = a.sync(group, g2, ma, [(ma, grpraw.assignment({topic: [0]})),
                                     (rb["member_id"], grpraw.assignment({topic: [1]}))])
        t.join(30)
        assert sa["error"] == 0 and grpraw.parse_assignment(sa["assignment"]) == {topic: [0]}
        assert res["b"]["error"] == 0
        assert grpraw.parse_assignment(res["b"]["assignment"]) == {topic: [1]}
        # the stale generation stays refused once the group is stable
        assert a.commit(group, g1, ma, {(topic, 0): (5, "")}) == {
            (topic, 0): grpraw.ILLEGAL_GENERATION}
        assert b.commit(group, g2, rb["member_id"], {(topic, 1): (6, "m")}) == {(topic, 1): 0}
        err, offs = a.offset_fetch(group, {topic: [0, 1]})
        assert err == 0
        assert offs[(topic, 0)][:2] == (1, "x") and offs[(topic, 1)][:2] == (6, "m")
        # a leaves: b must rejoin
        err, ms = a.leave(group, [(ma, None)])
        assert err == 0 and ms == [(ma, None, 0)]
        assert b.heartbeat(group, g2, rb["member_id"]) == grpraw.REBALANCE_IN_PROGRESS
    finally:
        a.close()
        b.close()


def test_groups_session_timeout_and_errors(module_broker):
    bs = module_broker.bootstrap
    group = uid("g")
    a = grpraw.Conn(bs, "client-a")
    try:
        a.find_coordinator(group)
        assert a.join(group, session_ms=500)["error"] == grpraw.INVALID_SESSION_TIMEOUT
        assert a.join(group, member_id="ghost")["error"] == grpraw.UNKNOWN_MEMBER_ID
        assert a.heartbeat(group, 1, "ghost") == grpraw.UNKNOWN_MEMBER_ID
        r = a.join_full(group, session_ms=1500, rebalance_ms=1500)
        assert r["error"] == 0
        mid, gen = r["member_id"], r["generation"]
        assert a.sync(group, gen, mid, [(mid, grpraw.assignment({}))])["error"] == 0
        assert a.heartbeat(group, gen, mid) == 0
        # static member fencing
        s = a.join_full(group + "s", instance_id="i1", session_ms=5000)
        assert s["error"] == 0
        assert a.join(group + "s", member_id="someone-else", instance_id="i1",
                      session_ms=5000)["error"] == grpraw.FENCED_INSTANCE_ID
        # a different protocol type cannot join a group of another type
        assert a.join(group, protocol_type="connect", session_ms=5000)["error"] in (
            grpraw.INCONSISTENT_GROUP_PROTOCOL, grpraw.MEMBER_ID_REQUIRED)
        # no heartbeats: the member expires after its session timeout
        time.sleep(3.5)
        assert a.heartbeat(group, gen, mid) == grpraw.UNKNOWN_MEMBER_ID
        d = a.describe([group])[0]
        assert d["state"] == "Empty" and d["members"] == []
    finally:
        a.close()


def test_groups_java_console_consumer_group(module_broker):
    """Apache Kafka's Java consumer (kafka-console-consumer.sh --group):
    two runs of the same group read every record exactly once between them,
    and kafka-consumer-groups.sh shows the committed offsets."""
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("jv"), partitions=3)
    for p in range(3):
        harness.produce(bs, topic, ["j%d-%d" % (p, i) for i in range(10)], partition=p)
    group = uid("gj")

    def run(n):
        r = harness.kafka_tool("kafka-console-consumer", [
            "--bootstrap-server", bs, "--topic", topic, "--group", group,
            "--from-beginning", "--max-messages", str(n), "--timeout-ms", "30000",
            "--consumer-property", "session.timeout.ms=6000",
            "--consumer-property", "auto.commit.interval.ms=100"])
        return [line for line in r.stdout.splitlines() if line.startswith("j")]

    first = run(12)
    second = run(18)
    assert len(first) == 12 and len(second) == 18
    assert sorted(first + second) == sorted("j%d-%d" % (p, i) for p in range(3)
                                            for i in range(10))
    r = harness.kafka_tool("kafka-consumer-groups", [
        "--bootstrap-server", bs, "--describe", "--group", group])
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith(group)]
    assert len(rows) == 3
    # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    assert sorted((int(x[2]), int(x[3]), int(x[5])) for x in rows) == [
        (0, 10, 0), (1, 10, 0), (2, 10, 0)]


def test_groups_kafka_python_group_members(module_broker):
    """kafka-python's group consumer (its own JoinGroup/SyncGroup client):
    two members share a topic and commit; a third reader of the group
    starts from the committed offsets."""
    from kafka import KafkaConsumer, TopicPartition
    bs = module_broker.bootstrap
    topic = harness.create_topic(bs, uid("kp"), partitions=4)
    for p in range(4):
        harness.produce(bs, topic, ["k%d-%d" % (p, i) for i in range(5)], partition=p)
    group = uid("gk")

    stop = threading.Event()
    got = {0: [], 1: []}
    final = {}

    def member(i):
        # each member polls in its own thread: kafka-python joins inside poll()
        c = KafkaConsumer(topic, bootstrap_servers=bs, group_id=group,
                          auto_offset_reset="earliest", enable_auto_commit=False,
                          session_timeout_ms=6000, heartbeat_interval_ms=500,
                          max_poll_interval_ms=10000)
        try:
            while not stop.is_set():
                for recs in c.poll(timeout_ms=200).values():
                    got[i] += [r.value.decode() for r in recs]
                    c.commit()
                final[i] = set(tp.partition for tp in c.assignment())
        finally:
            c.close()

    ts = [threading.Thread(target=member, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    try:
        harness.wait_for(lambda: len(final.get(0, ())) == 2 and len(final.get(1, ())) == 2
                         and len(got[0]) + len(got[1]) >= 20, 60,
                         what="two kafka-python members with 2 partitions each")
    finally:
        stop.set()
        for t in ts:
            t.join(30)
    assert sorted(set(got[0] + got[1])) == sorted(
        "k%d-%d" % (p, i) for p in range(4) for i in range(5))
    assert final[0] | final[1] == {0, 1, 2, 3}
    c = KafkaConsumer(bootstrap_servers=bs, group_id=group, enable_auto_commit=False)
    try:
        committed = {p: c.committed(TopicPartition(topic, p)) for p in range(4)}
    finally:
        c.close()
    assert committed == {0: 5, 1: 5, 2: 5, 3: 5}


def test_groups_batched_leave_by_instance_id(module_broker):
    """LeaveGroup v3+: several members in one request, static members by
    group.instance.id, each with its own error."""
    bs = module_broker.bootstrap
    group = uid("g")
    a = grpraw.Conn(bs, "client-a")
    try:
        a.find_coordinator(group)
        # a static member joins directly (no MEMBER_ID_REQUIRED round)
        r = a.join(group, instance_id="i1", session_ms=10000)
        assert r["error"] == 0 and r["member_id"].startswith("i1-")
        mid, gen = r["member_id"], r["generation"]
        assert a.sync(group, gen, mid, [(mid, grpraw.assignment({"t": [0]}))],
                      instance_id="i1")["error"] == 0
        d = a.describe([group])[0]
        assert d["state"] == "Stable" and d["protocol"] == "range"
        assert [(m["member_id"], m["instance_id"], m["client_id"]) for m in d["members"]] == [
            (mid, "i1", "client-a")]
        assert grpraw.parse_assignment(d["members"][0]["assignment"]) == {"t": [0]}
        err, ms = a.leave(group, [("bogus", "i1")])
        assert err == 0 and ms == [("bogus", "i1", grpraw.FENCED_INSTANCE_ID)]
        err, ms = a.leave(group, [("", "i1"), ("", "i9")])
        assert err == 0
        assert ms == [("", "i1", 0), ("", "i9", grpraw.UNKNOWN_MEMBER_ID)]
        d = a.describe([group])[0]
        assert d["state"] == "Empty" and d["members"] == []
        # a group nobody ever used
        d = a.describe([uid("none")])[0]
        assert d["error"] == 0 and d["state"] == "Dead"
    finally:
        a.close()


def test_groups_describe_all_groups_offsets(module_broker):
    """kafka-consumer-groups.sh --describe --all-groups (the Java admin
    client fetches the offsets of several groups at once: OffsetFetch v8+
    with many groups) and --list --state."""
    bs = module_broker.bootstrap
    ck = harness._ck()
    topic = harness.create_topic(bs, uid("ag"), partitions=2)
    for p in range(2):
        harness.produce(bs, topic, ["a%d" % i for i in range(4)], partition=p)
    groups = [uid("ga"), uid("gb")]
    for i, g in enumerate(groups):
        c = harness.consumer(bs, group=g)
        c.assign([ck.TopicPartition(topic, 0, 0), ck.TopicPartition(topic, 1, 0)])
        c.commit(offsets=[ck.TopicPartition(topic, 0, 1 + i), ck.TopicPartition(topic, 1, 3)],
                 asynchronous=False)
        c.close()
    r = harness.kafka_tool("kafka-consumer-groups", [
        "--bootstrap-server", bs, "--describe", "--all-groups", "--offsets"])
    rows = sorted(tuple(line.split()[:6]) for line in r.stdout.splitlines()
                  if line.split() and line.split()[0] in groups)
    assert rows == sorted([
        (groups[0], topic, "0", "1", "4", "3"), (groups[0], topic, "1", "3", "4", "1"),
        (groups[1], topic, "0", "2", "4", "2"), (groups[1], topic, "1", "3", "4", "1")])
    r = harness.kafka_tool("kafka-consumer-groups", [
        "--bootstrap-server", bs, "--list", "--state", "Empty"])
    listed = {tuple(line.split()[:2]) for line in r.stdout.splitlines()}
    assert (groups[0], "Empty") in listed and (groups[1], "Empty") in listed


def test_groups_offsets_of_deleted_topic_removed(module_broker):
    """Deleting a topic removes the groups' committed offsets for it (Kafka's
    onPartitionsDeleted); a recreated topic starts without them."""
    bs = module_broker.bootstrap
    ck = harness._ck()
    name = uid("dt")
    harness.create_topic(bs, name, partitions=1)
    keep = harness.create_topic(bs, uid("kt"), partitions=1)
    group = uid("g")
    c = harness.consumer(bs, group=group)
    c.commit(offsets=[ck.TopicPartition(name, 0, 5), ck.TopicPartition(keep, 0, 6)],
             asynchronous=False)
    a = harness.admin(bs)
    a.delete_topics([name], operation_timeout=30)[name].result(30)

    def gone():
        com = c.committed([ck.TopicPartition(name, 0), ck.TopicPartition(keep, 0)], timeout=10)
        return com[0].offset == ck.OFFSET_INVALID and com[1].offset == 6
    harness.wait_for(gone, 30, what="offsets of the deleted topic removed")
    c.close()
