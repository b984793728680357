"""One consumer-group member, run as a subprocess by test_groups_*.py so a
test can kill it with SIGKILL (no goodbye) or SIGTERM (clean close, which
sends LeaveGroup).

Usage: python group_member.py BOOTSTRAP GROUP TOPIC OUTFILE [key=value ...]
  key=value are librdkafka consumer settings, plus the special keys
  x.delay.ms (sleep after each record, default 0) and x.commit (per-record
  synchronous commit: 1, default 1).

Writes one JSON object per line to OUTFILE (flushed at once):
  {"ev": "assign", "parts": [...]}  partitions given (incremental for
                                    cooperative assignors)
  {"ev": "revoke", "parts": [...]}  partitions taken away
  {"ev": "rec", "p": P, "o": O, "v": "..."}  a record, written BEFORE its
                                    offset is committed (so a kill between
                                    the two can only cause a re-delivery,
                                    never a gap in what the test sees)
  {"ev": "error", "code": ..., "str": ...}
"""

import json
import os
import signal
import sys
import time

import confluent_kafka as ck

stop = False


def on_term(signum, frame):
    global stop
    stop = True


def main():
    bootstrap, group, topic, outfile = sys.argv[1:5]
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "enable.partition.eof": False,
        "topic.metadata.refresh.interval.ms": 2000,
    }
    delay = 0.0
    commit = True
    for kv in sys.argv[5:]:
        k, v = kv.split("=", 1)
        if k == "x.delay.ms":
            delay = int(v) / 1000.0
        elif k == "x.commit":
            commit = v == "1"
        else:
            conf[k] = v
    out = open(outfile, "a", buffering=1)

    def emit(**kw):
        out.write(json.dumps(kw) + "\n")
        out.flush()

    c = ck.Consumer(conf)

    def on_assign(consumer, parts):
        emit(ev="assign", parts=sorted(p.partition for p in parts))

    def on_revoke(consumer, parts):
        emit(ev="revoke", parts=sorted(p.partition for p in parts))

    signal.signal(signal.SIGTERM, on_term)
    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    emit(ev="start", pid=os.getpid())
    while not stop:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            emit(ev="error", code=m.error().code(), str=m.error().str())
            continue
        emit(ev="rec", p=m.partition(), o=m.offset(),
             v=(m.value() or b"").decode())
        if delay:
            time.sleep(delay)
        if commit:
            while True:
                try:
                    c.commit(message=m, asynchronous=False)
                    break
                except ck.KafkaException as e:
                    err = e.args[0]
                    emit(ev="commit_error", code=err.code(), str=err.str(),
                         v=(m.value() or b"").decode())
                    # Rebalance in progress or we lost the partition: the
                    # next owner re-reads from the last commit.
                    break
    c.close()
    emit(ev="closed")


if __name__ == "__main__":
    main()
