#!/usr/bin/env bash
# Runs every fuzz target in the repository briefly (FUZZTIME each, default 10s),
# after the seed corpus has already run as part of `go test`. A failure leaves
# the crashing input under the package's testdata/fuzz/ and exits non-zero.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" at the end of -fuzztime, having found nothing (golang/go#75804,
# fixed in Go 1.27): it writes no input. A run that ends that way without a
# new file under testdata/fuzz/TARGET is run once more, and reported as that
# race, not as a crash, if it happens again. Any run that writes an input,
# or fails any other way, fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
log=$(mktemp /tmp/cp7-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0

# inputs DIR TARGET lists the saved inputs of TARGET, one per line.
inputs() { ls "$1/testdata/fuzz/$2" 2>/dev/null | sort || true; }

# coordinator_race DIR TARGET BEFORE: the run failed only with the deadline
# message and wrote no new input.
coordinator_race() {
	[ "$(inputs "$1" "$2")" = "$3" ] &&
		grep -q 'context deadline exceeded' "$log" &&
		! grep -qE 'panic:|Failing input written' "$log"
}

while IFS= read -r file; do
	dir=$(dirname "$file")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
		echo "fuzz: ./$dir $target ($fuzztime)"
		for try in 1 2; do
			before=$(inputs "$dir" "$target")
			if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "./$dir" >"$log" 2>&1; then
				break
			fi
			if coordinator_race "$dir" "$target" "$before"; then
				if [ $try = 1 ]; then
					echo "fuzz: $target ended with Go's fuzz-coordinator deadline race (golang/go#75804) and wrote no input; running it once more"
					continue
				fi
				echo "fuzz: $target hit the same coordinator race twice and wrote no input: not a crash, not counted as a failure"
				break
			fi
			cat "$log"
			echo "fuzz: $target in ./$dir FAILED (the crashing input, if any, is under ./$dir/testdata/fuzz/$target)"
			status=1
			break
		done
	done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sed 's|^\./||' | sort)
exit $status
