#!/bin/sh
# scripts/bench.sh [--quick]
#
# Builds the benchmark in Release (-O2 -DNDEBUG) under build/bench and runs it inside a
# private network namespace whose only interface is `lo`, so nothing it sends can leave the
# machine. Prints one table (Markdown) and writes build/bench/results.json.
# Method and the latest figures: docs/performance.md. Takes seven to eight minutes.
# SPDX-License-Identifier: MIT
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/bench"
jobs=${RACKET_BENCH_JOBS:-2}

# What the build needs, and the ZeroMQ and Cyclone DDS packages of the comparison rows.
bash "$root/scripts/setup-deps.sh" --bench

generator=
command -v ninja >/dev/null 2>&1 && generator="-G Ninja"
# shellcheck disable=SC2086
cmake -S "$root" -B "$build" $generator \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DRACKET_BUILD_TESTS=OFF -DRACKET_BUILD_EXAMPLES=OFF -DRACKET_BUILD_BENCHMARKS=ON \
  -DRACKET_INSTALL=OFF >/dev/null
cmake --build "$build" --target racket_bench wire_bench -j "$jobs"

bench="$build/bench/racket_bench"
setup='ip link set lo up'
if unshare -n sh -c "$setup" 2>/dev/null; then
  ns=-n
elif unshare -rn sh -c "$setup" 2>/dev/null; then
  ns=-rn
else
  echo "SKIP: cannot create a private network namespace; the benchmark never runs on the host network" >&2
  exit 77
fi

echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)"
# Both processes of every two-process measurement are forked by racket_bench, so they share
# this one namespace; racket_bench itself refuses to send if it sees any interface but lo.
unshare $ns sh -c "$setup && b=\$0 && j=\$1 && shift && exec \"\$b\" --json \"\$j\" \"\$@\"" \
  "$bench" "$build/results.json" "$@"
echo
echo "JSON: $build/results.json"
