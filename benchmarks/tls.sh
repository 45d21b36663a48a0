#!/usr/bin/env bash
# benchmarks/tls.sh: CP7's TLS listener (a goroutine per connection) next to
# its plain TCP listener (gnet), in one broker process, in the same run,
# measured by the same load tool (cmd/cp7bench -tls). It rewrites the part
# of benchmarks/RESULTS.md between <!-- tls.sh:begin --> and
# <!-- tls.sh:end --> (appending the markers when missing) and keeps the
# rest, the compare.sh section included.
#
# What it measures, on each listener in turn:
#   1. connect rate of CONN_N connections (conn mode, a full handshake each:
#      cp7bench keeps no TLS session cache), broker RSS per connection, and
#      broker CPU per connection: utime+stime of the broker from
#      /proc/PID/stat from before the first dial until the broker is idle
#      again after the last disconnect, divided by the connections;
#   2. point-to-point: 100 publisher/subscriber pairs, QoS 1, 20,000 msg/s;
#   3. fan-in: 4 publishers -> 1 subscriber, QoS 0, 100,000 msg/s;
# for 2 and 3: broker CPU µs per delivered message, p50/p99 latency (as
# cp7bench reports them with -broker-pid).
#
# A throwaway CA and server certificate (ECDSA P-256, for 127.0.0.1) are made
# in a temporary directory with openssl, or `go run ./benchmarks/gencert`
# without it (CERT_GEN=go forces that), and deleted at exit.
#
# Settings (environment): CONN_N (5000) WINDOW (5s) SRC_ADDRS RESULTS
# CERT_GEN (openssl|go). Every wait is bounded; the run takes about a
# minute on 2 cores and stops itself at DEADLINE_S (default 170) seconds.
set -euo pipefail

cd "$(dirname "$0")/.."
CMDLINE="$0${*:+ $*}"

CONN_N=${CONN_N:-5000}
WINDOW=${WINDOW:-5s}
SRC_ADDRS=${SRC_ADDRS:-127.0.0.2-127.0.0.9}
RESULTS=${RESULTS:-benchmarks/RESULTS.md}
DEADLINE_S=${DEADLINE_S:-170}
CERT_GEN=${CERT_GEN:-$(command -v openssl >/dev/null && echo openssl || echo go)}

say() { printf 'tls.sh: %s\n' "$*" >&2; }
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh

LOAD0=$(cut -d' ' -f1,2,3 /proc/loadavg)
WORK=$(mktemp -d /tmp/cp7-tls.XXXXXX)
PKI="$WORK/pki"
BROKER_PID=""
cleanup() {
	local rc=$?
	stop_broker
	rm -rf "$PKI" # the private keys go with the run
	say "logs and raw SUMMARY lines are in $WORK"
	exit $rc
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- build, certificates

mkdir -p bin "$PKI"
say "building cp7 and cp7bench"
go build -o bin/cp7 ./cmd/cp7
go build -o bin/cp7bench ./cmd/cp7bench

gen_openssl() {
	cat >"$PKI/x.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign
subjectKeyIdentifier = hash
[v3_srv]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
EOF
	local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	openssl req -x509 "${ec[@]}" -keyout "$PKI/ca.key" -out "$PKI/ca.pem" -days 1 \
		-subj "/CN=cp7 benchmark CA" -config "$PKI/x.cnf" -extensions v3_ca &&
		openssl req -new "${ec[@]}" -keyout "$PKI/key.pem" -out "$PKI/cert.csr" \
			-subj "/CN=localhost" -config "$PKI/x.cnf" &&
		openssl x509 -req -in "$PKI/cert.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -set_serial 2 \
			-days 1 -sha256 -extfile "$PKI/x.cnf" -extensions v3_srv -out "$PKI/cert.pem"
}
say "making a throwaway CA and server certificate with $CERT_GEN"
case $CERT_GEN in
openssl) gen_openssl >"$WORK/certs.log" 2>&1 || { say "openssl failed:"; cat "$WORK/certs.log" >&2; exit 1; } ;;
go) go run ./benchmarks/gencert -dir "$PKI" ;;
*) say "CERT_GEN=$CERT_GEN: use openssl or go"; exit 2 ;;
esac

# ---------------------------------------------------------------- broker

TCP_PORT=$(free_port)
TLS_PORT=$(free_port "$TCP_PORT")
BROKER_CMD=(bin/cp7 -listen "127.0.0.1:$TCP_PORT" -tls-listen "127.0.0.1:$TLS_PORT"
	-tls-cert "$PKI/cert.pem" -tls-key "$PKI/key.pem" -ws-listen "" -wss-listen "" -admin-listen "" -store memory -log-level warn)
