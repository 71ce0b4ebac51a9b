#!/usr/bin/env bash
# Builds Racket and runs every test with g++ (build/gcc) and clang++ (build/clang): unit tests,
# multicast tests in private network namespaces, and the CMake consumer tests.
# Usage: scripts/test.sh [PRESET...]   (default: gcc clang; also asan, tsan)
#   gcc, clang  Release (-O3), what a plain `cmake -DCMAKE_BUILD_TYPE=Release` build makes
#   asan        clang++ with AddressSanitizer + UndefinedBehaviorSanitizer, every test
#   tsan        clang++ with ThreadSanitizer, every test
# Environment:
#   RACKET_CMAKE_ARGS_<PRESET>  extra cache entries for that preset's configure step
#                  (PRESET upper-cased, e.g. RACKET_CMAKE_ARGS_ASAN="-Dasio_ROOT=/opt/asio
#                  -DRACKET_BUILD_EXAMPLES=ON"; split on spaces). CI (.ci/run) builds asan and
#                  tsan against other asio and xxHash releases this way. Like every -D, they
#                  stay in build/<preset>'s cache: delete that directory to go back.
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
  extra_var="RACKET_CMAKE_ARGS_$(printf '%s' "$preset" | tr '[:lower:]-' '[:upper:]_')"
  extra=()
  if [ -n "${!extra_var:-}" ]; then
    read -r -a extra <<<"${!extra_var}"
    echo "=== ${preset}: ${extra_var}: ${extra[*]}"
  fi
  start=$SECONDS
  if cmake --preset "$preset" "${extra[@]}" &&
     cmake --build --preset "$preset" &&
     ctest --preset "$preset"; then
    echo "=== ${preset}: passed ($((SECONDS - start)) s) ==="
  else
    echo "=== ${preset}: FAILED ($((SECONDS - start)) s) ==="
    failed+=("$preset")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "test.sh: all passed (${presets[*]})"
