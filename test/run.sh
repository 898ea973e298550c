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
# before resolving an issue. Files that build, boot or share kiln's store run one at a time in the
# main lane; the unit files and the integration files marked `kiln-test-lane: side` run beside
# them, niced, in a side lane (see below).
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
side_pid=
# on any exit (an error, Ctrl-C, a CI timeout) the side lane stops with the run
cleanup() {
  if [[ -n "$side_pid" ]]; then kill -TERM -- "-$side_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$tapdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Two lanes when the suite holds integration tests (docs/adr/0107-test-lanes.md):
# - the main lane runs the files that build, boot or use the test store's kernels, one at a
#   time, in name order;
# - the side lane runs, beside it and one at a time, the unit files and the integration files
#   that say `kiln-test-lane: side` in their header: they compile nothing, ask the test store for
#   no kernel and race no clock. It runs under nice and the idle I/O class, so a compile in the
#   main lane keeps the machine and the side lane fills what a boot or a link leaves idle. Its
#   integration files start only once the main lane has run the files marked
#   `kiln-test-lane: store-builder` (the cold builds of the test store's kernels and the source
#   import), so that they never slow those down.
main_files=()
side_files=()
lanes=1
for g in "${groups[@]}"; do [[ "$g" == integration ]] && lanes=2; done
builders=0
for f in "${files[@]}"; do
  if ((lanes == 2)) && { [[ "$f" == dist/test/unit/* ]] || grep -q 'kiln-test-lane: side' "$f"; }; then
    # a side file must not reach the test store: its first ask builds or re-lays a kernel
    if grep -qE '\b(exampleKernel|bootKernel|shipVmlinux|layStoreEntry)\(' "$f"; then
      echo "test/run.sh: ${f#dist/} says kiln-test-lane: side but asks the test store for a kernel (exampleKernel, bootKernel, shipVmlinux or layStoreEntry); drop its side marker" >&2
      exit 1
    fi
    side_files+=("$f")
  else
    main_files+=("$f")
    grep -q 'kiln-test-lane: store-builder' "$f" && builders=$((builders + 1))
  fi
done
start=$SECONDS
# run_lane <name> <file>...: one node process per file (what --test does anyway), so each file's
# wall time is known; its times go to $tapdir/<name>.times, its exit code to $tapdir/<name>.rc.
# The main lane notes each store-builder file it finished in $tapdir/built; the side lane waits
# for all of them (or for the main lane's end) before its first integration file.
run_lane() {
  local lane=$1 f t0 i=0 lrc=0 prio=()
  shift
  [[ "$lane" == side ]] && prio=(nice -n 10 ionice -c 3)
  for f in "$@"; do
    i=$((i + 1))
    if [[ "$lane" == side && "$f" != dist/test/unit/* ]]; then
      while (($(cat "$tapdir/built" 2>/dev/null | wc -l) < builders)) && [[ ! -e "$tapdir/main.rc" ]]; do sleep 2; done
    fi
    t0=$SECONDS
    "${prio[@]}" node --test --test-concurrency=1 \
      --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$tapdir/$lane-$i.tap" \
      "$f" || lrc=$?
    echo "$((SECONDS - t0)) ${f#dist/test/}" >>"$tapdir/$lane.times"
    if [[ "$lane" == main ]] && grep -q 'kiln-test-lane: store-builder' "$f"; then echo "$f" >>"$tapdir/built"; fi
  done
  echo "$lrc" >"$tapdir/$lane.rc"
}
if ((${#side_files[@]} > 0)); then
  echo "test/run.sh: ${#main_files[@]} file(s) in the main lane, ${#side_files[@]} in the side lane (its output follows the main lane's)" >&2
  # its own process group, so that cleanup stops it and everything it started
  set -m
  run_lane side "${side_files[@]}" >"$tapdir/side.out" 2>&1 &
  side_pid=$!
  set +m
fi
run_lane main "${main_files[@]}"
rc=$(cat "$tapdir/main.rc")
main_secs=$((SECONDS - start))
if [[ -n "$side_pid" ]]; then
  wait "$side_pid" || true
  side_pid=
  echo "# ---------------------------------------------------------------- side lane"
  cat "$tapdir/side.out"
  side_rc=$(cat "$tapdir/side.rc" 2>/dev/null || echo 1)
  ((side_rc != 0)) && rc=$side_rc
  echo "test/run.sh: main lane $main_secs s, side lane $(awk '{ s += $1 } END { print s + 0 }' "$tapdir/side.times") s beside it" >&2
fi
echo "test/run.sh: suite '$suite' took $((SECONDS - start)) s; the slowest files (s):" >&2
cat "$tapdir"/*.times | sort -rn | head -15 | awk '{ printf "  %5d  %s\n", $1, $2 }' >&2
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
