"""The checkpoint files Kafka keeps in a log dir, in its text format
(CheckpointFile: a version line "0", a count line, then the entries):
replication-offset-checkpoint (high watermarks, every
replica.high.watermark.checkpoint.interval.ms), recovery-point-offset-
checkpoint (log.flush.offset.checkpoint.interval.ms), log-start-offset-
checkpoint (log.flush.start.offset.checkpoint.interval.ms; only logs whose
start is above their first segment's base) and each partition's
leader-epoch-checkpoint ("epoch start-offset" lines); written while the
broker runs and at shutdown, read at start. The same checks pass on Apache
Kafka 4.3.1."""

import os

import harness

FAST = {
    "replica.high.watermark.checkpoint.interval.ms": "300",
    "log.flush.offset.checkpoint.interval.ms": "300",
    "log.flush.start.offset.checkpoint.interval.ms": "300",
}


def read_ckpt(path, fields=3):
    """A checkpoint file's entries, its format checked: {key: offset}, where
    key is (topic, partition) for the log-dir files and the epoch for a
    leader-epoch-checkpoint. None when the file does not exist, {} when
    it is empty."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    if text == "":
        return {}  # Kafka's CheckpointFile creates the file empty first
    lines = text.split("\n")
    assert lines[-1] == "", "no final newline: %r" % text
    lines = lines[:-1]
    assert lines[0] == "0", "version line: %r" % text
    n = int(lines[1])
    assert n == len(lines) - 2, "count line %d for %d entries: %r" % (n, len(lines) - 2, text)
    out = {}
    for line in lines[2:]:
        parts = line.split(" ")
        assert len(parts) == fields, "entry %r in %r" % (line, text)
        if fields == 3:
            out[(parts[0], int(parts[1]))] = int(parts[2])
        else:
            out[int(parts[0])] = int(parts[1])
    return out


def ckpt(b, name):
    return read_ckpt(os.path.join(b.data_dir, name)) or {}


def test_checkpoint_files_in_kafkas_format(broker_factory):
    b = broker_factory(config=FAST)
    t = harness.create_topic(b.bootstrap, harness.unique_topic("ckpt"), partitions=2)
    harness.produce(b.bootstrap, t, [b"a%d" % i for i in range(7)], partition=0, acks="all")
    harness.produce(b.bootstrap, t, [b"b%d" % i for i in range(3)], partition=1, acks="all")

    # written while running, on their periods
    harness.wait_for(lambda: ckpt(b, "replication-offset-checkpoint").get((t, 0)) == 7 and
                     ckpt(b, "replication-offset-checkpoint").get((t, 1)) == 3, 30,
                     what="high watermarks checkpointed")
    harness.wait_for(lambda: (t, 1) in ckpt(b, "recovery-point-offset-checkpoint"), 30,
                     what="recovery points checkpointed")
    rp = ckpt(b, "recovery-point-offset-checkpoint")
    assert 0 <= rp[(t, 0)] <= 7 and 0 <= rp[(t, 1)] <= 3, rp
    epochs = read_ckpt(os.path.join(b.partition_dir(t, 0), "leader-epoch-checkpoint"), fields=2)
    assert epochs == {0: 0}, epochs
    # a log start above the first segment's base is checkpointed, not others
    err, low = harness.delete_records_raw(b.bootstrap, t, 0, 2)
    assert (err, low) == (0, 2)
    harness.wait_for(lambda: ckpt(b, "log-start-offset-checkpoint").get((t, 0)) == 2, 30,
                     what="log start checkpointed")
    assert (t, 1) not in ckpt(b, "log-start-offset-checkpoint")

    # at shutdown: everything up to the log end
    b.stop()
    assert ckpt(b, "replication-offset-checkpoint")[(t, 0)] == 7
    assert ckpt(b, "recovery-point-offset-checkpoint")[(t, 0)] == 7
    assert ckpt(b, "recovery-point-offset-checkpoint")[(t, 1)] == 3
    assert ckpt(b, "log-start-offset-checkpoint")[(t, 0)] == 2
    leftovers = [f for f in os.listdir(b.data_dir) if f.endswith(".tmp")]
    assert leftovers == [], leftovers

    # read at start
    b.start()
    assert harness.watermarks(b.bootstrap, t, 0) == (2, 7)
    assert harness.watermarks(b.bootstrap, t, 1) == (0, 3)
    got = harness.consume(b.bootstrap, t, 5, partitions=[0])
    assert [m.value() for m in got] == [b"a%d" % i for i in range(2, 7)]
