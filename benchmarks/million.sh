#!/usr/bin/env bash
# benchmarks/million.sh: N idle MQTT connections to CP7 (default 1,000,000).
#
# It prints the preconditions that decide how many connections this machine
# allows (open-file limits, fs.nr_open, fs.file-max, the ephemeral port range,
# conntrack, free memory), raises soft limits up to the hard ones where it
# can, computes the largest count the limits allow, and runs at the smaller
# of that and N, saying plainly when and why it ran smaller. Then it starts
# bin/cp7 with -pprof, opens the connections with cp7bench conn (spread over
# source addresses 127.0.0.2... and over processes), and reports broker RSS
# and Go heap per connection and the connect rate.
#
# usage: benchmarks/million.sh [-n N]    (or N=... in the environment)
# Settings: HOLD (seconds the connections are held, default 20),
# KB_PER_CONN (memory the whole machine needs per connection, default 16:
# two loopback sockets of ~5 KB in the kernel, broker and client state).
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-1000000}
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-n=*) N=${1#-n=}; shift ;;
	-h | --help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "million.sh: unknown argument $1; use -n N" >&2; exit 2 ;;
	esac
done
case $N in '' | *[!0-9]*) echo "million.sh: N=$N is not a count" >&2; exit 2 ;; esac
HOLD=${HOLD:-20}
KB_PER_CONN=${KB_PER_CONN:-16}

say() { printf 'million.sh: %s\n' "$*"; }
case $HOLD in '' | *[!0-9]*) echo "million.sh: HOLD=$HOLD is not a number of seconds" >&2; exit 2 ;; esac
if [ "$HOLD" -lt 8 ]; then
	# The heap is sampled 3 s after the last connection is up, and the
	# sample itself (a GC over every connection) takes a few seconds more.
	say "HOLD=$HOLD s is too short to sample the heap while the connections are up; holding 8 s"
	HOLD=8
fi
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh
sysctl_val() { cat "/proc/sys/$(echo "$1" | tr . /)" 2>/dev/null || echo "absent"; }

WORK=$(mktemp -d /tmp/cp7-million.XXXXXX)
BROKER_PID=""
BENCH_PID=""
cleanup() {
	local rc=$?
	[ -n "$BENCH_PID" ] && kill -TERM "$BENCH_PID" 2>/dev/null && wait "$BENCH_PID" 2>/dev/null || true
	if [ -n "$BROKER_PID" ]; then
		kill -TERM "$BROKER_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$BROKER_PID" 2>/dev/null || true
		wait "$BROKER_PID" 2>/dev/null || true
	fi
	echo "million.sh: logs in $WORK"
	exit $rc
}
trap cleanup EXIT
trap 'echo "million.sh: interrupted"; exit 130' INT TERM

# ------------------------------------------------------------ preconditions

soft0=$(ulimit -Sn)
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$soft0" != "$hard" ]; then
	ulimit -Sn "$hard" 2>/dev/null || say "could not raise the soft open-file limit $soft0 to the hard $hard"
fi
soft=$(ulimit -Sn)
nr_open=$(sysctl_val fs.nr_open)
file_max=$(sysctl_val fs.file-max)
file_nr=$(awk '{print $1}' /proc/sys/fs/file-nr 2>/dev/null || echo 0)
port_range=$(sysctl_val net.ipv4.ip_local_port_range | tr -s '\t ' ' ')
conntrack_max=$(sysctl_val net.netfilter.nf_conntrack_max)
conntrack_count=$(sysctl_val net.netfilter.nf_conntrack_count)
somaxconn=$(sysctl_val net.core.somaxconn)
mem_avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)

echo "== preconditions"
echo "ulimit -n (open files per process): soft $soft0 -> $soft after raising, hard $hard"
echo "fs.nr_open (ceiling of any hard limit): $nr_open"
echo "fs.file-max (all processes): $file_max (in use: $file_nr)"
echo "net.ipv4.ip_local_port_range: $port_range"
echo "net.netfilter.nf_conntrack_max: $conntrack_max (tracked now: $conntrack_count)"
echo "net.core.somaxconn: $somaxconn"
echo "memory available: $((mem_avail_kb / 1024)) MiB; CPUs: $(nproc); kernel $(uname -r)"
echo "requested connections: $N"

