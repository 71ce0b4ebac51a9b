# shellcheck shell=sh
# skip.sh: sourced by the test scripts (in_netns.sh, netns/topology.sh, tools/harness.sh)
# for the one rule of what a test that cannot run here does.
#
#   racket_skip MESSAGE   prints "SKIP: MESSAGE" and exits 77 (CTest's SKIP_RETURN_CODE: the
#                         test is reported as skipped). Under CI (the environment variable CI
#                         set, and not "false" or "0") it prints "FAIL: MESSAGE" and exits 1
#                         instead: a CI run where no network namespace can be made must fail,
#                         not pass with every network test skipped.
#   racket_in_ci          true under CI, by the same rule.
# POSIX sh, so that in_netns.sh can use it too.
# SPDX-License-Identifier: MIT

racket_in_ci() {
  case "${CI:-}" in
    "" | false | FALSE | False | 0) return 1 ;;
    *) return 0 ;;
  esac
}

racket_skip() {
  if racket_in_ci; then
    printf 'FAIL: %s (CI=%s: in CI a test that cannot run fails instead of being skipped)\n' "$*" "$CI"
    exit 1
  fi
  printf 'SKIP: %s\n' "$*"
  exit 77
}
