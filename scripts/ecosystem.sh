#!/usr/bin/env bash
# The Kafka ecosystem programs as a new user gets them from Maven Central
# (Apache Kafka 4.3.1: Kafka Streams and its examples, Kafka Connect with the
# file connectors, MirrorMaker 2), for the scenario tests of
# tests/integration/test_ecosystem.py.
#
#   scripts/ecosystem.sh install             jars -> build/ecosystem/libs (idempotent)
#   scripts/ecosystem.sh classpath           print the classpath
#   scripts/ecosystem.sh run <class> args... run a main class (exec: same pid)
#
# run: small JVM (heap ECO_HEAP_MAX, default 256m; serial GC, C1 only for a
# quick start on few cores), log4j2 to stderr at ECO_LOG_LEVEL (default WARN;
# ECO_LOG_LEVEL=DEBUG shows the client protocol exchange), or as the log4j2
# file ECO_LOG4J says (e.g. DEBUG for one package only).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EHOME="${ECO_HOME_DIR:-$ROOT/build/ecosystem}"
LIBS="$EHOME/libs"
VERSION=4.3.1
# One jar of every artifact the pom names: all present = installed.
JARS="kafka-streams-$VERSION kafka-streams-examples-$VERSION connect-runtime-$VERSION
connect-file-$VERSION connect-json-$VERSION connect-mirror-$VERSION
connect-mirror-client-$VERSION log4j-core-2.24.3 log4j-slf4j-impl-2.24.3"

die() { echo "ecosystem.sh: $*" >&2; exit 1; }

installed() {
    local j
    for j in $JARS; do [ -f "$LIBS/$j.jar" ] || return 1; done
    [ -f "$EHOME/log4j2.xml" ]
}

cmd_install() {
    installed && return 0
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
    # Concurrent installs (parallel test sessions) must not interleave.
    mkdir -p "$EHOME"
    exec 9>"$EHOME/.install.lock"
    flock 9
    installed && return 0
    echo "ecosystem.sh: fetching Kafka Streams, Connect and MirrorMaker $VERSION from Maven Central into $LIBS" >&2
    rm -rf "$LIBS.tmp"
    mkdir -p "$LIBS.tmp"
    mvn -q -B -f "$ROOT/scripts/ecosystem-pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime >&2
    rm -rf "$LIBS"
    mv "$LIBS.tmp" "$LIBS"
    cat >"$EHOME/log4j2.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR">
      <PatternLayout pattern="[%d] %p [%t] %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="${env:ECO_LOG_LEVEL:-WARN}"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
XML
}

classpath() {
    installed || die "not installed; run scripts/ecosystem.sh install"
    echo "$LIBS/*"
}

cmd_run() {
    [ $# -ge 1 ] || die "usage: ecosystem.sh run <main class> args..."
    cmd_install
    local cls="$1"
    shift
    exec java -Xmx"${ECO_HEAP_MAX:-256m}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="${ECO_LOG4J:-$EHOME/log4j2.xml}" \
        ${ECO_JVM_OPTS:-} -cp "$(classpath)" "$cls" "$@"
}

case "${1:-}" in
install) cmd_install ;;
classpath) classpath ;;
run) shift; cmd_run "$@" ;;
*)
    sed -n '2,/^set -e/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