# ------------------------------------------------------------ how many fit

reasons=()
max=$N
cap() { # limit why
	if [ "$1" -lt "$max" ]; then
		max=$1
		reasons+=("$2")
	fi
}
# The broker holds one file per connection plus its listeners, epoll and
# event fds: keep 100 spare. Its limit is this shell's soft limit (raised
# to the hard one above; raising the hard limit needs root and fs.nr_open).
if [ "$soft" != unlimited ]; then
	cap $((soft - 100)) "the broker is one process and may open $soft files (ulimit -n soft = hard = $hard; a higher hard limit needs root: ulimit -Hn, limits.conf or systemd LimitNOFILE, up to fs.nr_open $nr_open)"
fi
# Both ends of every connection are files on this machine.
if [ "$file_max" != absent ]; then
	cap $(((file_max - file_nr - 1000) / 2)) "fs.file-max $file_max allows that many files for both ends of each connection"
fi
# Memory: about KB_PER_CONN per connection, keeping 10% free.
cap $((mem_avail_kb * 9 / 10 / KB_PER_CONN)) "$((mem_avail_kb / 1024)) MiB available at about $KB_PER_CONN KiB per connection (kernel sockets, broker, client)"
# Conntrack, when loaded, tracks loopback connections too.
if [ "$conntrack_max" != absent ]; then
	cap $((conntrack_max - conntrack_count)) "nf_conntrack_max $conntrack_max (raise net.netfilter.nf_conntrack_max or exempt lo with a notrack rule)"
fi
[ "$max" -lt 1 ] && { say "the limits allow no connections at all"; exit 1; }
COUNT=$max

# Source addresses: each (source address, broker address) pair has the
# ephemeral range of ports; use enough addresses, with one to spare.
read -r plo phi <<<"$port_range"
ports=$((phi - plo + 1))
naddr=$(((COUNT + ports - 1) / ports + 1))
if [ "$naddr" -gt 253 ]; then
	naddr=253
	cap $((253 * ports)) "253 source addresses 127.0.0.2-127.0.0.254 x $ports ephemeral ports"
	COUNT=$max
fi
SRC="127.0.0.2-127.0.0.$((1 + naddr))"

# Client processes: cp7bench splits itself by its own RLIMIT_NOFILE.
if [ "$soft" = unlimited ]; then per_proc=$COUNT; else per_proc=$((soft - 64)); fi
procs=$(((COUNT + per_proc - 1) / per_proc))

echo
echo "== plan"
if [ "$COUNT" -lt "$N" ]; then
	echo "RUNNING $COUNT CONNECTIONS, NOT $N. The limits of this machine allow no more:"
	for r in "${reasons[@]}"; do echo "  - $r"; done
else
	echo "running the full $N connections"
fi
echo "source addresses $SRC ($naddr x $ports ports), $procs client process(es) of up to $per_proc connections"

# ------------------------------------------------------------ run

mkdir -p bin
if command -v go >/dev/null; then
	go build -o bin/cp7 ./cmd/cp7
	go build -o bin/cp7bench ./cmd/cp7bench
elif [ -x bin/cp7 ] && [ -x bin/cp7bench ]; then
	# A bigger machine lent for this run may have no Go toolchain: the
	# binaries built elsewhere (make build) travel in bin/.
	say "no Go toolchain here; using the prebuilt bin/cp7 and bin/cp7bench"
else
	say "no Go toolchain here and no prebuilt bin/cp7 and bin/cp7bench: run 'make build' where Go is, and bring bin/ along"
	exit 1
fi

PORT=$(free_port)
PPORT=$(free_port "$PORT")
bin/cp7 -listen "127.0.0.1:$PORT" -admin-listen "" -store memory -log-level warn -pprof "127.0.0.1:$PPORT" >"$WORK/cp7.log" 2>&1 &
BROKER_PID=$!
wait_port "$PORT" || { say "cp7 did not start listening on $PORT:"; cat "$WORK/cp7.log"; exit 1; }

