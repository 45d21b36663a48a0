#!/usr/bin/env bash
# benchmarks/decompose.sh: where a scenario's CPU per message goes, layer by
# layer. It runs one compare.sh scenario (SCEN: p2p, fanout or fanin) against,
# in turn:
#   floor-epoll    benchmarks/floor: one thread, raw epoll and recv/send, no
#                  broker work (what the kernel charges)
#   floor-gnet-1   the same relay on gnet with one event loop (+ gnet and the
#                  Go runtime)
#   floor-gnet     the same on one gnet loop per CPU (+ the loops waking on
#                  every core; deliveries across loops by AsyncWrite)
#   cp7-1          CP7 with -event-loops 1 (+ the broker's work)
#   cp7            CP7 as it ships (one loop per CPU)
#   mosquitto      Mosquitto 2 from Debian, if installed
# PASSES times, alternating the programs so the machine's drift spreads over
# all of them, and prints broker CPU µs per message (utime+stime and utime
# alone) for each run, from cp7bench's SUMMARY.
#
# Settings (environment): SCEN (p2p), PASSES (2), WINDOW (5s), RATE (the
# scenario's per-client rate: p2p 200, fanout 50, fanin 50000).
# Takes about PASSES x 6 x (WINDOW + 3 s).
set -euo pipefail
cd "$(dirname "$0")/.."

SCEN=${SCEN:-p2p}
PASSES=${PASSES:-2}
WINDOW=${WINDOW:-5s}
say() { printf 'decompose.sh: %s\n' "$*" >&2; }
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh

case $SCEN in
p2p) ARGS=(pubsub -pubs 100 -subs 100 -t 'bench/p2p/%i' -ft 'bench/p2p/%i' -q 1 -s 64 -r "${RATE:-200}" -w 64) ;;
fanout) ARGS=(pubsub -pubs 1 -subs 1000 -t bench/out -ft bench/out -q 0 -s 64 -r "${RATE:-50}") ;;
fanin) ARGS=(pubsub -pubs 4 -subs 1 -t 'bench/in/%i' -ft 'bench/in/+' -q 0 -s 64 -r "${RATE:-50000}") ;;
*) say "SCEN=$SCEN: use p2p, fanout or fanin"; exit 2 ;;
esac
case $PASSES in '' | *[!0-9]*) say "PASSES=$PASSES is not a count"; exit 2 ;; esac

WORK=$(mktemp -d /tmp/cp7-decompose.XXXXXX)
BROKER_PID=""
trap 'stop_broker; say "logs in $WORK"' EXIT
mkdir -p bin
go build -o bin/cp7 ./cmd/cp7
go build -o bin/cp7bench ./cmd/cp7bench
go build -o bin/floor ./benchmarks/floor

PROGRAMS="floor-epoll floor-gnet-1 floor-gnet cp7-1 cp7"
if command -v mosquitto >/dev/null; then
	PROGRAMS="$PROGRAMS mosquitto"
else
	say "mosquitto is not installed (make bench installs it); its column is left out"
fi

start() { # program port: starts it in the background as BROKER_PID
	local p=$2 log="$WORK/$1.log"
	case $1 in
	floor-epoll) bin/floor -listen "127.0.0.1:$p" >"$log" 2>&1 & ;;
	floor-gnet-1) bin/floor -engine gnet -loops 1 -listen "127.0.0.1:$p" >"$log" 2>&1 & ;;
	floor-gnet) bin/floor -engine gnet -listen "127.0.0.1:$p" >"$log" 2>&1 & ;;
	cp7-1) bin/cp7 -listen "127.0.0.1:$p" -ws-listen "" -admin-listen "" -store memory -log-level warn -event-loops 1 -max-inflight 64 -max-queued 1000 >"$log" 2>&1 & ;;
	cp7) bin/cp7 -listen "127.0.0.1:$p" -ws-listen "" -admin-listen "" -store memory -log-level warn -max-inflight 64 -max-queued 1000 >"$log" 2>&1 & ;;
	mosquitto)
		mosquitto_conf "$p" >"$WORK/mosquitto.conf"
		mosquitto -c "$WORK/mosquitto.conf" >"$log" 2>&1 &
		;;
	esac
	BROKER_PID=$!
}

val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

say "scenario $SCEN: bin/cp7bench ${ARGS[*]} -duration $WINDOW; $PASSES passes over: $PROGRAMS"
declare -A total user
for pass in $(seq 1 "$PASSES"); do
	for prog in $PROGRAMS; do
		port=$(free_port)
		start "$prog" "$port"
		if ! wait_port "$port"; then
			say "$prog did not start; its log: $(tail -3 "$WORK/$prog.log" | tr '\n' ' ')"
			stop_broker
			continue
		fi
		sum=$(timeout 120 bin/cp7bench "${ARGS[@]}" -duration "$WINDOW" -p "$port" -broker-pid "$BROKER_PID" -quiet 2>>"$WORK/cp7bench.err" | grep '^SUMMARY ' | tail -1 || true)
		stop_broker
		echo "$prog pass $pass: $sum" >>"$WORK/summaries"
		if [ -z "$sum" ]; then
			say "$prog pass $pass: no summary (see $WORK/cp7bench.err)"
			continue
		fi
		total[$prog]="${total[$prog]:-}${total[$prog]:+, }$(val "$sum" broker_cpu_us_per_msg)"
		user[$prog]="${user[$prog]:-}${user[$prog]:+, }$(val "$sum" broker_user_cpu_us_per_msg)"
		say "$prog pass $pass: cpu $(val "$sum" broker_cpu_us_per_msg) µs/msg (user $(val "$sum" broker_user_cpu_us_per_msg)), p99 $(val "$sum" p99_us) µs, lost $(val "$sum" lost)"
	done
done

echo "| program ($SCEN, $(date -u '+%Y-%m-%d %H:%M UTC')) | CPU µs per message, each pass | of which user space |"
echo "| --- | ---: | ---: |"
for prog in $PROGRAMS; do
	echo "| $prog | ${total[$prog]:-n/a} | ${user[$prog]:-n/a} |"
done
