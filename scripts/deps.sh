#!/bin/sh
# Installs the Debian packages of one group, when missing:
#   scripts/deps.sh build   the broker's build: the compiler and the libraries
#                           build/sluice links (make broker, make)
#   scripts/deps.sh tools   librdkafka, for build/sluice-tools (make)
#   scripts/deps.sh test    what only the tests, linters, fuzzers and the
#                           benchmark use (make test, lint, fuzz, bench ...)
# With no group, all three. The Makefile asks for each group from the targets
# that need it. As root it runs apt-get; otherwise it prints the exact install
# line and stops.
set -e
BUILD_PKGS="build-essential pkg-config \
libzstd-dev liblz4-dev zlib1g-dev libssl-dev libsnappy-dev"
TOOLS_PKGS="librdkafka-dev"
TEST_PKGS="clang clang-format clang-tidy cppcheck kcat \
python3 python3-venv python3-pip openjdk-17-jre-headless maven \
libclang-rt-14-dev iproute2 curl"
PKGS=""
[ $# -eq 0 ] && set -- build tools test
for g in "$@"; do
  case "$g" in
    build) PKGS="$PKGS $BUILD_PKGS";;
    tools) PKGS="$PKGS $TOOLS_PKGS";;
    test) PKGS="$PKGS $TEST_PKGS";;
    *) echo "deps: unknown group '$g' (build, tools, test)" >&2; exit 2;;
  esac
done
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# A JDK that is not Debian's (the machine's Temurin) is fine for the tests.
case "$missing" in *openjdk-17-jre-headless*) command -v java >/dev/null && missing=$(echo "$missing" | sed 's/openjdk-17-jre-headless//');; esac
case "$missing" in *maven*) command -v mvn >/dev/null && missing=$(echo "$missing" | sed 's/maven//');; esac
missing=$(echo $missing)
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq $missing >/dev/null
else
  echo "deps: missing Debian packages. Install them with:"
  echo "  sudo apt-get install -y $missing"
  exit 1
fi
