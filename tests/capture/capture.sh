#!/usr/bin/env bash
# Re-captures tests/vectors/{java,kcat,python}: real clients talk to Apache
# Kafka 4.3.1 through tests/capture/proxy.py, which writes every request and
# its response as files. See tests/vectors/README.md.
#
#   tests/capture/capture.sh [outdir]      (default tests/vectors; replaces
#                                            the java/kcat/python dirs in it)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/tests/vectors}"
PY="${PYTHON:-$ROOT/build/venv/bin/python}"
[ -x "$PY" ] || PY=python3
KAFKA="$ROOT/scripts/kafka.sh"
WORK="$(mktemp -d /tmp/sluice-capture.XXXXXX)"
KPORT="${KPORT:-39092}"  # broker (controller on +1)
XPORT="${XPORT:-39192}"  # proxy, advertised to clients
B="127.0.0.1:$XPORT"
PROXY_PID=""

cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
    "$KAFKA" stop "$WORK/kafka" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

proxy_start() { # source
    rm -rf "${OUT:?}/$1"
    "$PY" "$ROOT/tests/capture/proxy.py" --listen "$XPORT" --upstream "127.0.0.1:$KPORT" \
        --out "$OUT/$1" --max-per-version 6 2>>"$WORK/proxy.err" &
    PROXY_PID=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$XPORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "proxy did not start" >&2
    exit 1
}
proxy_stop() {
    sleep 0.5
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=""
}
tool() { "$KAFKA" tool "$@"; }
step() { echo "== $*" >&2; }

"$KAFKA" install
mkdir -p "$OUT"
"$KAFKA" start "$WORK/kafka" "$KPORT" \
    "advertised.listeners=PLAINTEXT://127.0.0.1:$XPORT" \
    auto.create.topics.enable=true >/dev/null

# ---------------------------------------------------------------- java
proxy_start java
step "java: kafka-topics"
tool kafka-topics --bootstrap-server "$B" --create --topic jv --partitions 2 \
    --replication-factor 1 --config retention.ms=3600000
tool kafka-topics --bootstrap-server "$B" --create --topic jv-del --partitions 1
tool kafka-topics --bootstrap-server "$B" --list
tool kafka-topics --bootstrap-server "$B" --describe --topic jv
tool kafka-topics --bootstrap-server "$B" --alter --topic jv-del --partitions 2
tool kafka-topics --bootstrap-server "$B" --delete --topic jv-del
step "java: console producer (gzip, lz4, zstd, snappy; acks all)"
for c in gzip lz4 zstd snappy none; do
    printf 'k1:v1-%s\nk2:v2-%s\n' "$c" "$c" | tool kafka-console-producer --bootstrap-server "$B" \
        --topic jv --compression-codec "$c" --request-required-acks -1 \
        --property parse.key=true --property key.separator=: >/dev/null
done
printf 'idem\n' | tool kafka-console-producer --bootstrap-server "$B" --topic jv \
    --producer-property enable.idempotence=true --request-required-acks all >/dev/null
step "java: console consumer with a group (classic and consumer protocols)"
tool kafka-console-consumer --bootstrap-server "$B" --topic jv --group jg --from-beginning \
    --max-messages 11 --timeout-ms 30000 --property print.key=true >/dev/null
tool kafka-console-consumer --bootstrap-server "$B" --topic jv --group jg2 --from-beginning \
    --max-messages 11 --timeout-ms 30000 --consumer-property group.protocol=consumer >/dev/null
step "java: admin tools"
tool kafka-consumer-groups --bootstrap-server "$B" --list
tool kafka-consumer-groups --bootstrap-server "$B" --describe --group jg
tool kafka-consumer-groups --bootstrap-server "$B" --describe --group jg2 --members
tool kafka-consumer-groups --bootstrap-server "$B" --reset-offsets --group jg --topic jv \
    --to-earliest --execute