say "starting: ${BROKER_CMD[*]}"
"${BROKER_CMD[@]}" >"$WORK/cp7.log" 2>&1 &
BROKER_PID=$!
if ! wait_port "$TCP_PORT" || ! wait_port "$TLS_PORT"; then
	say "cp7 did not listen on $TCP_PORT and $TLS_PORT; its log:"
	tail -20 "$WORK/cp7.log" >&2 || true
	exit 1
fi

CLK_TCK=$(getconf CLK_TCK)


over_deadline() { [ "$SECONDS" -ge "$DEADLINE_S" ]; }

# bench NAME LISTENER ARGS...: runs cp7bench against one listener and keeps
# its SUMMARY line in $WORK/NAME-LISTENER.sum (empty on failure), and the
# broker's CPU ticks from before it to idle after it in .ticks.
bench() {
	local name=$1 l=$2 t0 t1
	shift 2
	local out="$WORK/$name-$l" port=$TCP_PORT tlsargs=()
	if [ "$l" = tls ]; then
		port=$TLS_PORT
		tlsargs=(-tls -cafile "$PKI/ca.pem")
	fi
	if over_deadline; then
		say "deadline of ${DEADLINE_S}s reached; skipping $name $l"
		: >"$out.sum"
		return 0
	fi
	settle
	echo "bin/cp7bench $*${tlsargs[*]:+ -tls -cafile ca.pem} -p PORT -broker-pid PID" >"$out.cmd"
	t0=$(cpu_ticks)
	timeout 60 bin/cp7bench "$@" "${tlsargs[@]}" -p "$port" -broker-pid "$BROKER_PID" -quiet >"$out.out" 2>"$out.err" || true
	settle
	t1=$(cpu_ticks)
	echo $((t1 - t0)) >"$out.ticks"
	grep '^SUMMARY ' "$out.out" | tail -1 >"$out.sum" || true
	if [ -s "$out.sum" ]; then
		say "$name $l: $(cut -c1-300 "$out.sum")"
	else
		say "$name $l: no summary; stderr: $(tail -3 "$out.err" | tr '\n' ' ')"
	fi
}

CONN=(conn -c "$CONN_N" -procs 2 -ifaddr "$SRC_ADDRS" -k 600 -cc 200 -duration 1s)
P2P=(pubsub -pubs 100 -subs 100 -t 'bench/p2p/%i' -ft 'bench/p2p/%i' -q 1 -s 64 -r 200 -w 64 -duration "$WINDOW")
FANIN=(pubsub -pubs 4 -subs 1 -t 'bench/in/%i' -ft 'bench/in/+' -q 0 -s 64 -r 25000 -duration "$WINDOW")

# TCP then TLS for each scenario, so drift in the machine's load hits both.
for l in tcp tls; do bench conn "$l" "${CONN[@]}"; done
for l in tcp tls; do bench p2p "$l" "${P2P[@]}"; done
for l in tcp tls; do bench fanin "$l" "${FANIN[@]}"; done
if ! kill -0 "$BROKER_PID" 2>/dev/null; then
	say "cp7 exited during the run; its log ends:"
	tail -5 "$WORK/cp7.log" >&2 || true
fi
stop_broker

# ---------------------------------------------------------------- report

val() { # FILE KEY: KEY's value from a SUMMARY file, or n/a
	local v=""
	[ -s "$1" ] && v=$(sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1")
	echo "${v:-n/a}"
}
ratio() { # A B: A/B when both are numbers and B is not zero
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) { r = a / b; printf (r >= 0.1 || r == 0) ? "%.2f" : "%.2g", r } else printf "n/a" }'
}
fmt() { # VALUE DECIMALS
	awk -v v="$1" -v d="$2" 'BEGIN { if (v ~ /^-?[0-9.]+$/ && v + 0 >= 0) printf "%.*f", d, v; else printf "n/a" }'
}
delivered() { # FILE: recv / expected
	awk -v r="$(val "$1" recv)" -v e="$(val "$1" expected)" 'BEGIN { if (e ~ /^[0-9]+$/ && e > 0) printf "%.4f", r / e; else printf "n/a" }'
}
conn_cpu_us() { # LISTENER: broker CPU µs per established connection, connect to disconnect
	local f="$WORK/conn-$1"
	[ -s "$f.ticks" ] && [ -s "$f.sum" ] || { echo n/a; return; }
	awk -v t="$(cat "$f.ticks")" -v n="$(val "$f.sum" conns)" -v hz="$CLK_TCK" \
		'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else printf "n/a" }'
}
row() { # LABEL TCP TLS DECIMALS
	local a b
	a=$(fmt "$2" "$4")
	b=$(fmt "$3" "$4")
	printf '| %s | %s | %s | %s |\n' "$1" "$a" "$b" "$(ratio "$b" "$a")"
}

