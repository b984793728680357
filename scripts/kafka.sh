#!/usr/bin/env bash
# Apache Kafka 4.3.1 (jars from Maven Central) as the reference broker and
# the source of Kafka's own command-line tools.
#
#   scripts/kafka.sh install                 jars -> build/kafka/libs (idempotent)
#   scripts/kafka.sh start <dir> <port> [k=v ...]
#                                            single-node KRaft broker+controller
#                                            (controller on port+1), data in
#                                            <dir>/data unless log.dirs=... is
#                                            given; prints the pid once the
#                                            broker answers Metadata
#   scripts/kafka.sh stop <dir>              SIGTERM, wait for exit
#   scripts/kafka.sh kill9 <dir>             SIGKILL, wait for exit
#   scripts/kafka.sh tool <name> args...     one of Kafka's CLI tools, e.g.
#                                            tool kafka-topics --list --bootstrap-server ...
#   scripts/kafka.sh tools                   list the tool names
#   scripts/kafka.sh classpath               print the classpath
#   scripts/kafka.sh cluster-id <dir>        cluster id <dir>'s broker was formatted with
#
# Files in <dir>: server.properties, kafka.pid, kafka.out (stdout/stderr),
# logs/server.log (log4j2), data/ (log.dirs).
#
# A second, broker-only node joins the first one's cluster with
#   KAFKA_CLUSTER_ID=$(scripts/kafka.sh cluster-id dir1) scripts/kafka.sh start dir2 PORT2 \
#     process.roles=broker node.id=2 controller.quorum.voters=1@127.0.0.1:<PORT1+1>
# Environment: KAFKA_HEAP_MAX (default 512m), KAFKA_START_TIMEOUT (s, 120),
# KAFKA_CLUSTER_ID (format with this id instead of a random one).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KHOME="${KAFKA_HOME_DIR:-$ROOT/build/kafka}"
LIBS="$KHOME/libs"
VERSION=4.3.1

die() { echo "kafka.sh: $*" >&2; exit 1; }

installed() {
    [ -f "$LIBS/kafka_2.13-$VERSION.jar" ] && [ -f "$LIBS/kafka-tools-$VERSION.jar" ] &&
        [ -f "$LIBS/log4j-core-2.24.3.jar" ] && [ -f "$KHOME/log4j2-broker.xml" ] &&
        [ -f "$KHOME/log4j2-tools.xml" ]
}

cmd_install() {
    installed && return 0
    # one install at a time: parallel test workers may all ask at once
    mkdir -p "$KHOME"
    exec 9>"$KHOME/.install.lock"
    flock 9
    if installed; then
        exec 9>&-
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
    mkdir -p "$LIBS"
    echo "kafka.sh: fetching Apache Kafka $VERSION from Maven Central into $LIBS" >&2
    mvn -q -B -f "$ROOT/scripts/kafka-pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$LIBS" -DincludeScope=runtime >&2
    # Broker: everything to <dir>/logs/server.log, nothing on the console.
    cat >"$KHOME/log4j2-broker.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="server" fileName="${sys:kafka.logs.dir}/server.log">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="INFO"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
  </Loggers>
</Configuration>
EOF
    # Tools: warnings and errors on stderr, as Kafka's tools-log4j2.yaml does.
    cat >"$KHOME/log4j2-tools.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
EOF
    exec 9>&-
}

classpath() {
    [ -f "$LIBS/kafka_2.13-$VERSION.jar" ] || die "Kafka not installed; run scripts/kafka.sh install"
    echo "$LIBS/*"
}

