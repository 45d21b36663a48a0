#!/usr/bin/env bash
# benchmarks/compare.sh: CP7 and Mosquitto side by side, in the same run, on
# this machine, measured by the same load tool (cmd/cp7bench). Run by
# `make bench`. It rewrites the part of benchmarks/RESULTS.md between
# <!-- compare.sh:begin --> and <!-- compare.sh:end --> and keeps the rest.
#
# What it measures, for each broker in turn (one broker runs at a time):
#   1. memory per idle connection: broker RSS after IDLE_N idle connections
#      minus before, divided by IDLE_N (IDLE_N near the 20,000-file limit);
#   2. connect rate of those IDLE_N connections;
#   3. fan-in:  4 publishers -> 1 subscriber, QoS 0, 64 B, 200,000 msg/s offered;
#   4. fan-out: 1 publisher -> 1,000 subscribers, QoS 0, 50 msg/s (50,000 deliveries/s);
#   5. point-to-point: 100 publisher/subscriber pairs, QoS 1, 20,000 msg/s in total;
#   6. the highest fan-in rate (QoS 0) with nothing lost, p99 < 50 ms and RSS
#      bounded: doubling, then bisection, each step STEP seconds.
# For 3-5: broker CPU time per delivered message (utime+stime from
# /proc/PID/stat over the window), p50/p99 latency and the delivered ratio.
#
# Scenarios 3-5 also run against benchmarks/floor, a single-threaded epoll
# relay that only frames and forwards bytes (no broker work at all): its CPU
# per message is what the kernel alone charges for the same reads and writes,
# the least any broker can score here. The report sets it next to Mosquitto.
#
# Settings (environment): IDLE_N WINDOW STEP MAX_INFLIGHT MAX_QUEUED
# RSS_LIMIT_MB P99_LIMIT_US BROKERS ("mosquitto cp7 floor") RESULTS.
# Every loop is bounded; the whole run takes 2 to 5 minutes on 2 cores and
# stops itself at DEADLINE_S (default 570) seconds.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
CMDLINE="$0${*:+ $*}"

IDLE_N=${IDLE_N:-19000}
WINDOW=${WINDOW:-5s}
STEP=${STEP:-4s}
MAX_INFLIGHT=${MAX_INFLIGHT:-64}
MAX_QUEUED=${MAX_QUEUED:-1000}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-2048}
P99_LIMIT_US=${P99_LIMIT_US:-50000}
BROKERS=${BROKERS:-"mosquitto cp7 floor"}
RESULTS=${RESULTS:-benchmarks/RESULTS.md}
DEADLINE_S=${DEADLINE_S:-570}
SRC_ADDRS=${SRC_ADDRS:-127.0.0.2-127.0.0.9}

say() { printf 'compare.sh: %s\n' "$*" >&2; }
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh

LOAD0=$(cut -d' ' -f1 /proc/loadavg)
WORK=$(mktemp -d /tmp/cp7-compare.XXXXXX)
BROKER_PID=""
cleanup() {
	local rc=$?
	stop_broker
	# cp7bench runs in the foreground under timeout; nothing else is left.
	say "logs and raw SUMMARY lines are in $WORK"
	exit $rc
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- tools

install_mosquitto() {
	command -v mosquitto >/dev/null && return 0
	say "installing mosquitto from Debian"
	if [ "$(id -u)" = 0 ]; then
		(apt-get update && apt-get install -y mosquitto) >"$WORK/apt.log" 2>&1 || true
	else
		(sudo -n apt-get update && sudo -n apt-get install -y mosquitto) >"$WORK/apt.log" 2>&1 || true
	fi
	command -v mosquitto >/dev/null || { say "mosquitto could not be installed (see $WORK/apt.log); it will be skipped"; return 1; }
}

mkdir -p bin
say "building cp7bench"
go build -o bin/cp7bench ./cmd/cp7bench
HAVE_CP7=1
if ! go build -o bin/cp7 ./cmd/cp7 >"$WORK/cp7-build.log" 2>&1; then
	HAVE_CP7=0
	say "./cmd/cp7 does not build yet (see $WORK/cp7-build.log); measuring Mosquitto only, CP7 columns will say n/a"
fi
go build -o bin/floor ./benchmarks/floor
HAVE_MOSQ=1
install_mosquitto || HAVE_MOSQ=0

start_broker() { # name port
	local name=$1 port=$2
	case $name in
	mosquitto)
		mosquitto_conf "$port" >"$WORK/mosquitto.conf"
		mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
		BROKER_PID=$!
		;;
	cp7)
		bin/cp7 -listen "127.0.0.1:$port" -admin-listen "" -store memory -log-level warn -max-inflight "$MAX_INFLIGHT" -max-queued "$MAX_QUEUED" >"$WORK/cp7.log" 2>&1 &
		BROKER_PID=$!
		;;
	floor)
		bin/floor -listen "127.0.0.1:$port" >"$WORK/floor.log" 2>&1 &
		BROKER_PID=$!
		;;
	esac
	if ! wait_port "$port"; then
		say "$name did not start listening on 127.0.0.1:$port; its log:"
		tail -20 "$WORK/$name.log" >&2 || true
		stop_broker
		return 1
	fi
}



