#!/usr/bin/env bash
# Profile Sluice's hot paths under the benchmark's load (issue 8, "then win").
#   bench/profile.sh [perf|callgrind|syscalls]   (default perf)
# Starts a private Sluice (build/bench/sluice-prof, a copy of build/sluice)
# on a free port with data under build/bench/prof, drives it with
# build/bench/rdperf (produce 1 KB x 6 partitions acks=1, then consume it
# back), and prints:
#   perf       top symbols (self time) per phase, from perf record -g
#   callgrind  top functions by instructions (valgrind, small volume)
#   syscalls   strace -c -w summary (wall time per syscall) per phase
# Output files stay in build/bench/prof/ for perf report / callgrind_annotate.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="${1:-perf}"
N="${PROF_RECORDS:-300000}"
[ "$MODE" = callgrind ] && N="${PROF_RECORDS:-30000}"
P=build/bench/prof
rm -rf "$P"
mkdir -p "$P"
[ -x build/bench/rdperf ] || bench/run.sh --help >/dev/null 2>&1 || true
cp build/sluice build/bench/sluice-prof
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
WRAP=()
[ "$MODE" = callgrind ] && WRAP=(valgrind --tool=callgrind --callgrind-out-file="$P/callgrind.out")
"${WRAP[@]}" build/bench/sluice-prof server --override listeners=PLAINTEXT://127.0.0.1:$PORT \
    --override log.dirs="$P/data" >"$P/sluice.out" 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null || true; wait $SPID 2>/dev/null || true' EXIT
for _ in $(seq 200); do
    kcat -L -b 127.0.0.1:$PORT -m 1 >/dev/null 2>&1 && break
    sleep 0.1
done
PY=python3
[ -x build/venv/bin/python ] && PY=build/venv/bin/python
$PY - "$PORT" <<'EOF'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": "127.0.0.1:" + sys.argv[1]})
for f in a.create_topics([NewTopic("prof", 6, 1)]).values():
    f.result(30)
EOF
phase() { # name, rdperf args...
    local name="$1"
    shift
    case "$MODE" in
    perf)
        perf record -g -p "$SPID" -o "$P/perf-$name.data" 2>/dev/null &
        local rec=$!
        sleep 0.3
        build/bench/rdperf "$@" | cut -c1-160
        kill -INT $rec
        wait $rec || true
        echo "== perf: $name (self time, top 25)"
        perf report -i "$P/perf-$name.data" --no-children --sort symbol --stdio 2>/dev/null |
            grep -E "^ +[0-9.]+%" | head -25 || true
        ;;
    syscalls)
        strace -c -w -f -p "$SPID" -o "$P/strace-$name.txt" &
        local st=$!
        sleep 0.3
        build/bench/rdperf "$@" | cut -c1-160
        kill -INT $st
        wait $st || true
        echo "== syscalls: $name"
        head -20 "$P/strace-$name.txt" || true
        ;;
    *) build/bench/rdperf "$@" | cut -c1-160 ;;
    esac
}
phase produce produce -b 127.0.0.1:$PORT -t prof -s 1024 -n "$N" -a 1
phase consume consume -b 127.0.0.1:$PORT -t prof -n "$N"
if [ "$MODE" = callgrind ]; then
    kill $SPID
    wait $SPID || true
    trap - EXIT
    callgrind_annotate "$P/callgrind.out" 2>/dev/null | head -40
fi
