#!/bin/sh
# Dumps Apache Kafka's configuration definitions (ConfigDump.java) as JSON
# lines, using the Kafka jars in build/kafka/libs (or $KAFKA_LIBS).
# Usage: tools/kafka-configdef/dump.sh > tools/kafka-configdef/kafka-4.3.1-configs.jsonl
set -e
here=$(cd "$(dirname "$0")" && pwd)
libs=${KAFKA_LIBS:-$here/../../build/kafka/libs}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
javac -nowarn -d "$out" -cp "$libs/*" "$here/ConfigDump.java"
exec java -Xmx256m -cp "$out:$libs/*" ConfigDump
