#!/bin/sh
# Installs the Debian packages the build and the tests need, when missing.
# As root it runs apt-get; otherwise it prints the exact install line and stops.
set -e
PKGS="build-essential pkg-config clang clang-format clang-tidy cppcheck \
libzstd-dev liblz4-dev zlib1g-dev libssl-dev libsnappy-dev librdkafka-dev \
kcat python3 python3-venv python3-pip openjdk-17-jre-headless maven \
libclang-rt-14-dev iproute2 curl"
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
