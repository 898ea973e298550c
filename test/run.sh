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
# Disk: a fresh run fills about 25 GiB of the test cache (two unpacked Debian trees, the example's
# warm trees and builds); say what is free, and stop at once when a run cannot fit.
cache="${KILN_TEST_CACHE:-/var/tmp/kiln-test-cache}"
mkdir -p "$cache"
free_gib=$(df -Pk "$cache" | awk 'NR == 2 { printf "%d", $4 / 1048576 }')
echo "test/run.sh: suite '$suite', ${#files[@]} files, test cache $cache ($free_gib GiB free)" >&2
if [[ "$suite" != unit ]]; then
  # a cache that already holds the test home needs little more; a fresh one about 25 GiB
  need_gib=25
  [[ -d "$cache/kiln-home" ]] && need_gib=4
  if ((free_gib < need_gib)); then
    echo "test/run.sh: only $free_gib GiB free under $cache; this run needs about $need_gib GiB more (a fresh run fills about 25 GiB)." >&2
    echo "  free space there, or point KILN_TEST_CACHE at a bigger disk" >&2
    exit 1
  fi
fi
tapdir=$(mktemp -d)
trap 'rm -rf "$tapdir"' EXIT
start=$SECONDS
rc=0
times=()
i=0
# One node process per file (what --test does anyway), so each file's wall time is known.
for f in "${files[@]}"; do
  i=$((i + 1))
  t0=$SECONDS
  node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tapdir/$i.tap" \
    "$f" || rc=$?
  times+=("$((SECONDS - t0)) ${f#dist/test/}")
done
echo "test/run.sh: suite '$suite' took $((SECONDS - start)) s; the slowest files (s):" >&2
printf '%s\n' "${times[@]}" | sort -rn | head -15 | awk '{ printf "  %5d  %s\n", $1, $2 }' >&2
count() { local n=0 v; for t in "$tapdir"/*.tap; do v=$(sed -n "s/^# $1 \([0-9]*\)$/\1/p" "$t" | tail -1); n=$((n + ${v:-0})); done; echo "$n"; }
pass=$(count pass)
fail=$(count fail)
skip=$(count skipped)
if [[ "${CI:-}" == true || "${CI:-}" == 1 ]]; then
  skipped=$(cat "$tapdir"/*.tap | grep -E '^\s*(not )?ok [0-9]+ .*# (SKIP|TODO)' || true)
  if [[ -n "$skipped" ]]; then
    echo "test/run.sh: CI=true and these tests skipped; the setup (scripts/setup-debian.sh) must provide what they need:" >&2
    echo "$skipped" >&2
    [[ $rc -eq 0 ]] && rc=1
  fi
fi
# the closing line: totals of the whole run
echo "tests: ${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
exit $rc