# bench NAME SCENARIO ARGS...: runs cp7bench against the running broker and
# keeps its SUMMARY line in $WORK/NAME-SCENARIO.sum (empty on failure).
bench() {
	local name=$1 scen=$2
	shift 2
	local out="$WORK/$name-$scen"
	settle
	echo "bin/cp7bench $* -p PORT -broker-pid PID" >"$out.cmd"
	timeout 180 bin/cp7bench "$@" -p "$PORT" -broker-pid "$BROKER_PID" -quiet >"$out.out" 2>"$out.err" || true
	grep '^SUMMARY ' "$out.out" | tail -1 >"$out.sum" || true
	if [ -s "$out.sum" ]; then
		say "$name $scen: $(cut -c1-400 "$out.sum")"
	else
		say "$name $scen: no summary; stderr: $(tail -3 "$out.err" | tr '\n' ' ')"
	fi
}

# val FILE KEY prints KEY's value from a SUMMARY file, or n/a.
val() {
	local v=""
	[ -s "$1" ] && v=$(sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1")
	echo "${v:-n/a}"
}

over_deadline() { [ "$SECONDS" -ge "$DEADLINE_S" ]; }

# ---------------------------------------------------------------- scenarios

FANIN=(pubsub -pubs 4 -subs 1 -t 'bench/in/%i' -ft 'bench/in/+' -q 0 -s 64)
FANOUT=(pubsub -pubs 1 -subs 1000 -t 'bench/out' -ft 'bench/out' -q 0 -s 64 -r 50 -duration "$WINDOW")
P2P=(pubsub -pubs 100 -subs 100 -t 'bench/p2p/%i' -ft 'bench/p2p/%i' -q 1 -s 64 -r 200 -w 64 -duration "$WINDOW")
IDLE=(conn -c "$IDLE_N" -procs 2 -ifaddr "$SRC_ADDRS" -k 600 -cc 200 -duration 5s)

# step_ok FILE: a max-rate step passes when the tool offered the rate (95%),
# nothing was lost, nothing failed, p99 is under the limit and RSS stayed
# under RSS_LIMIT_MB. It prints why not otherwise.
step_ok() {
	local f=$1
	[ -s "$f" ] || { echo "no summary"; return 1; }
	awk -v p99lim="$P99_LIMIT_US" -v rsslim="$((RSS_LIMIT_MB * 1024))" '
	{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END {
		n = 0
		if (v["send_rate"] < 0.95 * v["offered_rate"]) w[++n] = sprintf("only %.0f of %.0f msg/s could be sent (TCP back-pressure or the tool)", v["send_rate"], v["offered_rate"])
		if (v["lost"] != 0) w[++n] = sprintf("lost %s", v["lost"])
		if (v["errors"] != 0) w[++n] = sprintf("%s errors", v["errors"])
		if (v["p99_us"] >= p99lim) w[++n] = sprintf("p99 %.1f ms", v["p99_us"] / 1000)
		if (v["broker_rss_peak_kb"] > rsslim) w[++n] = sprintf("RSS %s kB", v["broker_rss_peak_kb"])
		if (n == 0) exit 0
		s = w[1]
		for (i = 2; i <= n; i++) s = s ", " w[i]
		print s
		exit 1
	}' "$f"
}

# try_rate NAME RATE: one max-rate step; a failed step is tried once more
# (other processes on a shared machine can spoil one window), and the rate
# fails only if both tries fail. The reason is in $why.
try_rate() {
	local name=$1 rate=$2
	bench "$name" "max-$rate" "${FANIN[@]}" -r $((rate / 4)) -duration "$STEP" -drain 2s
	why=$(step_ok "$WORK/$name-max-$rate.sum") && return 0
	over_deadline && return 1
	bench "$name" "max-$rate-retry" "${FANIN[@]}" -r $((rate / 4)) -duration "$STEP" -drain 2s
	local why2
	why2=$(step_ok "$WORK/$name-max-$rate-retry.sum") && return 0
	why="$why / retry: $why2"
	return 1
}

# max_search NAME: highest passing total fan-in rate. Doubling from 50,000
# msg/s (at most 6 steps), then bisection (at most 5 steps) to within 5%.
max_search() {
	local name=$1 lo=0 hi=0 rate=50000 n=0
	why=""
	: >"$WORK/$name-max.steps"
	while [ $n -lt 6 ] && ! over_deadline; do
		if try_rate "$name" "$rate"; then
			echo "$rate pass" >>"$WORK/$name-max.steps"
			lo=$rate
			rate=$((rate * 2))
		else
			echo "$rate fail: $why" >>"$WORK/$name-max.steps"
			hi=$rate
			break
		fi
		n=$((n + 1))
	done
	n=0
	while [ "$hi" -gt 0 ] && [ $((hi - lo)) -gt $((hi / 20)) ] && [ $n -lt 5 ] && ! over_deadline; do
		rate=$(((lo + hi) / 2 / 4 * 4))
		if try_rate "$name" "$rate"; then
			echo "$rate pass" >>"$WORK/$name-max.steps"
			lo=$rate
		else
			echo "$rate fail: $why" >>"$WORK/$name-max.steps"
			hi=$rate
		fi
		n=$((n + 1))
	done
	echo "$lo" >"$WORK/$name-max.rate"
	if [ "$hi" -eq 0 ]; then
		echo "not reached: every step passed up to $((rate / 2)) msg/s" >"$WORK/$name-max.limit"
	else
		grep "^$hi fail" "$WORK/$name-max.steps" | sed 's/^[0-9]* fail: //' >"$WORK/$name-max.limit"
	fi
	say "$name max sustained fan-in: $lo msg/s (next step failed: $(cat "$WORK/$name-max.limit"))"
}

run_broker() { # name
	local name=$1
	PORT=$(free_port)
	say "$name: starting on 127.0.0.1:$PORT"
	start_broker "$name" "$PORT" || return 0
	if [ "$name" = floor ]; then
		# The reference relay: only the message scenarios; it is not a
		# broker, so idle memory and the max-rate search mean nothing here.
		bench "$name" fanin "${FANIN[@]}" -r 50000 -duration "$WINDOW"
		bench "$name" fanout "${FANOUT[@]}"
		bench "$name" p2p "${P2P[@]}"
		stop_broker
		return 0
	fi
	# A fresh broker first: the idle-memory figure must not include what
	# earlier scenarios left allocated.
	bench "$name" idle "${IDLE[@]}"
	bench "$name" fanin "${FANIN[@]}" -r 50000 -duration "$WINDOW"
	bench "$name" fanout "${FANOUT[@]}"
	bench "$name" p2p "${P2P[@]}"
	max_search "$name"
	if ! kill -0 "$BROKER_PID" 2>/dev/null; then
		say "$name exited during the run; its log ends:"
		tail -5 "$WORK/$name.log" >&2 || true
	fi
	stop_broker
}

for b in $BROKERS; do
	case $b in
	mosquitto) [ $HAVE_MOSQ = 1 ] && run_broker mosquitto ;;
	cp7) [ $HAVE_CP7 = 1 ] && run_broker cp7 ;;
	floor) run_broker floor ;;
	*) say "unknown broker $b in BROKERS; use mosquitto, cp7 and/or floor" ;;
	esac
	if over_deadline; then
		say "deadline of ${DEADLINE_S}s reached; reporting what was measured"
		break
	fi
