"""Producer ids are never handed out twice: InitProducerId after clean
restarts and kill -9 always returns an id no earlier producer had, because
the controller records each block it hands out in __cluster_metadata
(ProducerIdsRecord), which Kafka's own kafka-dump-log decodes."""

import glob
import json
import os
import struct

import harness


def init_producer_id(bootstrap):
    """InitProducerId v0 for a non-transactional (idempotent) producer:
    returns (error_code, producer_id, producer_epoch)."""
    body = struct.pack(">hi", -1, 60000)  # transactional_id null, timeout
    r = harness.kafka_request(bootstrap, 22, 0, body)
    _, err, pid, epoch = struct.unpack(">ihqh", r[:16])
    return err, pid, epoch


def fresh_id(bootstrap):
    def ok():
        err, pid, epoch = init_producer_id(bootstrap)
        return (pid, epoch) if err == 0 else None
    pid, epoch = harness.wait_for(ok, 30, what="InitProducerId to succeed")
    assert epoch == 0
    return pid


def test_producer_ids_unique_across_restarts_and_kill9(broker):
    seen = []
    for round_ in range(4):
        ids = [fresh_id(broker.bootstrap) for _ in range(5)]
        # Within one broker life the ids come from one block, in order.
        assert ids == sorted(ids) and len(set(ids)) == 5
        seen.extend(ids)
        broker.restart(clean=(round_ % 2 == 0))
    seen.append(fresh_id(broker.bootstrap))
    assert len(set(seen)) == len(seen), seen
    # An id handed out after a restart is above every id handed out before.
    assert seen[-1] > max(seen[:-1])


def test_producer_ids_block_recorded_in_cluster_metadata(broker):
    pid = fresh_id(broker.bootstrap)
    broker.stop()
    segs = sorted(glob.glob(os.path.join(broker.data_dir, "__cluster_metadata-0", "*.log")))
    assert segs, "no __cluster_metadata-0 segment in %s" % broker.data_dir
    r = harness.kafka_tool("kafka-dump-log", ["--cluster-metadata-decoder", "--files",
                                              ",".join(segs)])
    lines = [ln for ln in r.stdout.splitlines() if "PRODUCER_IDS_RECORD" in ln]
    assert lines, r.stdout[-3000:]
    # The record names this broker (node.id 1 in the tests) and the end of
    # the block the id came from.
    rec = json.loads(lines[-1].split("payload: ", 1)[1])["data"]
    assert rec["brokerId"] == 1
    assert rec["nextProducerId"] > pid
