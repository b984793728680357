#!/usr/bin/env bash
# make bench: side-by-side benchmark of Sluice against Apache Kafka 4.3.1.
# Builds the librdkafka load client (bench/rdperf.c -> build/bench/rdperf)
# and the null broker (bench/nullbroker.c -> build/bench/nullbroker),
# installs Kafka's jars (scripts/kafka.sh install), then runs bench/bench.py,
# which prints the table and writes docs/benchmarks.md.
#   BENCH_QUICK=1 make bench     a few-minute run
#   BENCH_RUNS=5 make bench      runs per figure (default 3, quick 1)
# More knobs (BENCH_STARTUP_MB, BENCH_PARTS, BENCH_ONLY, BENCH_SLUICE) are
# described at the top of bench/bench.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CC="${CC:-cc}"
mkdir -p build/bench
if [ ! -x build/bench/rdperf ] || [ bench/rdperf.c -nt build/bench/rdperf ]; then
    # shellcheck disable=SC2046
    $CC -std=c17 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE bench/rdperf.c \
        -o build/bench/rdperf $(pkg-config --cflags --libs rdkafka) -lpthread
fi
# The null broker (the load client's ceiling) links the codecs of libsluice.
make -s build/bench/nullbroker
scripts/kafka.sh install
# Benchmark a private copy: others may rebuild build/sluice during the run.
if [ -z "${SLUICE_BIN:-}" ] && [ -x build/sluice ]; then
    cp build/sluice build/bench/sluice
    export SLUICE_BIN="$ROOT/build/bench/sluice"
fi
PY=python3
# confluent-kafka (Admin API) comes from the test venv (made here when
# missing; without it topics are created with kafka-topics, slower).
[ -x build/venv/bin/python ] || make venv >&2 || echo "bench: no venv, using python3" >&2
if [ -x build/venv/bin/python ]; then PY=build/venv/bin/python; fi
echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2
exec "$PY" bench/bench.py "$@"