tool kafka-configs --bootstrap-server "$B" --describe --entity-type topics --entity-name jv
tool kafka-configs --bootstrap-server "$B" --describe --entity-type brokers --entity-name 1 --all >/dev/null
tool kafka-configs --bootstrap-server "$B" --alter --entity-type topics --entity-name jv \
    --add-config retention.bytes=10000000
tool kafka-get-offsets --bootstrap-server "$B" --topic jv --time -1
tool kafka-get-offsets --bootstrap-server "$B" --topic jv --time -2
echo '{"partitions":[{"topic":"jv","partition":0,"offset":1}],"version":1}' >"$WORK/dr.json"
tool kafka-delete-records --bootstrap-server "$B" --offset-json-file "$WORK/dr.json"
tool kafka-broker-api-versions --bootstrap-server "$B" >/dev/null
tool kafka-log-dirs --bootstrap-server "$B" --describe --topic-list jv >/dev/null
tool kafka-cluster cluster-id --bootstrap-server "$B"
tool kafka-features --bootstrap-server "$B" describe
tool kafka-metadata-quorum --bootstrap-server "$B" describe --status
tool kafka-acls --bootstrap-server "$B" --list || true
step "java: transactions"
tool kafka-producer-perf-test --topic jv --num-records 20 --record-size 20 --throughput -1 \
    --producer-props bootstrap.servers="$B" transactional.id=jtx --transaction-duration-ms 100 >/dev/null
tool kafka-transactions --bootstrap-server "$B" list
tool kafka-transactions --bootstrap-server "$B" describe --transactional-id jtx
tool kafka-transactions --bootstrap-server "$B" describe-producers --topic jv --partition 0
tool kafka-consumer-groups --bootstrap-server "$B" --delete --group jg
proxy_stop

# ---------------------------------------------------------------- kcat
proxy_start kcat
step "kcat: metadata, produce in every codec, consume, groups"
kcat -b "$B" -L >/dev/null
printf 'x\n' | kcat -b "$B" -P -t kc-none -X acks=0  # no response: only a _req file
sleep 1
for c in none gzip snappy lz4 zstd; do
    printf 'a:one\nb:two\n:three\n' | kcat -b "$B" -P -t "kc-$c" -K : -z "$c" -H h1=v1 -H h2=v2
done
printf 'y\n' | kcat -b "$B" -P -t kc-none -X enable.idempotence=true
printf 'z\n' | kcat -b "$B" -P -t kc-none -X transactional.id=ktx
for c in none gzip snappy lz4 zstd; do
    kcat -b "$B" -C -t "kc-$c" -o beginning -e -f '%k=%s %h\n' >/dev/null
done
kcat -b "$B" -Q -t kc-none:0:-1 >/dev/null || true
kcat -b "$B" -Q -t kc-none:0:1000 >/dev/null || true
timeout 40 kcat -b "$B" -G kg kc-gzip -o beginning -c 3 -X enable.auto.commit=true \
    -X auto.commit.interval.ms=100 -X heartbeat.interval.ms=300 >/dev/null || true
kcat -b "$B" -L -t kc-none >/dev/null
proxy_stop

# ---------------------------------------------------------------- python
proxy_start python
step "python: confluent-kafka AdminClient, producer, consumer; kafka-python"
"$PY" - "$B" <<'EOF'
import sys, time
from confluent_kafka import Producer, Consumer, TopicPartition, ConsumerGroupTopicPartitions
from confluent_kafka.admin import (AdminClient, NewTopic, NewPartitions, ConfigResource,
                                   ConfigEntry, AlterConfigOpType, ResourceType,
                                   AclBindingFilter, ResourcePatternType, AclOperation,
                                   AclPermissionType, OffsetSpec)
b = sys.argv[1]
a = AdminClient({"bootstrap.servers": b})
def r(fs):
    out = {}
    for k, f in fs.items():
        try:
            out[k] = f.result(30)
        except Exception as e:
            out[k] = e
    return out
