#!/usr/bin/env bash
# Builds Racket's libFuzzer targets (clang++, -fsanitize=fuzzer,address,undefined) and runs
# each for a fixed time, starting from the seed corpora in fuzz/corpus/<target>/.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60 (CI uses this short run); targets default to all:
#                       wire subject pool subscriber reassembly, and sealed when libsodium
#                       is found (the sealed datagram, racket/security/sealer.hpp)
# Environment:
#   RACKET_FUZZ_BUILD   build directory (default build/fuzz)
#   RACKET_FUZZ_JOBS    parallel libFuzzer workers per target (default 1)
#   RACKET_FUZZ_ARGS    extra libFuzzer flags
#
# New inputs the fuzzer finds go to $RACKET_FUZZ_BUILD/corpus/<target>/ (the checked-in
# seeds are only read). A crash leaves crash-*/leak-*/timeout-* files in
# $RACKET_FUZZ_BUILD/artifacts/<target>/, makes this script fail, and becomes a regression
# test (tests/core or tests/net). Reproduce one with:
#   build/fuzz/fuzz/fuzz_wire build/fuzz/artifacts/wire/crash-...
#
# Long run (hours, both cores, keeping what it learns across runs):
#   RACKET_FUZZ_JOBS=2 RACKET_FUZZ_ARGS="-max_total_time=0" scripts/fuzz.sh 14400
# SPDX-License-Identifier: MIT
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds="${1:-60}"
shift || true
targets=("$@")
default_targets=
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(wire subject pool subscriber reassembly)
  default_targets=1
fi
build="${RACKET_FUZZ_BUILD:-$root/build/fuzz}"
jobs="${RACKET_FUZZ_JOBS:-1}"
parallel=()
if [ "$jobs" -gt 1 ]; then
  # libFuzzer then runs workers in subprocesses, each logging to fuzz-N.log in the cwd.
  parallel=(-jobs="$jobs" -workers="$jobs")
fi

echo "=== fuzz: configure and build (${build}) ==="
cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRACKET_BUILD_FUZZERS=ON -DRACKET_BUILD_TESTS=OFF -DRACKET_BUILD_EXAMPLES=OFF \
  -DRACKET_BUILD_BENCHMARKS=OFF -DRACKET_INSTALL=OFF >/dev/null
if [ -n "$default_targets" ] && cmake --build "$build" --target help | grep -q 'fuzz_sealed'; then
  targets+=(sealed)  # the configure step found libsodium
fi
cmake --build "$build" -j 2 --target $(printf 'fuzz_%s ' "${targets[@]}")

failed=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  log="$build/fuzz_$t.log"
  mkdir -p "$corpus" "$artifacts"
  echo "=== fuzz_$t: ${seconds}s ==="
  # -rss_limit_mb: every target must stay far below it on any input.
  # -timeout: no input may take a second (the decoder is linear; the subscriber is bounded).
  if ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}" \
     UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
     "$build/fuzz/fuzz_$t" "$corpus" "fuzz/corpus/$t" \
       -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
       -artifact_prefix="$artifacts/" "${parallel[@]}" \
       ${RACKET_FUZZ_ARGS:-} >"$log" 2>&1; then
    # One summary line: executions, coverage (cov: edges, ft: features), corpus size.
    grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
    echo "=== fuzz_$t: passed ==="
  else
    tail -n 60 "$log"
    echo "=== fuzz_$t: FAILED (log: $log, artifacts: $artifacts) ==="
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz.sh: all passed (${targets[*]}, ${seconds}s each)"
