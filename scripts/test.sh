#!/usr/bin/env bash
# Builds Racket and runs every test with g++ (build/gcc) and clang++ (build/clang): unit tests,
# multicast tests in private network namespaces, and the CMake consumer tests.
# Usage: scripts/test.sh [PRESET...]   (default: gcc clang; also asan, tsan)
#   gcc, clang  Release (-O3), what a plain `cmake -DCMAKE_BUILD_TYPE=Release` build makes
#               (but for the test files, compiled six to a translation unit, and the header
#               check racket_header_check: tests/test_batches.cmake, tests/header_check.cmake)
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

# A test that fails and then passes when run once more (alone, with its output) does not fail
# the preset, but it is named at the end of the log, under "flaky", for someone to fix: a
# network test under a loaded CI machine must not throw away a whole run, and must not be
# hidden either. A test that fails twice fails the preset.
failed=()
flaky=()
for preset in "${presets[@]}"; do
  echo "=== ${preset}: configure, build, test ==="
  extra_var="RACKET_CMAKE_ARGS_$(printf '%s' "$preset" | tr '[:lower:]-' '[:upper:]_')"
  extra=()
  if [ -n "${!extra_var:-}" ]; then
    read -r -a extra <<<"${!extra_var}"
    echo "=== ${preset}: ${extra_var}: ${extra[*]}"
  fi
  start=$SECONDS
  ok=
  if cmake --preset "$preset" "${extra[@]}" && cmake --build --preset "$preset"; then
    list="build/$preset/Testing/Temporary/LastTestsFailed.log"
    rm -f "$list"
    if ctest --preset "$preset"; then
      ok=1
    elif [ -s "$list" ]; then
      cp "$list" "build/$preset/first-try-failed.log"
      echo "=== ${preset}: failed on the first try, run once more: $(cut -d: -f2- "$list" | paste -sd '|')"
      if ctest --preset "$preset" --rerun-failed --output-on-failure; then
        ok=1
        while IFS= read -r line; do flaky+=("${preset}: ${line#*:}"); done <"build/$preset/first-try-failed.log"
      fi
    fi
  fi
  if [ -n "$ok" ]; then
    echo "=== ${preset}: passed ($((SECONDS - start)) s) ==="
  else
    echo "=== ${preset}: FAILED ($((SECONDS - start)) s) ==="
    failed+=("$preset")
  fi
done

rm -f build/flaky.txt
if [ "${#flaky[@]}" -ne 0 ]; then
  mkdir -p build
  printf '%s\n' "${flaky[@]}" >build/flaky.txt  # .ci/run repeats it at the very end
  echo "test.sh: flaky (failed, then passed alone; fix them):"
  sed 's/^/  /' build/flaky.txt
fi

if [ "${#failed[@]}" -ne 0 ]; then
  for preset in "${failed[@]}"; do
    list="build/$preset/Testing/Temporary/LastTestsFailed.log"
    if [ -s "$list" ]; then
      echo "test.sh: ${preset}: failed twice:"
      sed 's/^/  /' "$list"
    else
      echo "test.sh: ${preset}: configure or build failed"
    fi
  done
  echo "test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "test.sh: all passed (${presets[*]})"
