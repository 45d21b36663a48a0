#!/usr/bin/env bash
# benchmarks/million-cluster.sh: one CP7 cluster holding N subscribed clients.
#
# Part 1 (cross-node cost): a 2-node cluster and a single node side by side,
# the same load on each: point-to-point (P publishers on node A, each to its
# own subscriber on node B) and fan-in (P publishers on A, one subscriber of
# "fanin/#" on B). Prints messages delivered, broker CPU per message (both
# nodes' utime+stime over the messages delivered) and p50/p99 latency.
#
# Part 2 (scale): NODES cp7 nodes (embedded NATS, routes to the first three)
# and one cp7bench "sub" process per node connecting directly to it over
# spread source addresses; every client subscribes to its own topic
# mc/INDEX. Once all are up, publishers on node 0 send to a sample of
# clients on every node; the subscribers report what arrived and its
# latency. Records connections reached, connect rate, RSS per connection
# (every node), kernel memory (Slab + sockets) and cross-node latency.
#
# usage: benchmarks/million-cluster.sh [-n CLIENTS] [-nodes NODES]
# Settings (environment): N (default 1000000), NODES (default: N / 19000
# rounded up: each process here may hold 20,000 files), SAMPLE clients per
# node published to (default 20), HOLD seconds (default 20), RATE msg/s per
# publisher in part 1 (default 100), P publishers in part 1 (default 50),
# PART (1, 2 or both, default both), FOLD (-cluster-interest-fold, default
# 0: interest per filter), RESULTS file to write a section to
# (default: none; `make million-cluster` passes benchmarks/RESULTS.md).
# It sets net.netfilter.nf_conntrack_max when it is too low (and restores
# it), checks the open-file limits, fs.file-max, the port range and memory,
# and runs fewer clients when they would not fit, saying why.
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-1000000}
NODES=${NODES:-}
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-nodes) NODES=$2; shift 2 ;;
	-h | --help) sed -n '2,28p' "$0"; exit 0 ;;
	*) echo "million-cluster.sh: unknown argument $1; use -n CLIENTS -nodes NODES" >&2; exit 2 ;;
	esac
done
SAMPLE=${SAMPLE:-20}
HOLD=${HOLD:-20}
RATE=${RATE:-100}
P=${P:-50}
PART=${PART:-both}
RESULTS=${RESULTS:-}
for v in N SAMPLE HOLD RATE P; do
	case ${!v} in '' | *[!0-9]*) echo "million-cluster.sh: $v=${!v} is not a count" >&2; exit 2 ;; esac
done
PER_PROC_MAX=19000
[ -n "$NODES" ] || NODES=$(((N + PER_PROC_MAX - 1) / PER_PROC_MAX))
[ "$NODES" -ge 1 ] || NODES=1

say() { printf 'million-cluster.sh: %s\n' "$*"; }
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh
sysctl_val() { cat "/proc/sys/$(echo "$1" | tr . /)" 2>/dev/null || echo "absent"; }

WORK=$(mktemp -d /tmp/cp7-million-cluster.XXXXXX)
PIDS=()        # every process started, killed at exit
RESTORE=()     # "key value" sysctls to put back
cleanup() {
	local rc=$? p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for kv in "${RESTORE[@]}"; do
		# shellcheck disable=SC2086
		set -- $kv
		echo "$2" >"/proc/sys/$(echo "$1" | tr . /)" 2>/dev/null && say "restored $1 = $2" || say "could not restore $1 to $2"
	done
	say "logs in $WORK"
	exit $rc
}
trap cleanup EXIT
trap 'echo "million-cluster.sh: interrupted"; exit 130' INT TERM

ticks_of() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_of() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds_of() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
hz=$(getconf CLK_TCK)
kernel_kb() { # slab + socket buffers the kernel holds (kB)
	awk '/^Slab:/ {print $2}' /proc/meminfo
}

mkdir -p bin
if command -v go >/dev/null; then
	go build -o bin/cp7 ./cmd/cp7
	go build -o bin/cp7bench ./cmd/cp7bench
elif ! [ -x bin/cp7 ] || ! [ -x bin/cp7bench ]; then
	say "no Go toolchain and no prebuilt bin/cp7, bin/cp7bench: run 'make build' where Go is and bring bin/"
	exit 1
fi

