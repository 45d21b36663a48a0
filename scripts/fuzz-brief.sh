#!/usr/bin/env bash
# Runs every fuzz target in the repository briefly (FUZZTIME each, default 10s),
# after the seed corpus has already run as part of `go test`. A failure leaves
# the crashing input under the package's testdata/fuzz/ and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
status=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "fuzz: ./$dir $target ($fuzztime)"
    if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "./$dir" >/tmp/cp7-fuzz.log 2>&1; then
      cat /tmp/cp7-fuzz.log
      echo "fuzz: $target in ./$dir FAILED (crasher saved under ./$dir/testdata/fuzz/$target)"
      status=1
    fi
  done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sed 's|^\./||' | sort)
exit $status