done

# ---------------------------------------------------------------- report

# ratio A B: A/B to 2 decimals when both are numbers and B is not zero.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) { r = a / b; printf (r >= 0.1 || r == 0) ? "%.2f" : "%.2g", r } else printf "n/a" }'
}
# fmt VALUE DECIMALS
fmt() {
	awk -v v="$1" -v d="$2" 'BEGIN { if (v ~ /^-?[0-9.]+$/ && v + 0 >= 0) printf "%.*f", d, v; else printf "n/a" }'
}
delivered() { # file
	local r e
	r=$(val "$1" recv)
	e=$(val "$1" expected)
	awk -v r="$r" -v e="$e" 'BEGIN { if (e ~ /^[0-9]+$/ && e > 0) printf "%.4f", r / e; else printf "n/a" }'
}
row() { # label cp7 mosq decimals [floor]
	local c m f fr=""
	c=$(fmt "$2" "$4")
	m=$(fmt "$3" "$4")
	f=""
	if [ $# -ge 5 ]; then
		f=$(fmt "$5" "$4")
		fr=$(ratio "$f" "$m")
	fi
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$c" "$m" "$(ratio "$c" "$m")" "$f" "$fr"
}
maxrate() { [ -s "$WORK/$1-max.rate" ] && cat "$WORK/$1-max.rate" || echo n/a; }

MOSQ_VERSION=$( (mosquitto -h 2>&1 || true) | head -1)
[ -n "$MOSQ_VERSION" ] || MOSQ_VERSION="Mosquitto not installed"
C="$WORK/cp7"
M="$WORK/mosquitto"
F="$WORK/floor"
{
	echo "<!-- compare.sh:begin -->"
	echo "## Latest run of benchmarks/compare.sh"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- load average (1 min) at the start $LOAD0, at the end $(cut -d' ' -f1 /proc/loadavg): other work on the machine spoils windows; compare the two brokers, and rerun when in doubt"
	echo "- machine: $(nproc) CPUs (nproc), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), open files per process $(ulimit -n)"
	echo "- brokers: CP7 $(git rev-parse --short HEAD 2>/dev/null || echo '?')$([ $HAVE_CP7 = 1 ] || echo ' (did not build: not measured)'), $MOSQ_VERSION"
	echo "- both brokers: loopback, max in-flight $MAX_INFLIGHT, max queued $MAX_QUEUED; Mosquitto with persistence off, set_tcp_nodelay true, max_connections -1"
	echo "- command: \`$CMDLINE\` (IDLE_N=$IDLE_N WINDOW=$WINDOW STEP=$STEP RSS_LIMIT_MB=$RSS_LIMIT_MB P99_LIMIT_US=$P99_LIMIT_US); took ${SECONDS}s"
	echo "- the load tool and the broker share the CPUs: figures are for comparing the two brokers in this run, not absolute capacity"
	echo
	echo "Ratio is CP7 / Mosquitto: below 1 is better for memory, CPU and latency; above 1 is better for rates and the delivered ratio."
	echo "Floor is benchmarks/floor, a single-threaded epoll relay that frames and forwards bytes with raw recv/send and does no other work (a map of filters; no sessions, no flow control, no validation): its CPU per message is about what the kernel alone charges for the scenario's reads and writes, close to the least any broker can score here, so floor/Mosquitto is about the best ratio any broker could reach in this run."
	echo
	echo "| metric | CP7 | Mosquitto | CP7/Mosquitto | floor | floor/Mosquitto |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
	row "memory per idle connection (bytes of RSS, N=$IDLE_N)" "$(val "$C-idle.sum" broker_bytes_per_conn)" "$(val "$M-idle.sum" broker_bytes_per_conn)" 0
	row "idle connections established (of $IDLE_N)" "$(val "$C-idle.sum" conns)" "$(val "$M-idle.sum" conns)" 0
	row "connect rate (connections/s)" "$(val "$C-idle.sum" connect_rate)" "$(val "$M-idle.sum" connect_rate)" 0
	for s in fanin fanout p2p; do
		case $s in
		fanin) label="fan-in 4→1, QoS 0, 200k msg/s" ;;
		fanout) label="fan-out 1→1000, QoS 0, 50k deliveries/s" ;;
		p2p) label="point-to-point 100 pairs, QoS 1, 20k msg/s" ;;
		esac
		row "$label: delivered ratio" "$(delivered "$C-$s.sum")" "$(delivered "$M-$s.sum")" 4 "$(delivered "$F-$s.sum")"
		row "$label: sent msg/s (below offered: broker back-pressure)" "$(val "$C-$s.sum" send_rate)" "$(val "$M-$s.sum" send_rate)" 0
		row "$label: delivered msg/s" "$(val "$C-$s.sum" recv_rate)" "$(val "$M-$s.sum" recv_rate)" 0 "$(val "$F-$s.sum" recv_rate)"
		row "$label: broker CPU µs per delivered message" "$(val "$C-$s.sum" broker_cpu_us_per_msg)" "$(val "$M-$s.sum" broker_cpu_us_per_msg)" 2 "$(val "$F-$s.sum" broker_cpu_us_per_msg)"
		row "$label: of which user space (utime only; the rest is the kernel's socket work)" "$(val "$C-$s.sum" broker_user_cpu_us_per_msg)" "$(val "$M-$s.sum" broker_user_cpu_us_per_msg)" 2 "$(val "$F-$s.sum" broker_user_cpu_us_per_msg)"
		row "$label: p50 latency (µs)" "$(val "$C-$s.sum" p50_us)" "$(val "$M-$s.sum" p50_us)" 0 "$(val "$F-$s.sum" p50_us)"
		row "$label: p99 latency (µs)" "$(val "$C-$s.sum" p99_us)" "$(val "$M-$s.sum" p99_us)" 0 "$(val "$F-$s.sum" p99_us)"
	done
	row "max sustained fan-in, QoS 0, nothing lost, p99 < $((P99_LIMIT_US / 1000)) ms (msg/s)" "$(maxrate cp7)" "$(maxrate mosquitto)" 0
	echo
	for b in cp7 mosquitto; do
		[ -s "$WORK/$b-max.steps" ] || continue
		echo "Max-rate search steps, $b: $(tr '\n' ';' <"$WORK/$b-max.steps" | sed 's/;$//; s/;/; /g')."
		echo
	done
	echo "Commands (PORT and PID are each broker's):"
	echo
	echo '```'
	for s in idle fanin fanout p2p; do
		f=$(ls "$WORK"/cp7-"$s".cmd "$WORK"/mosquitto-"$s".cmd 2>/dev/null | head -1 || true)
		[ -n "$f" ] && cat "$f"
	done
	echo "max-rate steps: bin/cp7bench ${FANIN[*]} -r RATE/4 -duration $STEP -drain 2s -p PORT -broker-pid PID"
	echo "floor relay: bin/floor -listen 127.0.0.1:PORT"
	echo '```'
	echo
	echo "Raw SUMMARY lines:"
	echo
	echo '```'
	for f in $(ls -v "$WORK"/*.sum 2>/dev/null); do
		[ -s "$f" ] && printf '%s: %s\n' "$(basename "$f" .sum)" "$(cat "$f")"
	done
	echo '```'
	echo "<!-- compare.sh:end -->"
} >"$WORK/section.md"

splice_section compare.sh "$WORK/section.md" "$RESULTS"
say "wrote $RESULTS"
sed -n '/| metric |/,/^$/p' "$WORK/section.md" >&2
