#!/usr/bin/env bash
# Builds the sender and receiver examples and runs the demo (examples/demo.sh) inside a
# private network namespace, so no packet reaches the machine's real interfaces.
# SPDX-License-Identifier: MIT
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/setup-deps.sh

if [ ! -f examples/demo.sh ]; then
  echo "demo.sh: the demo (examples/demo.sh) is not there yet; nothing to run"
  exit 0
fi

build="$root/build/demo"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRACKET_BUILD_EXAMPLES=ON -DRACKET_BUILD_TESTS=OFF -DRACKET_BUILD_BENCHMARKS=OFF
cmake --build "$build" -j2

# examples/demo.sh finds the programs through RACKET_BUILD_DIR.
export RACKET_BUILD_DIR="$build"
status=0
tests/tools/in_netns.sh bash examples/demo.sh "$@" || status=$?
if [ "$status" -eq 77 ]; then
  echo "demo.sh: no private network namespace could be made, so the demo did not run"
fi
exit "$status"
