"""A consumer subscribed by pattern lets go of a deleted topic promptly.

franz-go (tests/go/franzcheck member -regex) subscribes to a pattern
matching two topics in a classic group; one topic is deleted; the member must
report that topic's partitions revoked or lost within a few seconds, as it
does against Apache Kafka (about 1 s), while it keeps consuming the other
topic.
"""

import json
import os
import struct
import subprocess
import threading
import time

import pytest

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "franzcheck")

pytestmark = pytest.mark.usefixtures("shared_broker")


@pytest.fixture(scope="module")
def franz():
    r = subprocess.run([os.path.join(ROOT, "scripts", "go.sh"), "build", "-o", BIN,
                        "./franzcheck"], cwd=os.path.join(ROOT, "tests", "go"),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, "building franzcheck failed:\n%s\n%s" % (r.stdout, r.stderr)
    return BIN


class Member:
    """A franzcheck member process; its JSON events, time-stamped."""

    def __init__(self, franz, *args):
        self.events = []
        self.lock = threading.Lock()
        # FRANZCHECK_DEBUG=1: franz-go's debug log to /tmp/franzcheck-<target>.log
        err = open("/tmp/franzcheck-%s.log" % harness.TARGET, "w") \
            if os.environ.get("FRANZCHECK_DEBUG") else subprocess.DEVNULL
        self.p = subprocess.Popen([franz, "member"] + [str(a) for a in args],
                                  stdout=subprocess.PIPE, stderr=err, text=True)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append((time.monotonic(), ev))

    def find(self, pred, since=0.0):
        with self.lock:
            for ts, ev in self.events:
                if ts >= since and pred(ev):
                    return ts, ev
        return None

    def wait(self, pred, timeout, since=0.0, what="event"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hit = self.find(pred, since)
            if hit:
                return hit
            time.sleep(0.05)
        with self.lock:
            tail = [ev for _, ev in self.events[-20:]]
        raise AssertionError("no %s within %.0fs; last events: %s" % (what, timeout, tail))

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()



@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_regex_subscription_drops_deleted_topic(shared_broker, franz, protocol):
    bs = shared_broker.bootstrap
    prefix = harness.unique_topic("rx")
    keep = harness.create_topic(bs, prefix + "-keep", partitions=2)
    gone = harness.create_topic(bs, prefix + "-gone", partitions=2)
    harness.produce(bs, keep, ["k%d" % i for i in range(10)])
    harness.produce(bs, gone, ["g%d" % i for i in range(10)])
    m = Member(franz, "-brokers", bs, "-topic", "^" + prefix + "-.*", "-group",
               "g-" + prefix, "-protocol", protocol, "-regex", "-missing-after", "1s",
               "-metadata-min-age", "200ms", "-fetch-max-wait", "10s")
    try:
        def has_both(ev):
            return ev.get("event") == "assigned" and gone in ev.get("topics", [])
        m.wait(has_both, 60, what="assignment of %s" % gone)
        m.wait(lambda ev: ev.get("event") == "record" and ev["value"].startswith("g"), 60,
               what="a record of %s" % gone)
        # franz-go purges a topic missing from Metadata only once it has
        # known it for -missing-after (1 s), and refreshes Metadata on a
        # fetch error only -metadata-min-age (200 ms) after the last refresh.
        time.sleep(1.5)
        a = harness.admin(bs)
        t0 = time.monotonic()
        a.delete_topics([gone], operation_timeout=30)[gone].result(60)

        def dropped(ev):
            return ev.get("event") in ("revoked", "lost") and gone in ev.get("topics", [])
        t1, ev = m.wait(dropped, 30, since=t0, what="revocation of %s" % gone)
        took = t1 - t0
        print("%s: %s dropped %.2fs after DeleteTopics was sent (%s)"
              % (harness.TARGET, gone, took, ev["event"]))
        # Classic: the fetch waiting on the topic answers at once with
        # UNKNOWN_TOPIC_OR_PARTITION (Kafka's DelayedFetch), franz-go reads
        # Metadata and purges the topic: Kafka 0.1 s; Sluice took the rest of
        # the fetch's max wait (10 s here). Consumer protocol: the coordinator
        # drops the topic from the member's assignment by the next heartbeat
        # (Kafka 5 s: heartbeat interval); Sluice refused franz-go's RE2
        # pattern (INVALID_REGULAR_EXPRESSION). Bounds generous for a loaded
        # 2-core machine.
        bound = 4.0 if protocol == "classic" else 9.0
        assert took < bound, "deleted topic kept %.1fs" % took
        # The other topic is still consumed.
        since = time.monotonic()
        harness.produce(bs, keep, ["after"])
        m.wait(lambda ev: ev.get("event") == "record" and ev["value"] == "after", 60,
               since=since, what="a record of %s after the delete" % keep)
    finally:
        m.stop()


def test_consumer_protocol_regex_re2_forms(shared_broker):
    """Kafka matches SubscribedTopicRegex with RE2/J against whole topic
    names: the forms clients send ((?:...) groups, \\d, a leading (?i)) are
    accepted and match; a malformed pattern is INVALID_REGULAR_EXPRESSION."""
    import test_groups_consumer_lib as cg
    bs = shared_broker.bootstrap
    base = harness.unique_topic("re2")
    t = harness.create_topic(bs, base + "-42", partitions=1)
    harness.create_topic(bs, base + "-x", partitions=1)
    # FindCoordinator first: Kafka creates __consumer_offsets on the first one
    harness.wait_for(lambda: struct.unpack(">h", harness.kafka_request(
        bs, 10, 1, harness.kstr("g-re2-probe") + b"\x00")[4:6])[0] == 0, 60, interval=0.3,
        what="group coordinator")
    c = cg.Conn(bs)
    try:
        def join(group, regex):
            mid = cg.new_member_id()
            deadline = time.monotonic() + 60
            while True:
                r = c.heartbeat(group, mid, 0, rebalance_ms=30000, regex=regex, owned={})
                if r["error"] not in (14, 15, 16) or time.monotonic() > deadline:
                    return mid, r
                time.sleep(0.2)

        def topics_of(group, mid, r):
            state = {"epoch": r["epoch"], "asg": r["assignment"] or {}}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                d = c.describe([group])[0]
                asg = d["members"][0]["assignment"]
                if asg:
                    return sorted(asg)
                rr = c.heartbeat(group, mid, state["epoch"], owned=state["asg"])
                assert rr["error"] == 0, rr
                state["epoch"] = rr["epoch"]
                if rr["assignment"] is not None:
                    state["asg"] = rr["assignment"]
                time.sleep(0.2)
            return []

        for regex in (".*(?:(?:" + base + r"-\d+)).*", "(?i)" + base.upper() + r"-\d\d"):
            group = harness.unique_topic("g-re2")
            mid, r = join(group, regex)
            assert r["error"] == 0, (regex, r)
            assert topics_of(group, mid, r) == [t], regex
        for bad in ("(", "[a", base + "-(?"):
            mid, r = join(harness.unique_topic("g-re2"), bad)
            assert r["error"] == 128, (bad, r)  # INVALID_REGULAR_EXPRESSION
    finally:
        c.close()
