#!/bin/bash
# Read and write syscalls, and broker CPU, per delivered message, from /proc/PID/io
# and cp7bench -broker-pid. Usage: benchmarks/syscalls.sh cp7|mosq
# (SCEN="cp7bench pubsub args" picks another scenario; CP7ARGS adds cp7 flags).
set -u
cd "$(dirname "$0")/.."; PORT=$((33000 + RANDOM % 1000))
say() { printf 'syscalls.sh: %s\n' "$*" >&2; }
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh
if [ $1 = cp7 ]; then bin/cp7 -listen 127.0.0.1:$PORT -admin-listen "" -store memory ${CP7ARGS:-} -log-level warn -ws-listen "" > /tmp/b.log 2>&1 & else
mosquitto_conf "$PORT" > /tmp/m.conf; mosquitto -c /tmp/m.conf > /tmp/b.log 2>&1 & fi
PID=$!; sleep 1
r0=$(awk '/syscr/{print $2}' /proc/$PID/io); w0=$(awk '/syscw/{print $2}' /proc/$PID/io)
OUT=$(bin/cp7bench pubsub ${SCEN:--pubs 100 -subs 100 -t bench/p2p/%i -ft bench/p2p/%i -q 1 -s 64 -r 200 -w 64} -duration 5s -p $PORT -broker-pid $PID -quiet 2>&1 | tail -1)
r1=$(awk '/syscr/{print $2}' /proc/$PID/io); w1=$(awk '/syscw/{print $2}' /proc/$PID/io)
recv=$(echo "$OUT" | tr ' ' '\n' | grep '^recv=' | cut -d= -f2); cpu=$(echo "$OUT" | tr ' ' '\n' | grep '^broker_cpu_us_per_msg=' | cut -d= -f2)
awk -v b="$1" -v n="$recv" -v r="$((r1 - r0))" -v w="$((w1 - w0))" -v c="$cpu" 'BEGIN { printf "%s: recv=%d reads/msg=%.2f writes/msg=%.2f cpu_us/msg=%s\n", b, n, r / n, w / n, c }'
kill $PID; wait $PID 2>/dev/null
