#!/usr/bin/env bash
# Runs kiln's tests with Node's own test runner on the compiled output.
#   bash test/run.sh            unit + integration
#   bash test/run.sh unit       unit only (pure logic, seconds)
#   bash test/run.sh integration
# Integration tests build and boot real kernels; they run one file at a time
# because they share the machine's two cores and kiln's store.
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-all}"
files=()
if [[ "$suite" == all || "$suite" == unit ]]; then
  files+=(dist/test/unit/*.test.js)
fi
if [[ "$suite" == all || "$suite" == integration ]]; then
  files+=(dist/test/integration/*.test.js)
fi
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
