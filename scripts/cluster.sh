#!/usr/bin/env bash
# A local three-node cluster on one machine: the three combined
# (broker,controller) nodes of config/cluster/node-{1,2,3}.properties, the
# equivalent of the three-broker docker-compose files of the common Kafka
# images, as three processes.
#
#   scripts/cluster.sh start [--kafka]   format (first start) and start the
#                                        three nodes, wait until every node
#                                        answers Metadata and the quorum has
#                                        a leader; print the bootstrap list
#   scripts/cluster.sh stop [--now]      SIGTERM each node, wait for it to
#                                        exit (SIGKILL after CLUSTER_STOP_TIMEOUT);
#                                        --now: a second SIGTERM, a clean stop
#                                        without controlled shutdown
#   scripts/cluster.sh status            each node's pid and the quorum
#   scripts/cluster.sh kill9 <n>         kill -9 node n (for trying failover)
#   scripts/cluster.sh start-node <n>    start node n again
#   scripts/cluster.sh add-broker <n> <port>
#                                        a broker-only node n (4, 5, ...)
#                                        on that client port, following the
#                                        three controllers
#
# With --kafka the same files run on Apache Kafka 4.3.1 (scripts/kafka.sh
# installs it; formatted with `kafka-storage format`), for comparison.
#
# Environment:
#   CLUSTER_DIR    where node-N.properties (the shipped file with this
#                  directory's data dirs and ports), node-N.log, node-N.pid,
#                  data-N/ and cluster.id live (default ./sluice-cluster)
#   CLUSTER_PORTS  the three client ports (default "19092 29092 39092");
#                  each node's controller listener is its port + 1
#   SLUICE_BIN     the broker binary (default build/sluice)
#   CLUSTER_START_TIMEOUT, CLUSTER_STOP_TIMEOUT   seconds (120, 60)
#   KAFKA_HEAP_MAX  each Kafka node's -Xmx (512m: its log cleaner alone
#                  takes 128 MiB of heap at start)
#   CLUSTER_PROPS  extra key=value settings (separated by spaces) appended
#                  to every node's file, e.g. shorter session timeouts
#   CLUSTER_PROPS_<n>  more settings for node n alone (after CLUSTER_PROPS),
#                  e.g. CLUSTER_PROPS_2="broker.rack=r2"; also for nodes
#                  added with add-broker
#   CLUSTER_ROLES  "controller": nodes 1-3 are controller-only
#                  (process.roles=controller, their controller listener
#                  alone), the production layout; brokers are then the
#                  nodes added with add-broker (default: combined nodes)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${CLUSTER_DIR:-$PWD/sluice-cluster}"
read -ra PORTS <<<"${CLUSTER_PORTS:-19092 29092 39092}"
BIN="${SLUICE_BIN:-$ROOT/build/sluice}"
NODES=(1 2 3)

die() { echo "cluster.sh: $*" >&2; exit 1; }
pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
node_pid() { cat "$DIR/node-$1.pid" 2>/dev/null || true; }
port_of() {
    if [ "$1" -le 3 ]; then echo "${PORTS[$(($1 - 1))]}"; else cat "$DIR/node-$1.port"; fi
}
# Every node of this cluster: the three, and brokers added with add-broker.
all_nodes() {
    local f n out=" ${NODES[*]} "
    for f in "$DIR"/node-*.properties; do
        [ -e "$f" ] || continue
        n="${f##*/node-}"
        n="${n%.properties}"
        [[ "$out" == *" $n "* ]] || out="$out$n "
    done
    echo $out
}

# The shipped combined node-N file for this directory and these ports.
render_config() {
    local n="$1" m text
    text="$(cat "$ROOT/config/cluster/node-$n.properties")"
    for m in "${NODES[@]}"; do
        text="${text//:${m}9092/:$(port_of "$m")}"
        text="${text//:${m}9093/:$(($(port_of "$m") + 1))}"
    done
    printf '%s\n' "$text" | sed "s|^log\.dirs=.*|log.dirs=$DIR/data-$n|"
    local kv own="CLUSTER_PROPS_$n"
    for kv in ${CLUSTER_PROPS:-}; do printf '%s\n' "$kv"; done
    [ "${2:-}" = shared-only ] && return 0
    for kv in ${!own:-}; do printf '%s\n' "$kv"; done
}

roles() { cat "$DIR/roles" 2>/dev/null || echo "broker,controller"; }
controller_only() { [ "$1" -le 3 ] && [ "$(roles)" = controller ]; }

# node-N.properties: the combined file, or with CLUSTER_ROLES=controller a
# controller-only node (Kafka's rules: only controller listeners, no
# inter.broker.listener.name naming one).
write_config() {
    local n="$1" c=$(($(port_of "$1") + 1))
    if controller_only "$n"; then
        render_config "$n" | sed -e "s|^process\.roles=.*|process.roles=controller|" \
            -e "s|^listeners=.*|listeners=CONTROLLER://:$c|" \
            -e "s|^advertised\.listeners=.*|advertised.listeners=CONTROLLER://localhost:$c|" \
            -e "/^inter\.broker\.listener\.name=/d" >"$DIR/node-$n.properties"
    else
        render_config "$n" >"$DIR/node-$n.properties"
    fi
}

