#!/bin/sh
# run.sh [N] - cross-check src/proto against Apache Kafka's codecs: random
# valid encodings of every (message, version) from our engine are read and
# re-written by the kafka-clients/metadata/coordinator jars (Kafka 4.3.1,
# installed by scripts/kafka.sh under build/kafka/libs) and must come back
# byte-identical. Prints one line per mismatch and a summary.
# Expected leftovers: the jars are newer than ../shared/kafka-spec (4.0), so
# tags our spec does not know yet ("Tag N is not valid for version V") and
# records changed since (share-group, some coordinator values) differ.
set -e
cd "$(dirname "$0")/../.."
libs=${KAFKA_LIBS:-build/kafka/libs}
[ -d "$libs" ] || { echo "protocheck: no $libs (run scripts/kafka.sh install)"; exit 1; }
work=build/protocheck
rm -rf "$work" && mkdir -p "$work/out"
cc -std=c17 -O1 -D_GNU_SOURCE -Isrc -o "$work/dump" tools/protocheck/dump.c \
   src/core/*.c src/proto/*.c src/proto/gen/*.c -lpthread -lm
"$work/dump" "${1:-4}" "$work/out"
javac -d "$work" -cp "$libs/*" tools/protocheck/XCheck.java
java -cp "$libs/*:$work" XCheck "$libs" "$work/out" 2>/dev/null | grep -v -e '^UNSUPPORTED-IN-JAVA' -e '^MISSING'