# start_node NAME PORT ROUTEPORT SEEDS -> prints the PID. SEEDS "" = no cluster.
start_node() {
	local name=$1 port=$2 rport=$3 seeds=$4 args
	args=(-listen "127.0.0.1:$port" -log-level warn -tls-listen "" -ws-listen "" -wss-listen "")
	if [ -n "$rport" ]; then
		args+=(-node-name "$name" -cluster-listen "127.0.0.1:$rport" -cluster-store "$WORK/js-$name")
		[ -n "$seeds" ] && args+=(-cluster-routes "$seeds")
		args+=(-cluster-interest-fold "${FOLD:-0}")
	fi
	bin/cp7 "${args[@]}" >"$WORK/$name.log" 2>&1 &
	echo $!
}
wait_listen() { # PORT PID
	local i
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
sum_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2" | head -1; }

# ------------------------------------------------------------ part 1
part1_row() { # LABEL SUBFILE TICKS
	local recv p50 p99 cpu
	recv=$(sum_field recv "$2")
	p50=$(sum_field p50_us "$2")
	p99=$(sum_field p99_us "$2")
	cpu=$(awk -v t="$3" -v hz="$hz" -v n="$recv" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "n/a" }')
	printf '| %s | %s | %s | %s | %s |\n' "$1" "$recv" "$cpu" "$p50" "$p99"
}

run_pair() { # LABEL PUBPORT SUBPORT PIDS(space) TOPIC FILTER SUBS
	local label=$1 pport=$2 sport=$3 pids=$4 topic=$5 filter=$6 subs=$7 t0 t1 p sp
	bin/cp7bench sub -p "$sport" -c "$subs" -t "$filter" -duration "$((12))s" -quiet -prefix "s-$label" >"$WORK/p1-$label.sub" 2>"$WORK/p1-$label.sub.err" &
	sp=$!
	PIDS+=("$sp")
	sleep 2 # subscribers up and interest spread (the sub tool has no ready signal); bounded
	t0=0; for p in $pids; do t0=$((t0 + $(ticks_of "$p"))); done
	bin/cp7bench pub -p "$pport" -c "$P" -t "$topic" -r "$RATE" -duration 8s -quiet -prefix "p-$label" >"$WORK/p1-$label.pub" 2>"$WORK/p1-$label.pub.err" || true
	wait "$sp" || true
	t1=0; for p in $pids; do t1=$((t1 + $(ticks_of "$p"))); done
	part1_row "$label" "$WORK/p1-$label.sub" $((t1 - t0))
}

if [ "$PART" = 1 ] || [ "$PART" = both ]; then
	echo "== part 1: cross-node cost ($P publishers x $RATE msg/s for 8 s)"
	S=$(free_port); SP=$(start_node single "$S" "" ""); PIDS+=("$SP")
	A=$(free_port "$S"); AR=$(free_port "$A"); B=$(free_port "$AR"); BR=$(free_port "$B")
	AP=$(start_node pa "$A" "$AR" ""); PIDS+=("$AP")
	BP=$(start_node pb "$B" "$BR" "nats-route://127.0.0.1:$AR"); PIDS+=("$BP")
	for pp in "$S:$SP" "$A:$AP" "$B:$BP"; do
		wait_listen "${pp%%:*}" "${pp##*:}" || { say "a node did not start"; tail "$WORK"/*.log; exit 1; }
	done
	for _ in $(seq 1 100); do grep -q "node joined" "$WORK/pa.log" "$WORK/pb.log" 2>/dev/null && break; sleep 0.1; done
	{
		echo "| scenario | delivered | broker CPU µs/msg (all nodes) | p50 µs | p99 µs |"
		echo "| --- | --- | --- | --- | --- |"
		run_pair "p2p-single" "$S" "$S" "$SP" "p2p/%i" "p2p/%i" "$P"
		run_pair "p2p-cross-node" "$A" "$B" "$AP $BP" "p2p/%i" "p2p/%i" "$P"
		run_pair "fanin-single" "$S" "$S" "$SP" "fanin/%i" "fanin/#" 1
		run_pair "fanin-cross-node" "$A" "$B" "$AP $BP" "fanin/%i" "fanin/#" 1
	} | tee "$WORK/part1.md"
	for p in "$SP" "$AP" "$BP"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
fi

# ------------------------------------------------------------ part 2
if [ "$PART" = 2 ] || [ "$PART" = both ]; then
	echo
	echo "== part 2: $N clients on $NODES nodes"
	hard=$(ulimit -Hn); soft0=$(ulimit -Sn)
	[ "$hard" != unlimited ] && [ "$soft0" != "$hard" ] && ulimit -Sn "$hard" 2>/dev/null || true
	soft=$(ulimit -Sn)
	file_max=$(sysctl_val fs.file-max)
	file_nr=$(awk '{print $1}' /proc/sys/fs/file-nr)
	port_range=$(sysctl_val net.ipv4.ip_local_port_range | tr -s '\t ' ' ')
	ct_max=$(sysctl_val net.netfilter.nf_conntrack_max)
	mem_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
	echo "ulimit -n $soft (hard $hard); fs.file-max $file_max (in use $file_nr); ports $port_range; nf_conntrack_max $ct_max; MemAvailable $((mem_kb / 1024)) MiB"
	COUNT=$N
	why=()
	per_node=$(((COUNT + NODES - 1) / NODES))
	if [ "$soft" != unlimited ] && [ "$per_node" -gt $((soft - 200)) ]; then
		per_node=$((soft - 200)); why+=("each node may open $soft files: $per_node clients per node; use more -nodes")
	fi
	COUNT=$((per_node * NODES < COUNT ? per_node * NODES : COUNT))
	if [ "$file_max" != absent ] && [ $((COUNT * 2 + file_nr + 10000)) -gt "$file_max" ]; then
		COUNT=$(((file_max - file_nr - 10000) / 2)); why+=("fs.file-max $file_max: both ends of each connection are files here")
	fi
	# about 16 KiB per client on this machine (two kernel sockets, broker,
	# cp7bench), keeping a quarter of what is available free
	if [ $((COUNT * 16)) -gt $((mem_kb * 3 / 4)) ]; then
		COUNT=$((mem_kb * 3 / 4 / 16)); why+=("$((mem_kb / 1024)) MiB available at ~16 KiB per client, a quarter kept free")
	fi
	if [ "$ct_max" != absent ] && [ "$ct_max" -lt $((COUNT + 20000)) ]; then
		want=$((COUNT + 20000))
		if echo "$want" >/proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null; then
			RESTORE+=("net.netfilter.nf_conntrack_max $ct_max"); say "set nf_conntrack_max $ct_max -> $want"
		else
			COUNT=$((ct_max - 20000)); why+=("nf_conntrack_max $ct_max and no right to raise it")
		fi
	fi
	per_node=$(((COUNT + NODES - 1) / NODES))
	[ ${#why[@]} -gt 0 ] && { echo "RUNNING $COUNT CLIENTS, NOT $N:"; printf '  - %s\n' "${why[@]}"; }
	read -r plo phi <<<"$port_range"
	ports=$((phi - plo + 1))
	naddr=$(((per_node + ports - 1) / ports + 1))

	kern0=$(kernel_kb)
	declare -a NP NPID
	RP0=$(free_port); seeds=""
	for i in $(seq 0 $((NODES - 1))); do
		port=$(free_port); rport=$(free_port "$port")
		[ "$i" -eq 0 ] && rport=$RP0
		NP[$i]=$port
		pid=$(start_node "mc$i" "$port" "$rport" "$seeds")
		NPID[$i]=$pid; PIDS+=("$pid")
		[ "$i" -lt 3 ] && seeds="${seeds:+$seeds,}nats-route://127.0.0.1:$rport"
		wait_listen "$port" "$pid" || { say "node mc$i did not start"; tail "$WORK/mc$i.log"; exit 1; }
	done
	sleep 2 # routes form (bounded)
	rss0=0; for i in $(seq 0 $((NODES - 1))); do rss0=$((rss0 + $(rss_of "${NPID[$i]}"))); done
	t0=$(date +%s.%N)
	for i in $(seq 0 $((NODES - 1))); do
		# each node's clients come from their own range of source addresses
		a=$((2 + i * naddr % 250))
		bin/cp7bench sub -p "${NP[$i]}" -c "$per_node" -n $((i * per_node)) -t "mc/%i" -k 300 -cc 200 \
			-ifaddr "127.0.$((1 + i / 250)).$a-127.0.$((1 + i / 250)).$((a + naddr - 1))" \
			-duration "$((HOLD + per_node / 50 + 90))s" -connect-limit "$((per_node / 50 + 60))s" -quiet -prefix "mc$i" \
			>"$WORK/sub$i.out" 2>"$WORK/sub$i.err" &
		PIDS+=("$!"); SUBPID[$i]=$!
	done
	deadline=$((SECONDS + per_node / 50 + 90)) # at least 50 connects/s per node
	while [ $SECONDS -lt $deadline ]; do
		held=0; for i in $(seq 0 $((NODES - 1))); do held=$((held + $(fds_of "${NPID[$i]}"))); done
		[ "$held" -ge "$COUNT" ] && break
		sleep 1
	done
	t1=$(date +%s.%N)
	sleep 3
	held=0; rss1=0
	for i in $(seq 0 $((NODES - 1))); do
		held=$((held + $(fds_of "${NPID[$i]}"))); rss1=$((rss1 + $(rss_of "${NPID[$i]}")))
	done
	kern1=$(kernel_kb)
	echo "clients up: ~$held files held by $NODES nodes for $COUNT clients in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
	# Sample: SAMPLE clients on every node get one message a second from a
	# publisher on node 0 for 5 s (cross-node except node 0's own).
	for i in $(seq 0 $((NODES - 1))); do
		bin/cp7bench pub -p "${NP[0]}" -c "$SAMPLE" -n $((i * per_node)) -t "mc/%i" -r 1 -duration 5s -quiet -prefix "pub$i" \
			>"$WORK/pub$i.out" 2>"$WORK/pub$i.err" &
		PIDS+=("$!")
	done
	wait "${PIDS[@]: -$NODES}" 2>/dev/null || true
	for i in $(seq 0 $((NODES - 1))); do kill -INT "${SUBPID[$i]}" 2>/dev/null || true; done
	for i in $(seq 0 $((NODES - 1))); do wait "${SUBPID[$i]}" 2>/dev/null || true; done
	conns=0; recv=0; sent=0; worst99=0; rates=""
	for i in $(seq 0 $((NODES - 1))); do
		c=$(sum_field conns "$WORK/sub$i.out"); r=$(sum_field recv "$WORK/sub$i.out"); s=$(sum_field sent "$WORK/pub$i.out")
		p99=$(sum_field p99_us "$WORK/sub$i.out")
		conns=$((conns + ${c:-0})); recv=$((recv + ${r:-0})); sent=$((sent + ${s:-0}))
		rates="$rates $(sum_field connect_rate "$WORK/sub$i.out")"
		echo "node mc$i: clients ${c:-?}, sample sent ${s:-?} received ${r:-?}, p50 $(sum_field p50_us "$WORK/sub$i.out") µs p99 ${p99:-?} µs"
	done
	{
		echo
		echo "| clients asked | nodes | connected | connect time s | broker RSS / client (all nodes) | kernel slab / client | sample delivered / sent |"
		echo "| --- | --- | --- | --- | --- | --- | --- |"
		printf '| %s | %s | %s | %s | %s B | %s B | %s / %s |\n' "$N" "$NODES" "$conns" \
			"$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')" \
			"$(awk -v a="$rss0" -v b="$rss1" -v n="$conns" 'BEGIN{ if (n>0) printf "%.0f", (b-a)*1024/n; else print "n/a"}')" \
			"$(awk -v a="$kern0" -v b="$kern1" -v n="$conns" 'BEGIN{ if (n>0) printf "%.0f", (b-a)*1024/n; else print "n/a"}')" \
			"$recv" "$sent"
		echo
		echo "connect rate per node (cp7bench, connections/s):$rates"
	} | tee "$WORK/part2.md"
fi

if [ -n "$RESULTS" ]; then
	sec="$WORK/section.md"
	{
		echo "<!-- million-cluster:begin -->"
		echo "## Cluster over NATS (benchmarks/million-cluster.sh, $(date -u +%Y-%m-%d\ %H:%M) UTC, $(nproc) CPUs shared)"
		echo
		echo "Command: N=$N NODES=$NODES SAMPLE=$SAMPLE P=$P RATE=$RATE FOLD=${FOLD:-0} benchmarks/million-cluster.sh"
		echo
		[ -f "$WORK/part1.md" ] && cat "$WORK/part1.md"
		[ -f "$WORK/part2.md" ] && cat "$WORK/part2.md"
		echo "<!-- million-cluster:end -->"
	} >"$sec"
	splice_section million-cluster "$sec" "$RESULTS"
	say "wrote the section to $RESULTS"
fi
