# shellcheck shell=bash
# Sourced by compare.sh and tls.sh. splice_section NAME SECTION RESULTS puts
# the file SECTION (which starts with "<!-- NAME:begin -->" and ends with
# "<!-- NAME:end -->") in place of the same markers in RESULTS, keeping every
# other line; without markers it is appended, and a missing RESULTS is
# created. RESULTS is read just before it is written, so another script's
# section written meanwhile survives.
splice_section() {
	local name=$1 section=$2 results=$3 tmp
	tmp=$(mktemp "${results}.XXXXXX")
	if [ -f "$results" ] && grep -q "<!-- $name:begin -->" "$results" && grep -q "<!-- $name:end -->" "$results"; then
		awk -v sec="$section" -v b="<!-- $name:begin -->" -v e="<!-- $name:end -->" '
			index($0, b) { while ((getline l < sec) > 0) print l; skip = 1; next }
			index($0, e) { skip = 0; next }
			!skip { print }' "$results" >"$tmp"
	elif [ -f "$results" ]; then
		{ cat "$results"; echo; cat "$section"; } >"$tmp"
	else
		{
			echo "# CP7 benchmark results"
			echo
			echo "Hand-written notes go outside the script markers; each script rewrites only what is between its own."
			echo
			cat "$section"
		} >"$tmp"
	fi
	mv "$tmp" "$results"
}
