#!/usr/bin/env bash
# benchmarks/hostile.sh: what each hostile-client case of issue 10 costs the
# broker (peak RSS above its idle RSS, CPU time), run against two cp7
# binaries in the same run: before and after the limits. Also the idle
# memory per connection and fan-in CPU per message of each, so the limits'
# cost on the normal path is measured beside them.
#
#   benchmarks/hostile.sh [OLD_REF] [NEW_REF]      (git refs; default: main and HEAD)
#   OLD_BIN=... NEW_BIN=... benchmarks/hostile.sh  (prebuilt binaries)
#
# Each case starts a fresh broker with default flags (-log-level warn), runs
# benchmarks/hostile -case NAME against it under `timeout`, samples the
# broker's VmRSS every 100 ms and reads utime+stime from /proc before and
# after. Everything is bounded: at most CASE_TIMEOUT seconds a case, and the
# partial-packet case is kept at 500 x 0.5 MB so the old broker's ~3x copy
# stays near 1.5 GB on a shared machine. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { printf 'hostile.sh: %s\n' "$*" >&2; }
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh

OLD_REF=${1:-main}
NEW_REF=${2:-HEAD}
CASE_TIMEOUT=${CASE_TIMEOUT:-90}
IDLE_N=${IDLE_N:-5000}
CASES=${CASES:-"partial dribble deep wildcard retained queued"}
WORK=$(mktemp -d /tmp/cp7-hostile.XXXXXX)
BROKER_PID=""
trap 'stop_broker; rm -rf "$WORK/src"' EXIT
trap 'say interrupted; exit 130' INT TERM

build_ref() { # ref out
	mkdir -p "$WORK/src/$1"
	git archive "$1" | tar -x -C "$WORK/src/$1"
	(cd "$WORK/src/$1" && go build -o "$2" ./cmd/cp7)
}
mkdir -p bin
if [ -z "${OLD_BIN:-}" ]; then OLD_BIN=$WORK/cp7-old; say "building $OLD_REF"; build_ref "$OLD_REF" "$OLD_BIN"; fi
if [ -z "${NEW_BIN:-}" ]; then NEW_BIN=$WORK/cp7-new; say "building $NEW_REF"; build_ref "$NEW_REF" "$NEW_BIN"; fi
go build -o "$WORK/hostile" ./benchmarks/hostile
go build -o "$WORK/cp7bench" ./cmd/cp7bench

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$BROKER_PID/status" 2>/dev/null || echo 0; }
TICK=$(getconf CLK_TCK)

start() { # bin
	PORT=$(free_port)
	"$1" -listen "127.0.0.1:$PORT" -log-level warn >"$WORK/broker.log" 2>&1 &
	BROKER_PID=$!
	wait_port "$PORT" || { say "broker did not start"; tail -5 "$WORK/broker.log" >&2; return 1; }
	settle
}

# run_case BIN CASE: prints "peak_mb cpu_ms result..."
run_case() {
	start "$1" || { echo "n/a n/a failed-to-start"; return; }
	local rss0 t0 peak r out
	rss0=$(rss_kb)
	peak=$rss0
	t0=$(cpu_ticks)
	timeout "$CASE_TIMEOUT" "$WORK/hostile" -addr "127.0.0.1:$PORT" -case "$2" -timeout "$((CASE_TIMEOUT - 5))s" >"$WORK/out" 2>"$WORK/err" &
	local hp=$!
	while kill -0 "$hp" 2>/dev/null; do
		r=$(rss_kb)
		[ "$r" -gt "$peak" ] && peak=$r
		sleep 0.1
	done
	wait "$hp" || true
	settle
	local cpu=$(( ( $(cpu_ticks) - t0 ) * 1000 / TICK ))
	out=$(sed -n 's/^RESULT //p' "$WORK/out" | tail -1)
	[ -n "$out" ] || out="no result: $(tail -1 "$WORK/err")"
	kill -0 "$BROKER_PID" 2>/dev/null || out="$out BROKER-DIED"
	stop_broker
	echo "$(( (peak - rss0) / 1024 )) $cpu $out"
}

idle_and_fanin() { # bin
	start "$1" || { echo "n/a n/a"; return; }
	timeout 120 "$WORK/cp7bench" conn -c "$IDLE_N" -k 600 -cc 200 -duration 4s -p "$PORT" -broker-pid "$BROKER_PID" -quiet >"$WORK/idle.out" 2>&1 || true
	local idle fanin
	idle=$(sed -n 's/^SUMMARY .* broker_bytes_per_conn=\([^ ]*\).*/\1/p' "$WORK/idle.out" | tail -1)
	stop_broker
	start "$1"
	timeout 120 "$WORK/cp7bench" pubsub -pubs 4 -subs 1 -t 'bench/in/%i' -ft 'bench/in/+' -q 0 -s 64 -r 20000 -duration 5s -p "$PORT" -broker-pid "$BROKER_PID" -quiet >"$WORK/fanin.out" 2>&1 || true
	fanin=$(sed -n 's/^SUMMARY .* broker_cpu_us_per_msg=\([^ ]*\).*/\1/p' "$WORK/fanin.out" | tail -1)
	stop_broker
	echo "${idle:-n/a} ${fanin:-n/a}"
}

echo "### hostile.sh run $(date -u +%Y-%m-%dT%H:%MZ): $OLD_REF vs $NEW_REF (load $(cut -d' ' -f1 /proc/loadavg))"
echo
read -r oi of <<<"$(idle_and_fanin "$OLD_BIN")"
read -r ni nf <<<"$(idle_and_fanin "$NEW_BIN")"
echo "| normal path | before | after |"
echo "| --- | --- | --- |"
echo "| memory per idle connection (bytes RSS, N=$IDLE_N) | $oi | $ni |"
echo "| fan-in 4->1 QoS 0 64 B at 20,000 msg/s: broker CPU per message (us) | $of | $nf |"
echo
echo "| case | before: peak RSS over idle (MB) | before: CPU (ms) | before: outcome | after: peak RSS (MB) | after: CPU (ms) | after: outcome |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for c in $CASES; do
	read -r op oc orest <<<"$(run_case "$OLD_BIN" "$c")"
	read -r np nc nrest <<<"$(run_case "$NEW_BIN" "$c")"
	echo "| $c | $op | $oc | $orest | $np | $nc | $nrest |"
	say "$c done"
done