# heap_alloc prints the broker's live Go heap in bytes after a GC: from
# /debug/vars (expvar) when the broker serves it, else from the MemStats
# comment block of /debug/pprof/heap?debug=1; empty when neither answers.
heap_alloc() {
	local v
	v=$(curl -fsS --max-time 10 "http://127.0.0.1:$PPORT/debug/vars" 2>/dev/null |
		sed -n 's/.*"HeapAlloc": *\([0-9]*\).*/\1/p' | head -1) || true
	if [ -z "$v" ]; then
		v=$(curl -fsS --max-time 30 "http://127.0.0.1:$PPORT/debug/pprof/heap?debug=1&gc=1" 2>/dev/null |
			sed -n 's/^# HeapAlloc = \([0-9]*\).*/\1/p' | head -1) || true
	fi
	echo "$v"
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$BROKER_PID/status"; }
open_fds() { find "/proc/$BROKER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

heap0=$(heap_alloc)
rss0=$(rss_kb)
fds0=$(open_fds)
CONNECT_LIMIT=$((COUNT / 500 + 60)) # seconds; at least 500 connections/s or it stops
# cp7bench connects (bounded by -connect-limit), then holds them -duration.
CMD=(bin/cp7bench conn -p "$PORT" -c "$COUNT" -ifaddr "$SRC" -k 900 -cc 500 -procs 0
	-duration "${HOLD}s" -connect-limit "${CONNECT_LIMIT}s" -broker-pid "$BROKER_PID" -quiet)
echo "broker: bin/cp7 -listen 127.0.0.1:$PORT -store memory -log-level warn -pprof 127.0.0.1:$PPORT (pid $BROKER_PID)"
echo "clients: ${CMD[*]}"
"${CMD[@]}" >"$WORK/bench.out" 2>"$WORK/bench.err" &
BENCH_PID=$!

# Wait (bounded) until the broker holds every connection, then let it settle
# and read its heap while they are all up.
deadline=$((SECONDS + CONNECT_LIMIT + 30))
while [ $SECONDS -lt $deadline ] && kill -0 "$BENCH_PID" 2>/dev/null; do
	[ $(($(open_fds) - fds0)) -ge "$COUNT" ] && break
	sleep 1
done
sleep 3
held=$(($(open_fds) - fds0))
heap1=$(heap_alloc)
rss1=$(rss_kb)
wait "$BENCH_PID" || true
BENCH_PID=""
SUM=$(grep '^SUMMARY ' "$WORK/bench.out" | tail -1 || true)
[ -n "$SUM" ] || { say "cp7bench gave no summary:"; tail -20 "$WORK/bench.err"; exit 1; }
v() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$SUM"; }

echo
echo "== result"
echo "$SUM"
conns=$(v conns)
echo "connections established: $conns of $COUNT (failed $(v conn_fail)); broker held $held at the heap sample"
echo "connect rate: $(v connect_rate) connections/s over $(v connect_s) s"
echo "broker RSS: $rss0 kB before, $rss1 kB with the connections up: $(awk -v a="$rss0" -v b="$rss1" -v n="$conns" 'BEGIN { if (n > 0) printf "%.0f", (b - a) * 1024 / n; else print "n/a" }') bytes per connection"
echo "broker RSS at the end of the hold (cp7bench): $(v broker_bytes_per_conn) bytes per connection"
if [ -n "$heap0" ] && [ -n "$heap1" ]; then
	echo "broker Go heap (live, after GC): $heap0 -> $heap1 bytes: $(awk -v a="$heap0" -v b="$heap1" -v n="$held" 'BEGIN { if (n > 0) printf "%.0f", (b - a) / n; else print "n/a" }') bytes per connection"
else
	echo "broker Go heap: not available (neither /debug/vars nor /debug/pprof/heap answered); RSS only"
fi
if [ "$COUNT" -lt "$N" ]; then
	echo "NOTE: this ran $COUNT connections, not the $N asked for, because of the limits listed under 'plan'."
fi
