#!/usr/bin/env bash
# benchmarks/metrics.sh: what the metrics cost. In one run, on one cp7:
#   1. fan-in (4 publishers -> 1 subscriber, QoS 0, 64 B, RATE msg/s
#      offered) in PASSES pairs of windows, alternating: not scraped, then
#      /metrics scraped every second; broker CPU per delivered message of
#      each window (cp7bench -broker-pid: utime+stime over the window).
#   2. the cost of one scrape, with no connections and with CONNS idle
#      connections held: broker CPU over SCRAPES back-to-back scrapes minus
#      the same wall time idle (measured just before and just after,
#      averaged), divided by SCRAPES; the scrape's wall time and size.
# Rewrites its own section of benchmarks/RESULTS.md (between
# <!-- metrics.sh:begin --> and <!-- metrics.sh:end -->, appended at the end
# the first time). Every loop is bounded; the run takes about 2-3 minutes.
#
# Settings (environment): RATE (100000) WINDOW (8s) PASSES (3) CONNS
# (19000) SCRAPES (2000, at most, in SCRAPE_S (8) seconds) SRC_ADDRS RESULTS DEADLINE_S (400).
set -euo pipefail

cd "$(dirname "$0")/.."
RATE=${RATE:-100000}
WINDOW=${WINDOW:-8s}
PASSES=${PASSES:-3}
CONNS=${CONNS:-19000}
SCRAPES=${SCRAPES:-2000}
SCRAPE_S=${SCRAPE_S:-8}
SRC_ADDRS=${SRC_ADDRS:-127.0.0.2-127.0.0.9}
RESULTS=${RESULTS:-benchmarks/RESULTS.md}
DEADLINE_S=${DEADLINE_S:-400}

say() { printf 'metrics.sh: %s\n' "$*" >&2; }
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh

