#!/bin/sh
# Runs `go` with the arguments given, for the Go test programs in tests/go.
# Uses the machine's go when it is 1.21 or newer (it then switches itself to
# the toolchain tests/go/go.mod asks for through the module proxy); otherwise
# fetches Go 1.26.8 from the module proxy (golang.org/toolchain) into
# build/go once.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
want=1.26.8
if command -v go >/dev/null 2>&1; then
  v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  major=$(echo "$v" | cut -d. -f1); minor=$(echo "$v" | cut -d. -f2)
  if [ "${major:-0}" -gt 1 ] || { [ "${major:-0}" -eq 1 ] && [ "${minor:-0}" -ge 21 ]; }; then
    exec go "$@"
  fi
fi
gobin="$root/build/go/bin/go"
if [ ! -x "$gobin" ]; then
  proxy=${GOPROXY:-https://proxy.golang.org}
  proxy=${proxy%%,*}
  arch=$(uname -m); case "$arch" in x86_64) arch=amd64;; aarch64) arch=arm64;; esac
  url="$proxy/golang.org/toolchain/@v/v0.0.1-go$want.linux-$arch.zip"
  echo "go.sh: fetching Go $want from $url" >&2
  mkdir -p "$root/build"
  tmp=$(mktemp -d "$root/build/go-dl.XXXXXX")
  curl -fsSL -o "$tmp/go.zip" "$url"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmp/go.zip" "$tmp/x"
  rm -rf "$root/build/go"
  mv "$tmp/x/golang.org/toolchain@v0.0.1-go$want.linux-$arch" "$root/build/go"
  chmod +x "$root/build/go/bin/"* "$root/build/go/pkg/tool/"*/* 2>/dev/null || true
  rm -rf "$tmp"
fi
GOTOOLCHAIN=local exec "$gobin" "$@"