# Tool name (kafka-topics, kafka-topics.sh or topics) -> main class.
tool_class() {
    local n="${1%.sh}"
    n="${n#kafka-}"
    case "$n" in
    topics) echo org.apache.kafka.tools.TopicCommand ;;
    configs) echo kafka.admin.ConfigCommand ;;
    console-producer) echo org.apache.kafka.tools.ConsoleProducer ;;
    console-consumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    console-share-consumer) echo org.apache.kafka.tools.consumer.ConsoleShareConsumer ;;
    consumer-groups) echo org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    share-groups) echo org.apache.kafka.tools.consumer.group.ShareGroupCommand ;;
    streams-groups) echo org.apache.kafka.tools.streams.StreamsGroupCommand ;;
    groups) echo org.apache.kafka.tools.GroupsCommand ;;
    delete-records) echo org.apache.kafka.tools.DeleteRecordsCommand ;;
    get-offsets) echo org.apache.kafka.tools.GetOffsetShell ;;
    broker-api-versions) echo org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    leader-election) echo org.apache.kafka.tools.LeaderElectionCommand ;;
    reassign-partitions) echo org.apache.kafka.tools.reassign.ReassignPartitionsCommand ;;
    acls) echo org.apache.kafka.tools.AclCommand ;;
    transactions) echo org.apache.kafka.tools.TransactionsCommand ;;
    features) echo org.apache.kafka.tools.FeatureCommand ;;
    metadata-quorum) echo org.apache.kafka.tools.MetadataQuorumCommand ;;
    storage) echo kafka.tools.StorageTool ;;
    dump-log) echo org.apache.kafka.tools.DumpLogSegments ;;
    log-dirs) echo org.apache.kafka.tools.LogDirsCommand ;;
    producer-perf-test) echo org.apache.kafka.tools.ProducerPerformance ;;
    consumer-perf-test) echo org.apache.kafka.tools.ConsumerPerformance ;;
    share-consumer-perf-test) echo org.apache.kafka.tools.ShareConsumerPerformance ;;
    e2e-latency) echo org.apache.kafka.tools.EndToEndLatency ;;
    verifiable-producer) echo org.apache.kafka.tools.VerifiableProducer ;;
    verifiable-consumer) echo org.apache.kafka.tools.VerifiableConsumer ;;
    verifiable-share-consumer) echo org.apache.kafka.tools.VerifiableShareConsumer ;;
    replica-verification) echo org.apache.kafka.tools.ReplicaVerificationTool ;;
    client-metrics) echo org.apache.kafka.tools.ClientMetricsCommand ;;
    delegation-tokens) echo org.apache.kafka.tools.DelegationTokenCommand ;;
    cluster) echo org.apache.kafka.tools.ClusterTool ;;
    jmx) echo org.apache.kafka.tools.JmxTool ;;
    run-class) echo "" ;;
    *) return 1 ;;
    esac
}

TOOL_NAMES="topics configs console-producer console-consumer console-share-consumer
consumer-groups share-groups streams-groups groups delete-records get-offsets
broker-api-versions leader-election reassign-partitions acls transactions features
metadata-quorum storage dump-log log-dirs producer-perf-test consumer-perf-test
share-consumer-perf-test e2e-latency verifiable-producer verifiable-consumer
verifiable-share-consumer replica-verification client-metrics delegation-tokens
cluster jmx run-class"

TOOL_JVM_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
    -Djava.awt.headless=true)

