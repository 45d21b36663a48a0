#!/usr/bin/env bash
# acl.sh: broker CPU per message with an ACL of 10,000 rules against none,
# CP7 and Mosquitto side by side, reading the same Mosquitto-format
# acl_file (CP7 reads Mosquitto's format with Mosquitto's meaning).
#
# The file: 5,000 user sections (one topic each, for users the benchmark
# clients are not) and 5,000 patterns, the benchmark's own grants last, so
# a broker that scans its rules scans all of them for every publish and
# every delivery. Scenario: fan-in, 4 publishers at RATE msg/s each, QoS 0,
# 64-byte payloads, one subscriber to bench/in/+.
#
#   benchmarks/acl.sh              # prints a Markdown table
#   RATE=5000 WINDOW=5s BROKERS="cp7 mosquitto" benchmarks/acl.sh
set -euo pipefail

cd "$(dirname "$0")/.."
RATE=${RATE:-5000}
WINDOW=${WINDOW:-5s}
BROKERS=${BROKERS:-"cp7 mosquitto"}
RULES=${RULES:-10000}

say() { printf 'acl.sh: %s\n' "$*" >&2; }
. benchmarks/lib.sh

WORK=$(mktemp -d /tmp/cp7-acl.XXXXXX)
BROKER_PID=""
cleanup() {
	local rc=$?
	stop_broker
	say "logs and raw SUMMARY lines are in $WORK"
	exit $rc
}
trap cleanup EXIT

go build -o bin/cp7bench ./cmd/cp7bench
go build -o bin/cp7 ./cmd/cp7
HAVE_MOSQ=1
command -v mosquitto >/dev/null || HAVE_MOSQ=0

# The rule file (Mosquitto's format).
{
	echo "# $RULES rules: user sections and patterns that do not match the benchmark clients, then its grants"
	for i in $(seq 0 $((RULES / 2 - 1))); do
		printf 'user dev%d\ntopic readwrite devices/dev%d/#\n' "$i" "$i"
	done
	for i in $(seq 0 $((RULES / 2 - 3))); do
		printf 'pattern write fleet/%%c/%d/status\n' "$i"
	done
	echo "pattern write bench/in/%c"
	echo "pattern read bench/#"
} >"$WORK/acl"
# Mosquitto started as root reads its acl_file as user mosquitto.
chmod 755 "$WORK"
chmod 644 "$WORK/acl"
say "rule file: $(grep -c -E '^(topic|pattern)' "$WORK/acl") rules"

start() { # name acl(0/1)
	local name=$1 acl=$2
	PORT=$(free_port)
	case $name in
	mosquitto)
		mosquitto_conf "$PORT" >"$WORK/mosquitto.conf"
		[ "$acl" = 1 ] && echo "acl_file $WORK/acl" >>"$WORK/mosquitto.conf"
		mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
		;;
	cp7)
		local a=()
		[ "$acl" = 1 ] && a=(-acl-file "$WORK/acl")
		bin/cp7 -listen "127.0.0.1:$PORT" -log-level warn -tls-listen "" -ws-listen "" -wss-listen "" "${a[@]}" >"$WORK/cp7.log" 2>&1 &
		;;
	esac
	BROKER_PID=$!
	wait_port "$PORT" || { say "$name did not start: $(tail -3 "$WORK/$name.log")"; return 1; }
}

run() { # name acl
	local name=$1 acl=$2 out="$WORK/$1-acl$2"
	start "$name" "$acl"
	settle
	# The client ids are bench-pub-N and bench-sub-N: the pattern
	# bench/in/%c lets publisher N publish on bench/in/bench-pub-N.
	timeout 120 bin/cp7bench pubsub -pubs 4 -subs 1 -prefix bench -t 'bench/in/%c' -ft 'bench/in/+' -q 0 -s 64 \
		-r "$RATE" -duration "$WINDOW" -p "$PORT" -broker-pid "$BROKER_PID" -quiet >"$out.out" 2>"$out.err" || true
	grep '^SUMMARY ' "$out.out" | tail -1 >"$out.sum" || true
	stop_broker
	say "$name acl=$acl: $(cut -c1-300 "$out.sum")"
}

val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" 2>/dev/null; }

for name in $BROKERS; do
	[ "$name" = mosquitto ] && [ $HAVE_MOSQ = 0 ] && { say "mosquitto not installed: skipped"; continue; }
	# ABAB: the shared machine drifts; two of each, alternating.
	for round in 1 2; do
		run "$name" 0
		mv "$WORK/$name-acl0.sum" "$WORK/$name-acl0-$round.sum"
		run "$name" 1
		mv "$WORK/$name-acl1.sum" "$WORK/$name-acl1-$round.sum"
	done
done

echo "| broker | rules | round | sent | received | broker CPU µs/msg |"
echo "| --- | --- | --- | --- | --- | --- |"
for name in $BROKERS; do
	for round in 1 2; do
		for acl in 0 1; do
			f="$WORK/$name-acl$acl-$round.sum"
			[ -s "$f" ] || continue
			n=0
			[ "$acl" = 1 ] && n=$RULES
			echo "| $name | $n | $round | $(val "$f" sent) | $(val "$f" recv) | $(val "$f" broker_cpu_us_per_msg) |"
		done
	done
done
