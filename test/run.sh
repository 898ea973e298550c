#!/usr/bin/env bash
# Runs kiln's tests with Node's own test runner on the compiled output (npm run build first).
#   bash test/run.sh            unit + integration              (npm test; what CI runs)
#   bash test/run.sh full       unit + integration + test/full  (npm run test:full)
#   bash test/run.sh unit       unit only (pure logic, seconds; touches no kernel tree)
#   bash test/run.sh integration
#   bash test/run.sh heavy      test/full only
#
# Integration tests build and boot real kernels. The example's kernels come from the test store
# (test/support/store.ts): built once per suite run into the shared test KILN_HOME and reused by
# every file after. test/full/ holds the checks that need cold builds of their own (cold-ccache
# reproducibility, SIGKILL mid-compile, the kconfig agreement matrix): run them with test:full
# before resolving an issue. Files run one at a time: they share two cores and kiln's store.
#
# Under CI=true a skipped test fails the run: the setup installs everything the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-default}"
files=()
case "$suite" in
  default | all) groups=(unit integration) ;;
  full) groups=(unit integration full) ;;
  unit) groups=(unit) ;;
  integration) groups=(integration) ;;
  heavy) groups=(full) ;;
  *)
    echo "test/run.sh: unknown suite '$suite' (default, full, unit, integration, heavy)" >&2
    exit 1
    ;;
esac
for g in "${groups[@]}"; do
  shopt -s nullglob
  found=(dist/test/"$g"/*.test.js)
  shopt -u nullglob
  if [[ ${#found[@]} -eq 0 ]]; then
    echo "test/run.sh: no compiled tests in dist/test/$g (run npm run build first)" >&2
    exit 1
  fi
  files+=("${found[@]}")
done
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
start=$SECONDS
rc=0
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${files[@]}" || rc=$?
echo "test/run.sh: suite '$suite' took $((SECONDS - start)) s" >&2
count() { sed -n "s/^# $1 \([0-9]*\)$/\1/p" "$tap" | tail -1; }
pass=$(count pass)
fail=$(count fail)
skip=$(count skipped)
if [[ "${CI:-}" == true || "${CI:-}" == 1 ]]; then
  skipped=$(grep -E '^\s*(not )?ok [0-9]+ .*# (SKIP|TODO)' "$tap" || true)
  if [[ -n "$skipped" ]]; then
    echo "test/run.sh: CI=true and these tests skipped; the setup (scripts/setup-debian.sh) must provide what they need:" >&2
    echo "$skipped" >&2
    [[ $rc -eq 0 ]] && rc=1
  fi
fi
# the closing line: totals of the whole run
echo "tests: ${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
exit $rc