cmd_tool() {
    [ $# -ge 1 ] || die "usage: kafka.sh tool <name> args..."
    local name="$1"
    shift
    local cls
    cls="$(tool_class "$name")" || die "unknown tool '$name' (scripts/kafka.sh tools lists them)"
    if [ -z "$cls" ]; then # run-class <class> args...
        [ $# -ge 1 ] || die "usage: kafka.sh tool run-class <main class> args..."
        cls="$1"
        shift
    fi
    cmd_install
    exec java "${TOOL_JVM_OPTS[@]}" -Dlog4j2.configurationFile="$KHOME/log4j2-tools.xml" \
        -cp "$(classpath)" "$cls" "$@"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

read_pid() { cat "$1/kafka.pid" 2>/dev/null || true; }

# A Kafka UUID: 16 random bytes, base64url without padding.
# Like Kafka's Uuid.randomUuid, never one starting with '-' (it would read as
# an option on the storage tool's command line).
random_uuid() {
    local u
    while :; do
        u="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        [[ "$u" == -* ]] || break
    done
    echo "$u"
}

cmd_start() {
    [ $# -ge 2 ] || die "usage: kafka.sh start <dir> <port> [k=v ...]"
    local dir="$1" port="$2"
    shift 2
    cmd_install
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    local old
    old="$(read_pid "$dir")"
    if pid_alive "$old"; then die "a broker is already running from $dir (pid $old)"; fi
    local cport=$((port + 1))

    # Defaults, then the caller's k=v (same key: caller wins). Keys keep order.
    declare -A conf=()
    local -a keys=()
    setk() {
        if [ -z "${conf[$1]+x}" ]; then keys+=("$1"); fi
        conf[$1]="$2"
    }
    setk process.roles broker,controller
    setk node.id 1
    setk controller.quorum.voters "1@127.0.0.1:$cport"
    setk controller.listener.names CONTROLLER
    setk inter.broker.listener.name PLAINTEXT
    setk listeners "PLAINTEXT://127.0.0.1:$port"
    setk listener.security.protocol.map PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
    setk log.dirs "$dir/data"
    setk num.partitions 1
    setk offsets.topic.replication.factor 1
    setk offsets.topic.num.partitions 1
    setk transaction.state.log.replication.factor 1
    setk transaction.state.log.min.isr 1
    setk transaction.state.log.num.partitions 1
    setk share.coordinator.state.topic.replication.factor 1
    setk share.coordinator.state.topic.min.isr 1
    setk group.initial.rebalance.delay.ms 0
    setk num.network.threads 2
    setk num.io.threads 4
    local kv user_listeners=0 user_map=0
    for kv in "$@"; do
        [[ "$kv" == *=* ]] || die "bad config '$kv' (want key=value)"
        case "${kv%%=*}" in
        listeners) user_listeners=1 ;;
        listener.security.protocol.map) user_map=1 ;;
        esac
        setk "${kv%%=*}" "${kv#*=}"
    done
    # The controller listener is ours to add: callers name only client listeners.
    # A broker-only node (process.roles=broker, node.id=N,
    # controller.quorum.voters=1@host:port of a combined node) has no
    # controller listener of its own.
    if [[ ",${conf[process.roles]}," == *",controller,"* ]] &&
        [[ ",${conf[listeners]}" != *",CONTROLLER://"* ]]; then
        conf[listeners]="${conf[listeners]},CONTROLLER://127.0.0.1:$cport"
    fi
    if [ "$user_map" = 1 ] && [[ ",${conf[listener.security.protocol.map]}" != *",CONTROLLER:"* ]]; then
        conf[listener.security.protocol.map]="${conf[listener.security.protocol.map]},CONTROLLER:PLAINTEXT"
    fi
    if [ "$user_listeners" = 1 ] && [ "$user_map" = 0 ]; then
        # Every listener name the caller used maps to PLAINTEXT.
        local l names="" n
        IFS=',' read -ra ls <<<"${conf[listeners]}"
        for l in "${ls[@]}"; do
            n="${l%%://*}"
            names="${names:+$names,}$n:PLAINTEXT"
        done
        # The controller listener must be mapped even on a broker-only node.
        [[ ",$names" == *",CONTROLLER:"* ]] || names="$names,CONTROLLER:PLAINTEXT"
        conf[listener.security.protocol.map]="$names"
    fi
    {
        echo "# written by scripts/kafka.sh start"
        local k
        for k in "${keys[@]}"; do echo "$k=${conf[$k]}"; done
    } >"$dir/server.properties"

    # A port someone else holds would make the readiness probe below talk to
    # their broker: refuse up front.
    local l a
    IFS=',' read -ra ls <<<"${conf[listeners]}"
    for l in "${ls[@]}"; do
        a="${l#*://}"
        local h="${a%:*}"
        [ -n "$h" ] && [ "$h" != 0.0.0.0 ] || h=127.0.0.1
        # (a broker just killed may hold it for a moment while exiting)
        local tries=0
        while (exec 3<>"/dev/tcp/$h/${a##*:}") 2>/dev/null; do
            tries=$((tries + 1))
            [ $tries -lt 50 ] || die "port ${a##*:} on $h is already in use"
            sleep 0.1
        done
    done

    local logdir="${conf[log.dirs]%%,*}"
    mkdir -p "$dir/logs"
    local -a jvm=(-Xmx"${KAFKA_HEAP_MAX:-512m}" -Xms128m -XX:+UseSerialGC -Xshare:auto
        -Djava.awt.headless=true -Dkafka.logs.dir="$dir/logs"
        -Dlog4j2.configurationFile="$KHOME/log4j2-broker.xml")
    if [ ! -f "$logdir/meta.properties" ]; then
        java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
            -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$KHOME/log4j2-tools.xml" \
            -cp "$(classpath)" kafka.tools.StorageTool format -t "${KAFKA_CLUSTER_ID:-$(random_uuid)}" \
            -c "$dir/server.properties" --ignore-formatted >"$dir/format.out" 2>&1 ||
            { cat "$dir/format.out" >&2; die "storage format failed"; }
    fi
    setsid java "${jvm[@]}" -cp "$(classpath)" kafka.Kafka "$dir/server.properties" \
        </dev/null >>"$dir/kafka.out" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/kafka.pid"

    # Ready = the client port answers a Metadata request listing this broker.
    local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120}))
    local first="${conf[listeners]%%,*}"
    local addr="${first#*://}"
    local host="${addr%:*}"
    local p="${addr##*:}"
    [ -n "$host" ] && [ "$host" != 0.0.0.0 ] || host=127.0.0.1
    while :; do
        if ! pid_alive "$pid"; then
            tail -n 40 "$dir/kafka.out" "$dir/logs/server.log" >&2 2>/dev/null || true
            die "broker exited during start (see $dir/kafka.out, $dir/logs/server.log)"
        fi
        if (exec 3<>"/dev/tcp/$host/$p") 2>/dev/null; then
            if kcat -L -b "$host:$p" -m 3 2>/dev/null | grep -q "broker ${conf[node.id]} at" && pid_alive "$pid"; then
                break
            fi
        fi
        if [ $SECONDS -ge $deadline ]; then
            kill -9 "$pid" 2>/dev/null || true
            tail -n 40 "$dir/logs/server.log" >&2 2>/dev/null || true
            die "broker did not answer on $host:$p within ${KAFKA_START_TIMEOUT:-120}s"
        fi
        sleep 0.2
    done
    echo "$pid"
}

