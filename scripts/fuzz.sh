#!/bin/sh
# fuzz.sh smoke|long BIN...  - runs each libFuzzer target over its committed
# seed corpus (fuzz/corpus/<name>) plus new inputs. smoke: ~30 s in total.
set -e
mode=$1; shift
n=$#
[ "$n" -gt 0 ] || { echo "fuzz: no targets"; exit 0; }
if [ "$mode" = smoke ]; then per=$(( 30 / n )); [ "$per" -ge 3 ] || per=3; else per=${FUZZ_SECONDS:-300}; fi
for bin in "$@"; do
  name=$(basename "$bin")
  seeds=fuzz/corpus/$name
  work=build/fuzz/corpus-$name
  mkdir -p "$work"
  echo "fuzz: $name for ${per}s"
  if ! "$bin" -max_total_time="$per" -max_len=65536 -rss_limit_mb=1024 \
        -print_final_stats=0 "$work" "$seeds" >build/fuzz/$name.log 2>&1; then
    tail -50 build/fuzz/$name.log
    echo "fuzz: $name FAILED (reproducer in the log above)"
    exit 1
  fi
  tail -1 build/fuzz/$name.log
done
echo "fuzz: all targets ran clean"