r(a.create_topics([NewTopic("py", 3, 1, config={"cleanup.policy": "delete", "segment.bytes": "1048576"})]))
r(a.create_topics([NewTopic("py-v", 1, 1)], validate_only=True))
r(a.create_topics([NewTopic("py-del", 1, 1)]))
time.sleep(1)
a.list_topics(timeout=10)
r(a.describe_configs([ConfigResource(ResourceType.TOPIC, "py")]))
r(a.describe_configs([ConfigResource(ResourceType.BROKER, "1")]))
r(a.incremental_alter_configs([ConfigResource(ResourceType.TOPIC, "py", incremental_configs=[
    ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)])]))
r(a.alter_configs([ConfigResource(ResourceType.TOPIC, "py", set_config={"retention.ms": "3600000"})]))
r(a.create_partitions([NewPartitions("py", 4)]))
p = Producer({"bootstrap.servers": b, "compression.type": "zstd", "linger.ms": 5})
for i in range(6):
    p.produce("py", key=b"k%d" % i, value=b"v%d" % i, headers=[("n", str(i).encode())], partition=i % 4)
p.produce("py", key=b"tomb", value=None, partition=0)
p.flush(30)
c = Consumer({"bootstrap.servers": b, "group.id": "pg", "auto.offset.reset": "earliest",
              "enable.auto.commit": False})
c.subscribe(["py"])
got = 0
deadline = time.time() + 30
while got < 7 and time.time() < deadline:
    m = c.poll(0.5)
    if m is not None and not m.error():
        got += 1
c.commit(asynchronous=False)
c.committed([TopicPartition("py", 0)], timeout=10)
c.close()
r({"x": a.describe_cluster(request_timeout=10)})
r({"l": a.list_consumer_groups(request_timeout=10)})
r(a.describe_consumer_groups(["pg"], request_timeout=10))
r(a.list_consumer_group_offsets([ConsumerGroupTopicPartitions("pg")]))
try:
    r(a.list_offsets({TopicPartition("py", 0): OffsetSpec.latest(),
                      TopicPartition("py", 1): OffsetSpec.earliest()}))
    r(a.list_offsets({TopicPartition("py", 2): OffsetSpec.max_timestamp()}))
except Exception as e:
    print("list_offsets:", e)
r(a.delete_records([TopicPartition("py", 0, 1)]))
r({"acls": a.describe_acls(AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                                            None, None, AclOperation.ANY, AclPermissionType.ANY))})
r(a.delete_consumer_groups(["pg"], request_timeout=10))
r(a.delete_topics(["py-del"], operation_timeout=30))
# kafka-python speaks older, non-flexible versions of the same APIs.
from kafka import KafkaProducer, KafkaConsumer, TopicPartition as KTP
from kafka.admin import KafkaAdminClient, NewTopic as KNewTopic
kp = KafkaProducer(bootstrap_servers=b, compression_type="gzip")
for i in range(3):
    kp.send("py", key=b"kp", value=b"kafka-python %d" % i, partition=1)
kp.flush(); kp.close()
kc = KafkaConsumer(bootstrap_servers=b, group_id="kpg", auto_offset_reset="earliest",
                   consumer_timeout_ms=5000)
kc.subscribe(["py"])
n = 0
for m in kc:
    n += 1
    if n >= 5:
        break
kc.commit()
kc.close()
ka = KafkaAdminClient(bootstrap_servers=b)
ka.create_topics([KNewTopic("kp-admin", 1, 1)])
ka.list_consumer_groups()
ka.describe_consumer_groups(["kpg"])
ka.delete_topics(["kp-admin"])
ka.close()
print("python capture done")
EOF
proxy_stop

"$KAFKA" stop "$WORK/kafka"
n=$(ls "$OUT"/{java,kcat,python} | grep -c _req.bin || true)
echo "captured $n requests ($(du -sh "$OUT" | cut -f1)) into $OUT" >&2