wait_exit() { # pid seconds
    local i=0
    while pid_alive "$1" && [ $i -lt $(($2 * 10)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    ! pid_alive "$1"
}

cmd_stop() {
    [ $# -ge 1 ] || die "usage: kafka.sh stop <dir>"
    local pid
    pid="$(read_pid "$1")"
    if pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_exit "$pid" "${KAFKA_STOP_TIMEOUT:-60}"; then
            echo "kafka.sh: broker $pid ignored SIGTERM; killing" >&2
            kill -KILL "$pid" 2>/dev/null || true
            wait_exit "$pid" 10 || true
        fi
    fi
    rm -f "$1/kafka.pid"
}

cmd_kill9() {
    [ $# -ge 1 ] || die "usage: kafka.sh kill9 <dir>"
    local pid
    pid="$(read_pid "$1")"
    if pid_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_exit "$pid" 30 || die "pid $pid survived SIGKILL"
    fi
    rm -f "$1/kafka.pid"
}

main() {
case "${1:-}" in
install) cmd_install ;;
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
kill9) shift; cmd_kill9 "$@" ;;
tool) shift; cmd_tool "$@" ;;
tools) for t in $TOOL_NAMES; do echo "kafka-$t"; done ;;
classpath) classpath ;;
cluster-id)
    [ $# -ge 2 ] || die "usage: kafka.sh cluster-id <dir>"
    f="$(sed -n 's/^log.dirs=\([^,]*\).*/\1/p' "$2/server.properties")/meta.properties"
    sed -n 's/^cluster.id=//p' "$f"
    ;;
*)
    sed -n '2,/^set -e/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
}

# Everything above is parsed before anything runs: editing this file while a
# broker is starting cannot change a running invocation.
main "$@"
exit $?