WORK=$(mktemp -d /tmp/cp7-metrics.XXXXXX)
BROKER_PID=""
SCRAPER_PID=""
HOLD_PID=""
cleanup() {
	local rc=$?
	[ -n "$SCRAPER_PID" ] && kill "$SCRAPER_PID" 2>/dev/null || true
	[ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	stop_broker
	say "logs in $WORK"
	exit $rc
}
trap cleanup EXIT
trap 'say "interrupted (SIGINT)"; exit 130' INT
trap 'say "terminated (SIGTERM)"; exit 143' TERM
command -v curl >/dev/null || { say "curl is needed"; exit 1; }

mkdir -p bin
say "building cp7 and cp7bench"
go build -o bin/cp7 ./cmd/cp7
go build -o bin/cp7bench ./cmd/cp7bench

PORT=$(free_port)
APORT=$(free_port "$PORT")
CMD=(bin/cp7 -listen "127.0.0.1:$PORT" -admin-listen "127.0.0.1:$APORT" -tls-listen "" -ws-listen "" -wss-listen "" -log-level warn)
say "starting: ${CMD[*]}"
"${CMD[@]}" >"$WORK/cp7.log" 2>&1 &
BROKER_PID=$!
wait_port "$PORT" || { say "cp7 did not start"; exit 1; }
wait_port "$APORT" || { say "admin listener did not start"; exit 1; }
METRICS="http://127.0.0.1:$APORT/metrics"

val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1"; }

# ---------------------------------------------------------------- 1. fan-in
FANIN=(pubsub -pubs 4 -subs 1 -t 'bench/in/%i' -ft 'bench/in/+' -q 0 -s 64 -r $((RATE / 4)) -duration "$WINDOW")
scraper() { while :; do curl -fsS -o /dev/null "$METRICS" || true; sleep 1; done; }
declare -a CPU_OFF CPU_ON
for i in $(seq 1 "$PASSES"); do
	for mode in off on; do
		[ "$SECONDS" -ge "$DEADLINE_S" ] && { say "deadline reached"; break 2; }
		settle
		if [ "$mode" = on ]; then
			scraper &
			SCRAPER_PID=$!
		fi
		out="$WORK/fanin-$mode-$i"
		timeout 120 bin/cp7bench "${FANIN[@]}" -p "$PORT" -broker-pid "$BROKER_PID" -quiet >"$out.out" 2>"$out.err" || true
		if [ -n "$SCRAPER_PID" ]; then
			kill "$SCRAPER_PID" 2>/dev/null || true
			wait "$SCRAPER_PID" 2>/dev/null || true
			SCRAPER_PID=""
		fi
		grep '^SUMMARY ' "$out.out" | tail -1 >"$out.sum" || true
		c=$(val "$out.sum" broker_cpu_us_per_msg)
		r=$(val "$out.sum" recv_rate)
		say "pass $i scrape=$mode: ${c:-n/a} µs/msg, ${r:-n/a} msg/s delivered, lost $(val "$out.sum" lost)"
		if [ "$mode" = off ]; then CPU_OFF+=("${c:-nan}"); else CPU_ON+=("${c:-nan}"); fi
	done
done
stats() { printf '%s\n' "$@" | awk '$1 != "nan" { n++; s += $1; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
	END { if (n) printf "%.3f %.3f %.3f", s / n, min, max; else print "nan nan nan" }'; }
read -r OFF_MEAN OFF_MIN OFF_MAX <<<"$(stats "${CPU_OFF[@]}")"
read -r ON_MEAN ON_MIN ON_MAX <<<"$(stats "${CPU_ON[@]}")"

# ------------------------------------------------- 2. one scrape, CONNS idle
# scrape_cost: broker CPU per scrape over SCRAPES back-to-back scrapes minus
# the same wall time idle (ms), then the median wall time of 20 (ms).
scrape_cost() {
	local a b c d e f n=0 end ms
	settle
	e=$(cpu_ticks) # idle before: keepalive wheel, $SYS, GC
	sleep "$SCRAPE_S"
	f=$(cpu_ticks)
	a=$(cpu_ticks)
	end=$((SECONDS + SCRAPE_S))
	while [ "$SECONDS" -lt "$end" ] && [ "$n" -lt "$SCRAPES" ]; do
		curl -fsS -o /dev/null "$METRICS"
		n=$((n + 1))
	done
	b=$(cpu_ticks)
	c=$(cpu_ticks) # idle after
	sleep "$SCRAPE_S"
	d=$(cpu_ticks)
	ms=$(for _ in $(seq 1 20); do curl -fsS -o /dev/null -w '%{time_total}\n' "$METRICS"; done | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] * 1000 }')
	say "$n scrapes: $((b - a)) ticks; ${SCRAPE_S}s idle: $((f - e)) ticks before, $((d - c)) after"
	awk -v s="$((b - a))" -v i="$(((d - c + f - e) / 2))" -v n="$n" -v ms="$ms" 'BEGIN { printf "%.3f %s %d", (s - i) * 10 / n, ms, n }'
}
read -r IDLE_CPU_MS IDLE_TIME_MS IDLE_N <<<"$(scrape_cost)"
say "scrape with no connections: $IDLE_CPU_MS ms CPU, $IDLE_TIME_MS ms wall"
say "holding $CONNS idle connections"
bin/cp7bench conn -c "$CONNS" -procs 2 -ifaddr "$SRC_ADDRS" -k 600 -cc 200 -duration 90s -p "$PORT" -quiet >"$WORK/hold.out" 2>"$WORK/hold.err" &
HOLD_PID=$!
open=0
for _ in $(seq 1 120); do
	open=$(curl -fsS "$METRICS" | awk '$1 == "cp7_connections_open" { print $2 }')
	[ "${open:-0}" -ge "$CONNS" ] && break
	kill -0 "$HOLD_PID" 2>/dev/null || break
	sleep 0.5
done
say "connections open: $open"
read -r SCRAPE_CPU_MS TIME_MS SCRAPE_N <<<"$(scrape_cost)"
SIZE=$(curl -fsS "$METRICS" | wc -c)
say "scrape at $open connections: $SCRAPE_CPU_MS ms CPU, $TIME_MS ms wall (median), $SIZE bytes"
kill "$HOLD_PID" 2>/dev/null || true
wait "$HOLD_PID" 2>/dev/null || true
HOLD_PID=""

# ---------------------------------------------------------------- report
SECTION="$WORK/section.md"
{
	echo "<!-- metrics.sh:begin -->"
	echo "## What the metrics cost (benchmarks/metrics.sh)"
	echo
	echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), CP7 $(git rev-parse --short HEAD 2>/dev/null || echo '?'), \`$0\` with RATE=$RATE WINDOW=$WINDOW PASSES=$PASSES CONNS=$CONNS SCRAPES=$SCRAPES, on $(nproc) cores shared with other work (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end): compare the rows with each other, not with other runs."
	echo
	echo "| fan-in 4→1, QoS 0, 64 B, $RATE msg/s offered | broker CPU µs per delivered message: mean (min–max over $PASSES windows) |"
	echo "| --- | ---: |"
	echo "| not scraped | $OFF_MEAN ($OFF_MIN–$OFF_MAX) |"
	echo "| /metrics scraped every second | $ON_MEAN ($ON_MIN–$ON_MAX) |"
	echo "| ratio scraped / not scraped | $(awk -v a="$ON_MEAN" -v b="$OFF_MEAN" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }') |"
	echo
	echo "The windows alternate on one broker (not scraped, scraped, ...). The counters are per loop and summed at scrape time, so the publish path pays the same with or without scrapes; what a scrape adds is its own CPU, below, once a second."
	echo
	echo "| one scrape of /metrics | no connections | $open connections open |"
	echo "| --- | ---: | ---: |"
	echo "| broker CPU per scrape (ms): $IDLE_N / $SCRAPE_N back-to-back scrapes in ${SCRAPE_S} s, minus ${SCRAPE_S} s idle | $IDLE_CPU_MS | $SCRAPE_CPU_MS |"
	echo "| wall time per scrape (ms, median of 20, curl on the same host) | $IDLE_TIME_MS | $TIME_MS |"
	echo "| body size (bytes) | | $SIZE |"
	echo
	echo "So a scrape a second costs the broker about $SCRAPE_CPU_MS ms of CPU per second, $(awk -v s="$SCRAPE_CPU_MS" -v c="$OFF_MEAN" -v r="$RATE" 'BEGIN { if (c > 0) printf "%.1f", 100 * s / (c * r / 1000); else print "n/a" }')% of what this fan-in costs unscraped; the spread between windows of the same kind is far larger. A scrape reads per-loop counters and a few registry counts, so its cost does not grow with connections (same with none and with $open). The cost is mostly the HTTP exchange (a new connection per curl); the handler alone is BenchmarkMetricsScrape in server/admin."
	echo
	echo "Commands: \`${CMD[*]}\` (ports free ones); \`bin/cp7bench ${FANIN[*]} -p PORT -broker-pid PID\`; scraper: \`curl $METRICS\` every second; idle connections: \`bin/cp7bench conn -c $CONNS -procs 2 -ifaddr $SRC_ADDRS -k 600 -cc 200 -duration 90s -p PORT\`. CPU is utime+stime from /proc/PID/stat (ticks of 10 ms)."
	echo
	echo "Raw SUMMARY lines:"
	echo
	echo '```'
	for f in "$WORK"/fanin-*.sum; do echo "$(basename "$f" .sum): $(cat "$f")"; done
	echo '```'
	echo "<!-- metrics.sh:end -->"
} >"$SECTION"
splice_section metrics.sh "$SECTION" "$RESULTS"
say "wrote the metrics.sh section of $RESULTS"
trap - INT TERM