S="$WORK"
{
	echo "<!-- tls.sh:begin -->"
	echo "## Latest run of benchmarks/tls.sh: TLS listener next to plain TCP"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(nproc) CPUs (nproc), kernel $(uname -r), $(go version | cut -d' ' -f3)"
	echo "- load average (1, 5, 15 min) at the start $LOAD0, at the end $(cut -d' ' -f1,2,3 /proc/loadavg): the load tool and the broker share the CPUs, and other work spoils windows; compare the two columns of this run, and rerun when in doubt"
	echo "- broker: CP7 $(git rev-parse --short HEAD 2>/dev/null || echo '?'), one process with both listeners: \`bin/cp7 -listen 127.0.0.1:P1 -tls-listen 127.0.0.1:P2 -tls-cert cert.pem -tls-key key.pem -ws-listen \"\" -wss-listen \"\" -log-level warn\`"
	echo "- TLS: throwaway ECDSA P-256 server certificate (made with $CERT_GEN), Go's defaults on both sides (TLS 1.3), a full handshake per connection (cp7bench keeps no session cache)"
	echo "- command: \`$CMDLINE\` (CONN_N=$CONN_N WINDOW=$WINDOW); took ${SECONDS}s"
	echo
	echo "TLS/TCP is the TLS column over the TCP column: above 1 is worse for CPU, memory and latency, better for rates."
	echo
	echo "| metric | TCP (gnet) | TLS (goroutine listener) | TLS/TCP ratio |"
	echo "| --- | ---: | ---: | ---: |"
	row "connections established (of $CONN_N)" "$(val "$S/conn-tcp.sum" conns)" "$(val "$S/conn-tls.sum" conns)" 0
	row "connect rate (connections/s, $CONN_N connections)" "$(val "$S/conn-tcp.sum" connect_rate)" "$(val "$S/conn-tls.sum" connect_rate)" 0
	row "broker CPU per connection, connect to disconnect (µs)" "$(conn_cpu_us tcp)" "$(conn_cpu_us tls)" 1
	row "broker memory per idle connection (bytes of RSS)" "$(val "$S/conn-tcp.sum" broker_bytes_per_conn)" "$(val "$S/conn-tls.sum" broker_bytes_per_conn)" 0
	for s in p2p fanin; do
		case $s in
		p2p) label="point-to-point 100 pairs, QoS 1, 20k msg/s" ;;
		fanin) label="fan-in 4→1, QoS 0, 100k msg/s" ;;
		esac
		row "$label: delivered ratio" "$(delivered "$S/$s-tcp.sum")" "$(delivered "$S/$s-tls.sum")" 4
		row "$label: delivered msg/s" "$(val "$S/$s-tcp.sum" recv_rate)" "$(val "$S/$s-tls.sum" recv_rate)" 0
		row "$label: broker CPU µs per delivered message" "$(val "$S/$s-tcp.sum" broker_cpu_us_per_msg)" "$(val "$S/$s-tls.sum" broker_cpu_us_per_msg)" 2
		row "$label: p50 latency (µs)" "$(val "$S/$s-tcp.sum" p50_us)" "$(val "$S/$s-tls.sum" p50_us)" 0
		row "$label: p99 latency (µs)" "$(val "$S/$s-tcp.sum" p99_us)" "$(val "$S/$s-tls.sum" p99_us)" 0
	done
	echo
	echo "Broker CPU per connection is utime+stime from /proc/PID/stat, read before the first dial and again once the broker is idle after the last disconnect (ticks of 1/$CLK_TCK s), divided by the connections established; the other CPU figures are cp7bench's (-broker-pid, over the publish window)."
	echo
	echo "Commands (PORT is the TCP or TLS listener's, PID the broker's; TLS adds \`-tls -cafile ca.pem\`):"
	echo
	echo '```'
	for s in conn p2p fanin; do
		for l in tcp tls; do [ -s "$S/$s-$l.cmd" ] && cat "$S/$s-$l.cmd"; done
	done
	echo '```'
	echo
	echo "Raw SUMMARY lines:"
	echo
	echo '```'
	for s in conn p2p fanin; do
		for l in tcp tls; do
			[ -s "$S/$s-$l.sum" ] && printf '%s-%s: %s\n' "$s" "$l" "$(cat "$S/$s-$l.sum")"
		done
	done
	echo '```'
	echo "<!-- tls.sh:end -->"
} >"$WORK/section.md"

splice_section tls.sh "$WORK/section.md" "$RESULTS"
say "wrote $RESULTS"
sed -n '/| metric |/,/^$/p' "$WORK/section.md" >&2