kind() { cat "$DIR/kind" 2>/dev/null || echo sluice; }

# node-N.properties of a broker-only node N on a client port: node 1's file
# with the broker role only, its own listener and data dir, following the
# three voters (Kafka's rules: not a voter, no controller listener).
write_broker_config() {
    local n="$1" port="$2" kv own="CLUSTER_PROPS_$1"
    render_config 1 shared-only | sed -e "s|^node\.id=.*|node.id=$n|" \
        -e "s|^process\.roles=.*|process.roles=broker|" \
        -e "s|^listeners=.*|listeners=PLAINTEXT://:$port|" \
        -e "s|^advertised\.listeners=.*|advertised.listeners=PLAINTEXT://localhost:$port|" \
        -e "s|^log\.dirs=.*|log.dirs=$DIR/data-$n|" >"$DIR/node-$n.properties"
    for kv in ${!own:-}; do printf '%s\n' "$kv" >>"$DIR/node-$n.properties"; done
    echo "$port" >"$DIR/node-$n.port"
}

start_node() {
    local n="$1" old
    old="$(node_pid "$n")"
    if pid_alive "$old"; then die "node $n is already running (pid $old)"; fi
    if [ "$(kind)" = kafka ]; then
        mkdir -p "$DIR/logs-$n"
        detach "$n" java -Xmx"${KAFKA_HEAP_MAX:-512m}" -Xms64m -XX:+UseSerialGC -Xshare:auto \
            -Djava.awt.headless=true -Dkafka.logs.dir="$DIR/logs-$n" \
            -Dlog4j2.configurationFile="$ROOT/build/kafka/log4j2-broker.xml" \
            -cp "$("$ROOT/scripts/kafka.sh" classpath)" kafka.Kafka "$DIR/node-$n.properties"
    else
        # Sluice formats a node's storage at its first start with CLUSTER_ID
        # (the container images' variable); Kafka's format is done below.
        CLUSTER_ID="$(cat "$DIR/cluster.id")" detach "$n" "$BIN" server "$DIR/node-$n.properties"
    fi
    local i=0
    while [ ! -s "$DIR/node-$n.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}

# Runs a node in its own session (a terminal's ^C does not reach it), its
# own pid in node-N.pid, output appended to node-N.log, from $DIR.
detach() {
    local n="$1"
    shift
    rm -f "$DIR/node-$n.pid"
    (cd "$DIR" && exec setsid sh -c 'echo $$ >"$0"; exec "$@"' "$DIR/node-$n.pid" "$@" \
        </dev/null >>"$DIR/node-$n.log" 2>&1 &)
}

# Every node answers Metadata listing itself.
wait_ready() {
    local deadline=$((SECONDS + ${CLUSTER_START_TIMEOUT:-120})) n p
    for n in "$@"; do
        p="$(port_of "$n")"
        # a controller-only node answers no Metadata: the quorum check
        # below covers it
        controller_only "$n" && continue
        while :; do
            pid_alive "$(node_pid "$n")" ||
                { tail -n 30 "$DIR/node-$n.log" >&2; die "node $n exited (see $DIR/node-$n.log)"; }
            if kcat -L -b "127.0.0.1:$p" -m 3 2>/dev/null | grep -q "broker $n at"; then
                break
            fi
            [ $SECONDS -lt $deadline ] || die "node $n did not answer on port $p"
            sleep 0.3
        done
    done
    # and the quorum has a leader (any node's DescribeQuorum names one)
    while :; do
        for n in "${NODES[@]}"; do
            pid_alive "$(node_pid "$n")" || continue
            if quorum "$n" describe --status 2>/dev/null | grep -q '^LeaderId:[[:space:]]*[0-9]'; then
                return 0
            fi
        done
        [ $SECONDS -lt $deadline ] || die "no quorum leader within ${CLUSTER_START_TIMEOUT:-120}s"
        sleep 0.3
    done
}

quorum() { # node args...
    local n="$1"
    shift
    if controller_only "$n"; then
        "$ROOT/build/kafka-metadata-quorum.sh" --bootstrap-controller \
            "127.0.0.1:$(($(port_of "$n") + 1))" "$@"
    else
        "$ROOT/build/kafka-metadata-quorum.sh" --bootstrap-server "127.0.0.1:$(port_of "$n")" "$@"
    fi
}

bootstrap() {
    local n s=""
    for n in "${NODES[@]}"; do
        if controller_only "$n"; then
            s="${s:+$s,}127.0.0.1:$(($(port_of "$n") + 1))"
        else
            s="${s:+$s,}127.0.0.1:$(port_of "$n")"
        fi
    done
    echo "$s"
}

cmd_start() {
    local want=sluice
    [ "${1:-}" = --kafka ] && want=kafka
    mkdir -p "$DIR"
    DIR="$(cd "$DIR" && pwd)"
    if [ -f "$DIR/kind" ] && [ "$(kind)" != "$want" ]; then
        die "$DIR holds a $(kind) cluster; stop it and use another CLUSTER_DIR"
    fi
    echo "$want" >"$DIR/kind"
    [ -f "$DIR/roles" ] || echo "${CLUSTER_ROLES:-broker,controller}" >"$DIR/roles"
    [ -f "$DIR/cluster.id" ] || head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' |
        sed 's/^-/A/' >"$DIR/cluster.id"
    local n
    for n in "${NODES[@]}"; do
        write_config "$n"
        if [ "$want" = kafka ] && [ ! -f "$DIR/data-$n/meta.properties" ]; then
            "$ROOT/scripts/kafka.sh" tool kafka-storage format -t "$(cat "$DIR/cluster.id")" \
                -c "$DIR/node-$n.properties" >>"$DIR/node-$n.log" 2>&1 ||
                die "kafka-storage format failed for node $n (see $DIR/node-$n.log)"
        fi
    done
    for n in "${NODES[@]}"; do start_node "$n"; done
    wait_ready "${NODES[@]}"
    if [ "$(roles)" = controller ]; then
        echo "cluster $(cat "$DIR/cluster.id") is up: bootstrap controllers $(bootstrap) (add brokers with add-broker)"
    else
        echo "cluster $(cat "$DIR/cluster.id") is up: bootstrap servers $(bootstrap)"
    fi
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
    local n pid
    for n in $(all_nodes); do
        pid="$(node_pid "$n")"
        # a node stopped with SIGSTOP takes SIGTERM only once continued
        pid_alive "$pid" && kill -CONT "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
    done
    # --now: a second SIGTERM, which a Sluice node takes as "stop at once":
    # a clean stop that does not wait for the controller to approve the
    # controlled shutdown (all nodes stopping together leave no quorum to
    # approve it, so each would wait broker.session.timeout.ms)
    if [ "${1:-}" = --now ] && [ "$(kind)" = sluice ]; then
        sleep 0.3
        for n in $(all_nodes); do
            pid="$(node_pid "$n")"
            pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
        done
    fi
    for n in $(all_nodes); do
        pid="$(node_pid "$n")"
        if pid_alive "$pid" && ! wait_exit "$pid" "${CLUSTER_STOP_TIMEOUT:-60}"; then
            echo "cluster.sh: node $n (pid $pid) ignored SIGTERM; killing" >&2
            kill -KILL "$pid" 2>/dev/null || true
            wait_exit "$pid" 10 || true
        fi
        rm -f "$DIR/node-$n.pid"
    done
    echo "cluster stopped"
}

cmd_status() {
    local n pid up=0
    for n in $(all_nodes); do
        pid="$(node_pid "$n")"
        if pid_alive "$pid"; then
            echo "node $n: running (pid $pid), 127.0.0.1:$(port_of "$n")"
            up=1
        else
            echo "node $n: stopped"
        fi
    done
    [ $up = 1 ] || return 0
    for n in "${NODES[@]}"; do
        pid_alive "$(node_pid "$n")" || continue
        quorum "$n" describe --status 2>/dev/null && return 0
    done
    echo "quorum: no leader answered"
}

case "${1:-}" in
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
status) cmd_status ;;
kill9)
    [ $# -eq 2 ] || die "usage: cluster.sh kill9 <n>"
    pid="$(node_pid "$2")"
    pid_alive "$pid" || die "node $2 is not running"
    kill -KILL "$pid"
    wait_exit "$pid" 30 || die "pid $pid survived SIGKILL"
    rm -f "$DIR/node-$2.pid"
    ;;
add-broker)
    [ $# -eq 3 ] || die "usage: cluster.sh add-broker <n> <port>"
    [ -f "$DIR/node-1.properties" ] || die "no cluster in $DIR (run start first)"
    [ "$2" -gt 3 ] 2>/dev/null || die "broker ids 1-3 are the voters; use 4 or more"
    write_broker_config "$2" "$3"
    if [ "$(kind)" = kafka ] && [ ! -f "$DIR/data-$2/meta.properties" ]; then
        "$ROOT/scripts/kafka.sh" tool kafka-storage format -t "$(cat "$DIR/cluster.id")" \
            -c "$DIR/node-$2.properties" >>"$DIR/node-$2.log" 2>&1 ||
            die "kafka-storage format failed for node $2 (see $DIR/node-$2.log)"
    fi
    start_node "$2"
    wait_ready "$2"
    ;;
start-node)
    [ $# -eq 2 ] || die "usage: cluster.sh start-node <n>"
    [ -f "$DIR/node-$2.properties" ] || die "no cluster in $DIR (run start first)"
    start_node "$2"
    wait_ready "$2"
    ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
