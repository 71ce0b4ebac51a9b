#!/usr/bin/env bash
# Installs the Debian 12 packages Racket's build, tests and demo need (and libzmq3-dev,
# cyclonedds-dev and cyclonedds-tools, for the benchmark's ZeroMQ and Cyclone DDS comparison
# rows; the tools package has idlc, which makes the DDS sample type's code). Does nothing (and
# needs no network) when they are all installed already. Run as root, or with sudo available.
# SPDX-License-Identifier: MIT
set -euo pipefail

packages=(
  cmake ninja-build g++ clang
  libasio-dev libxxhash-dev catch2
  iproute2 nftables util-linux procps jq python3
  libclang-rt-14-dev
  libzmq3-dev
  cyclonedds-dev cyclonedds-tools
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-deps: all packages present"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
