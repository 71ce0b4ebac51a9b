#!/usr/bin/env bash
# Builds Racket and runs every test with g++ (build/gcc) and clang++ (build/clang): unit tests,
# multicast tests in private network namespaces, and the CMake consumer tests.
# Usage: scripts/test.sh [PRESET...]   (default: gcc clang; also asan, tsan)
#   asan  clang++ with AddressSanitizer + UndefinedBehaviorSanitizer, every test
#   tsan  clang++ with ThreadSanitizer, every test
# Fuzzing is separate: scripts/fuzz.sh [SECONDS_PER_TARGET]. CI (.ci/run) runs all four
# presets and a short fuzz run.
# SPDX-License-Identifier: MIT
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/setup-deps.sh

presets=("$@")
if [ "${#presets[@]}" -eq 0 ]; then
  presets=(gcc clang)
fi

failed=()
for preset in "${presets[@]}"; do
  echo "=== ${preset}: configure, build, test ==="
  if cmake --preset "$preset" &&
     cmake --build --preset "$preset" &&
     ctest --preset "$preset"; then
    echo "=== ${preset}: passed ==="
  else
    echo "=== ${preset}: FAILED ==="
    failed+=("$preset")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "test.sh: all passed (${presets[*]})"
