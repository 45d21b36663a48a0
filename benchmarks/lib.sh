# shellcheck shell=bash
# Sourced by the benchmark scripts (compare.sh, tls.sh, million.sh, decompose.sh): the
# helpers they share. They use the caller's say() and BROKER_PID.

# free_port prints a loopback TCP port below the ephemeral range (so client
# connections never take it) that nothing listens on and that differs from
# the port given, if any.
free_port() {
	local p tries=0
	while [ $tries -lt 200 ]; do
		p=$((20000 + RANDOM % 10000))
		if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q . && [ "$p" != "${1:-}" ]; then
			echo "$p"
			return 0
		fi
		tries=$((tries + 1))
	done
	say "no free port found in 20000-29999"
	return 1
}

# wait_port waits (at most 10 s) until PORT accepts TCP connections; it gives
# up at once if the broker (BROKER_PID) exited.
wait_port() {
	local i
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$BROKER_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop_broker ends BROKER_PID: TERM, up to 5 s to exit, then KILL.
stop_broker() {
	[ -n "$BROKER_PID" ] || return 0
	local i
	kill -TERM "$BROKER_PID" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$BROKER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$BROKER_PID" 2>/dev/null || true
	wait "$BROKER_PID" 2>/dev/null || true
	BROKER_PID=""
}

# cpu_ticks prints the broker's utime+stime (clock ticks).
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$BROKER_PID/stat" 2>/dev/null || echo 0; }

# mosquitto_conf PORT prints the Mosquitto configuration every benchmark
# uses: loopback PORT, the same limits as CP7 (MAX_INFLIGHT, default 64;
# MAX_QUEUED, default 1000), no persistence, TCP_NODELAY, errors to stderr.
mosquitto_conf() {
	cat <<EOF
listener $1 127.0.0.1
allow_anonymous true
max_connections -1
max_inflight_messages ${MAX_INFLIGHT:-64}
max_queued_messages ${MAX_QUEUED:-1000}
set_tcp_nodelay true
persistence false
log_dest stderr
log_type error
log_type warning
connection_messages false
EOF
}

# settle waits (at most 10 s) until the broker is idle (under 3 ticks of CPU
# in 0.5 s), so one scenario's aftermath (thousands of disconnects, queues
# being freed) is not billed to the next.
settle() {
	local i a b
	for i in $(seq 1 20); do
		a=$(cpu_ticks)
		sleep 0.5
		b=$(cpu_ticks)
		[ $((b - a)) -lt 3 ] && return 0
	done
	say "broker still busy after 10 s; going on"
}

# splice_section NAME SECTION RESULTS puts
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
