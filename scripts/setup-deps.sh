#!/usr/bin/env bash
# scripts/setup-deps.sh [--bench]
#
# Installs the Debian 12 packages Racket's build, tests and demo need; with --bench also those
# of the benchmark's comparison rows (libzmq3-dev for ZeroMQ; cyclonedds-dev and
# cyclonedds-tools for Cyclone DDS, the tools package having idlc, which makes the DDS sample
# type's code), which only scripts/bench.sh asks for. Does nothing (and needs no network) when
# they are all installed already. Run as root, or with sudo available.
# SPDX-License-Identifier: MIT
set -euo pipefail

bench=
case "${1:-}" in
  "") ;;
  --bench) bench=1 ;;
  *)
    echo "usage: $0 [--bench]" >&2
    exit 2
    ;;
esac

packages=(
  cmake ninja-build g++ clang          # build
  libasio-dev libxxhash-dev catch2     # asio and xxHash (header only); Catch2 for the tests
  libsodium-dev                        # keyed streams (optional for users; the tests use it)
  libcli11-dev nlohmann-json3-dev      # the example programs only: command lines, JSON lines
  iproute2 nftables util-linux procps  # tests and demo: namespaces (unshare, ip), loss (nft)
  jq python3 pkgconf xxhash            # test scripts (xxhsum checks the receiver's xxh3); pkg-config finds cpp-httplib
  tshark git                           # tests: the Wireshark dissector; README's FetchContent
  libcpp-httplib-dev                   # the monitor program only: its HTTP server (pkg-config)
  libnats-dev nats-server              # the bridge program only: NATS C client (pkg-config); its tests
  chromium python3-prometheus-client   # monitor tests: the page in a headless browser, /metrics
  libclang-rt-14-dev                   # sanitizer (asan, tsan) and fuzz builds
)
if [ -n "$bench" ]; then
  packages+=(libzmq3-dev cyclonedds-dev cyclonedds-tools)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-deps: all packages present${bench:+ (benchmark comparisons included)}"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo env DEBIAN_FRONTEND=noninteractive)  # sudo would drop the exported variable
fi
# Non-interactive: debconf takes every question's default; for tshark's
# wireshark-common/install-setuid ("should non-superusers be able to capture packets?") that is
# "no" (dumpcap is not made setuid; the tests capture as root inside a namespace).
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
