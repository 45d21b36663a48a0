#!/usr/bin/env bash
# store.sh: the durable store's numbers for benchmarks/RESULTS.md ("Durable
# store"). Bounded: each broker start waits at most START_LIMIT seconds,
# each load run is WINDOW plus a few seconds.
#
#   1. Recovery: cp7's start-up time (exec to listening; recovery runs before
#      the listener opens) and RSS after it, for RETAINED retained messages,
#      then for SESSIONS persistent sessions with QUEUED queued QoS 1
#      messages each. benchmarks/storefill writes the store as cp7 does.
#   2. Point-to-point QoS 1 into persistent sessions (PAIRS publisher/
#      subscriber pairs, clean session 0, RATE msg/s per publisher, WINDOW):
#      cp7 -sync batch, cp7 -sync none, cp7 -store memory and Mosquitto with
#      persistence true, in the same run: delivered msg/s and p99 latency.
#
# Sizes are parameters: RETAINED=1000000 SESSIONS=100000 QUEUED=10 PAIRS=100
# RATE=200 WINDOW=10s ./benchmarks/store.sh (make bench-store).
set -euo pipefail
cd "$(dirname "$0")/.."

RETAINED=${RETAINED:-1000000}
SESSIONS=${SESSIONS:-100000}
QUEUED=${QUEUED:-10}
PAIRS=${PAIRS:-100}
RATE=${RATE:-200}
WINDOW=${WINDOW:-10s}
START_LIMIT=${START_LIMIT:-600}
BROKERS=${BROKERS:-"cp7-batch cp7-none cp7-memory mosquitto"}

say() { echo "store.sh: $*" >&2; }
BROKER_PID=""
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh

WORK=$(mktemp -d /tmp/cp7-store-bench.XXXXXX)
trap 'stop_broker; rm -rf "$WORK"' EXIT

say "building bin/cp7, bin/cp7bench, bin/storefill"
go build -o bin/cp7 ./cmd/cp7
go build -o bin/cp7bench ./cmd/cp7bench
go build -o bin/storefill ./benchmarks/storefill

# wait_listen PORT: like wait_port, but up to START_LIMIT seconds (a large
# store takes a while to recover).
wait_listen() {
	local end=$((SECONDS + START_LIMIT))
	while [ $SECONDS -lt $end ]; do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$BROKER_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$BROKER_PID/status"; }

# recovery LABEL STOREFILL-ARGS...: fills a store, starts cp7 on it, reports.
recovery() {
	local label=$1
	shift
	local dir="$WORK/rec-$label"
	bin/storefill -dir "$dir" "$@" >&2
	local disk
	disk=$(du -sm "$dir" | cut -f1)
	sync
	local port t0 t1
	port=$(free_port)
	t0=$(date +%s%N)
	bin/cp7 -listen "127.0.0.1:$port" -ws-listen "" -data-dir "$dir" -store-min-free 1 2>"$WORK/rec-$label.log" &
	BROKER_PID=$!
	if ! wait_listen "$port"; then
		say "cp7 did not start on the $label store; log:"
		tail -5 "$WORK/rec-$label.log" >&2
		stop_broker
		return 0
	fi
	t1=$(date +%s%N)
	sleep 1
	local rss line took heap
	rss=$(rss_kb)
	line=$(grep 'store: recovered' "$WORK/rec-$label.log" || true)
	took=$(sed -n 's/.* took=\([^ ]*\).*/\1/p' <<<"$line")
	heap=$(sed -n 's/.* heap_bytes=\([^ ]*\).*/\1/p' <<<"$line")
	stop_broker
	printf '| %s | %s MB | %s | %d ms | %d MB | %d MB |\n' "$label" "$disk" "$took" $(((t1 - t0) / 1000000)) $((heap / 1048576)) $((rss / 1024))
	echo "recovery $label: $line" >&2
}

RESULT="$WORK/result.md"
{
	echo "Recovery (storefill writes the store, then cp7 starts on it):"
	echo
	echo "| store | on disk | recovery (cp7's log) | exec to listening | Go heap after | RSS after |"
	echo "| --- | --- | --- | --- | --- | --- |"
} >"$RESULT"
if [ "$RETAINED" -gt 0 ]; then
	recovery "$RETAINED retained" -retained "$RETAINED" >>"$RESULT"
fi
if [ "$SESSIONS" -gt 0 ]; then
	recovery "$SESSIONS sessions x $QUEUED queued" -sessions "$SESSIONS" -queued "$QUEUED" >>"$RESULT"
fi

P2P=(pubsub -pubs "$PAIRS" -subs "$PAIRS" -t 'bench/p2p/%i' -ft 'bench/p2p/%i' -q 1 -s 64 -r "$RATE" -w 64
	-clean=false -duration "$WINDOW" -drain 5s -quiet)

# p2p NAME: starts broker NAME, runs the scenario, prints a table row.
p2p() {
	local name=$1 port
	port=$(free_port)
	case $name in
	cp7-batch | cp7-none)
		bin/cp7 -listen "127.0.0.1:$port" -ws-listen "" -data-dir "$WORK/p2p-$name" -sync "${name#cp7-}" -store-min-free 1 2>"$WORK/$name.log" &
		;;
	cp7-memory)
		bin/cp7 -listen "127.0.0.1:$port" -ws-listen "" -store memory 2>"$WORK/$name.log" &
		;;
	mosquitto)
		command -v mosquitto >/dev/null || { say "no mosquitto: skipped"; return 0; }
		mkdir -p "$WORK/mosq"
		mosquitto_conf "$port" | sed "s|^persistence false|persistence true\npersistence_location $WORK/mosq/|" >"$WORK/mosq.conf"
		mosquitto -c "$WORK/mosq.conf" 2>"$WORK/$name.log" &
		;;
	esac
	BROKER_PID=$!
	if ! wait_listen "$port"; then
		say "$name did not start"
		tail -5 "$WORK/$name.log" >&2
		stop_broker
		return 0
	fi
	timeout 120 bin/cp7bench "${P2P[@]}" -p "$port" -broker-pid "$BROKER_PID" >"$WORK/$name.out" 2>"$WORK/$name.err" || true
	local sum
	sum=$(grep '^SUMMARY ' "$WORK/$name.out" | tail -1 || true)
	stop_broker
	if [ -z "$sum" ]; then
		say "$name: no summary: $(tail -3 "$WORK/$name.err" | tr '\n' ' ')"
		return 0
	fi
	echo "p2p $name: $sum" >&2
	awk -v name="$name" '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END { printf "| %s | %.0f | %.0f | %s | %.2f | %.2f | %.1f | %d |\n", name, v["offered_rate"], v["recv_rate"], v["lost"],
			v["p50_us"] / 1000, v["p99_us"] / 1000, v["broker_cpu_us_per_msg"], v["broker_rss_peak_kb"] / 1024 }' <<<"$sum"
}

{
	echo
	echo "Point-to-point QoS 1 into persistent sessions ($PAIRS pairs, clean session 0, $RATE msg/s each, $WINDOW):"
	echo
	echo "| broker | offered msg/s | delivered msg/s | lost | p50 ms | p99 ms | broker CPU µs/msg | peak RSS MB |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
} >>"$RESULT"
for b in $BROKERS; do
	sleep 1 # a fresh broker each time; let the last one's exit settle
	p2p "$b" >>"$RESULT"
done
cat "$RESULT"
