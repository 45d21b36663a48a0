#!/usr/bin/env bash
# benchmarks/auth.sh: what authentication costs, CP7 next to Mosquitto in the
# same run, measured by the same load tool (cmd/cp7bench conn and pubsub).
# It rewrites the part of benchmarks/RESULTS.md between
# <!-- auth.sh:begin --> and <!-- auth.sh:end --> and keeps the rest.
#
# What it measures:
#   1. connect rate of CONN_N clients, each its own user (user-%i / pw-%i),
#      first connect (fresh broker) and again at once (reconnect storm: CP7
#      answers from its credential cache, Mosquitto hashes again), with:
#      anonymous; the same $7$ PBKDF2-SHA512 password file for both brokers
#      (mosquitto_passwd's format and its 101 iterations); CP7 with argon2id
#      entries (cp7 passwd's default; ARGON_N users); CP7 with a JWT (HS256
#      and RS256, every connect verifying: -auth-cache-ttl 0, then cached);
#   2. an unrelated publish stream (10 publishers -> 10 subscribers, QoS 0,
#      2,000 msg/s) alone, then while STORM_N new users connect whose $7$
#      entries cost STORM_ITER PBKDF2 iterations each (a properly slow hash):
#      p50/p99/max latency of the stream, CP7 and Mosquitto.
#
# The password files are made with python3 (hashlib, the same $7$ format as
# mosquitto_passwd; a test checks that format against mosquitto_passwd)
# and `cp7 passwd`; JWTs with openssl. Settings (environment): CONN_N (2000)
# ARGON_N (200) STORM_N (300) STORM_ITER (20000) WINDOW (8s) RESULTS.
# Every wait is bounded; the run stops itself at DEADLINE_S (default 280).
set -euo pipefail

cd "$(dirname "$0")/.."
CMDLINE="$0${*:+ $*}"
CONN_N=${CONN_N:-2000}
ARGON_N=${ARGON_N:-200}
STORM_N=${STORM_N:-300}
STORM_ITER=${STORM_ITER:-20000}
WINDOW=${WINDOW:-8s}
RESULTS=${RESULTS:-benchmarks/RESULTS.md}
DEADLINE_S=${DEADLINE_S:-280}

say() { printf 'auth.sh: %s\n' "$*" >&2; }
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh

for tool in mosquitto python3 openssl; do
	command -v "$tool" >/dev/null || { say "$tool is missing (scripts/install-deps.sh installs mosquitto)"; exit 1; }
done
LOAD0=$(cut -d' ' -f1,2,3 /proc/loadavg)
WORK=$(mktemp -d /tmp/cp7-auth.XXXXXX)
BROKER_PID=""
STORM_PID=""
cleanup() {
	local rc=$?
	[ -n "$STORM_PID" ] && kill "$STORM_PID" 2>/dev/null || true
	stop_broker
	say "logs and raw SUMMARY lines are in $WORK"
	exit $rc
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM
over_deadline() { [ "$SECONDS" -ge "$DEADLINE_S" ]; }

say "building cp7 and cp7bench"
mkdir -p bin
go build -o bin/cp7 ./cmd/cp7
go build -o bin/cp7bench ./cmd/cp7bench

# ---------------------------------------------------------------- credentials

# pbkdf2_file PREFIX N ITER: "PREFIX-i:$7$ITER$salt$hash" for password pw-i,
# i in 0..N-1, plus bench:benchpw (101 iterations) for the publish stream.
pbkdf2_file() {
	python3 - "$1" "$2" "$3" <<'EOF'
import base64, hashlib, os, sys
prefix, n, it = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def line(user, pw, it):
    salt = os.urandom(12)
    h = hashlib.pbkdf2_hmac("sha512", pw.encode(), salt, it, 64)
    return "%s:$7$%d$%s$%s" % (user, it, base64.b64encode(salt).decode(), base64.b64encode(h).decode())
print(line("bench", "benchpw", 101))
for i in range(n):
    print(line("%s-%d" % (prefix, i), "pw-%d" % i, it))
EOF
}
say "making password files ($CONN_N users at 101 iterations, $STORM_N at $STORM_ITER, $ARGON_N argon2id)"
pbkdf2_file user "$CONN_N" 101 >"$WORK/pw-pbkdf2"
pbkdf2_file storm "$STORM_N" "$STORM_ITER" >"$WORK/pw-storm"
: >"$WORK/pw-argon"
for i in $(seq 0 $((ARGON_N - 1))); do echo "pw-$i" | bin/cp7 passwd "$WORK/pw-argon" "user-$i"; done
chmod 0755 "$WORK" && chmod 0644 "$WORK"/pw-* # mosquitto started as root drops to user mosquitto

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
head -c 48 /dev/urandom | b64url >"$WORK/hs.key"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rs.pem" 2>/dev/null
openssl pkey -in "$WORK/rs.pem" -pubout -out "$WORK/rs.pub" 2>/dev/null
EXP=$(($(date +%s) + 3600))
CLAIMS=$(printf '{"sub":"jwtuser","exp":%d}' "$EXP" | b64url)
HS_HDR=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
RS_HDR=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
HS_TOKEN="$HS_HDR.$CLAIMS.$(printf '%s' "$HS_HDR.$CLAIMS" | openssl dgst -sha256 -mac HMAC -macopt "key:$(cat "$WORK/hs.key")" -binary | b64url)"
RS_TOKEN="$RS_HDR.$CLAIMS.$(printf '%s' "$RS_HDR.$CLAIMS" | openssl dgst -sha256 -sign "$WORK/rs.pem" -binary | b64url)"

# ---------------------------------------------------------------- brokers

PORT=""
# Each broker gets a fresh port: the last one's may still be in TIME_WAIT.
start_cp7() { # ARGS...
	PORT=$(free_port "$PORT")
	bin/cp7 -listen "127.0.0.1:$PORT" -tls-listen "" -ws-listen "" -wss-listen "" -log-level warn "$@" >>"$WORK/cp7.log" 2>&1 &
	BROKER_PID=$!
	wait_port "$PORT" || { say "cp7 did not start: $(tail -3 "$WORK/cp7.log")"; exit 1; }
}
start_mosquitto() { # PASSWORD_FILE or "" for anonymous
	PORT=$(free_port "$PORT")
	mosquitto_conf "$PORT" >"$WORK/mosquitto.conf"
	if [ -n "$1" ]; then
		sed -i 's/^allow_anonymous true/allow_anonymous false/' "$WORK/mosquitto.conf"
		echo "password_file $1" >>"$WORK/mosquitto.conf"
	fi
	mosquitto -c "$WORK/mosquitto.conf" >>"$WORK/mosquitto.log" 2>&1 &
	BROKER_PID=$!
	wait_port "$PORT" || { say "mosquitto did not start: $(tail -3 "$WORK/mosquitto.log")"; exit 1; }
}

# bench NAME ARGS...: one cp7bench run, its SUMMARY line in $WORK/NAME.sum.
bench() {
	local name=$1
	shift
	if over_deadline; then
		say "deadline of ${DEADLINE_S}s reached; skipping $name"
		: >"$WORK/$name.sum"
		return 0
	fi
	echo "bin/cp7bench $* -p PORT -broker-pid PID" >"$WORK/$name.cmd"
	timeout 90 bin/cp7bench "$@" -p "$PORT" -broker-pid "$BROKER_PID" -quiet >"$WORK/$name.out" 2>"$WORK/$name.err" || true
	grep '^SUMMARY ' "$WORK/$name.out" | tail -1 >"$WORK/$name.sum" || true
	say "$name: $(cut -c1-200 "$WORK/$name.sum")"
}

CONN=(conn -cc 100 -k 600 -duration 1s)
# connects NAME N ARGS...: first connect then reconnect storm on one broker.
connects() {
	local name=$1 n=$2
	shift 2
	settle
	bench "$name-first" "${CONN[@]}" -c "$n" -prefix "$name" "$@"
	settle
	bench "$name-again" "${CONN[@]}" -c "$n" -prefix "$name" "$@"
}
USERS=(-u 'user-%i' -P 'pw-%i')

for b in cp7 mosquitto; do
	if [ $b = cp7 ]; then start_cp7; else start_mosquitto ""; fi
	connects "$b-anon" "$CONN_N"
	stop_broker
	if [ $b = cp7 ]; then start_cp7 -password-file "$WORK/pw-pbkdf2"; else start_mosquitto "$WORK/pw-pbkdf2"; fi
	connects "$b-pbkdf2" "$CONN_N" "${USERS[@]}"
	stop_broker
done
start_cp7 -password-file "$WORK/pw-argon"
connects cp7-argon "$ARGON_N" "${USERS[@]}"
stop_broker
for alg in hs rs; do
	key="$WORK/hs.key"
	token=$HS_TOKEN
	if [ $alg = rs ]; then key="$WORK/rs.pub" token=$RS_TOKEN; fi
	start_cp7 -jwt-key "$key" -auth-cache-ttl 0
	settle
	bench "cp7-jwt$alg-nocache" "${CONN[@]}" -c "$CONN_N" -prefix "jwt$alg" -u jwtuser -P "$token"
	stop_broker
	start_cp7 -jwt-key "$key"
	connects "cp7-jwt$alg" "$CONN_N" -u jwtuser -P "$token"
	stop_broker
done

# The unrelated stream, alone and during a storm of new slow credentials.
STREAM=(pubsub -pubs 10 -subs 10 -t 'bench/lat/%i' -ft 'bench/lat/%i' -q 0 -s 64 -r 200 -duration "$WINDOW" -u bench -P benchpw)
for b in cp7 mosquitto; do
	if [ $b = cp7 ]; then start_cp7 -password-file "$WORK/pw-storm"; else start_mosquitto "$WORK/pw-storm"; fi
	settle
	bench "$b-stream-alone" "${STREAM[@]}" -prefix "$b-alone"
	settle
	# The storm starts 1 s into the window and lasts while it can.
	(
		sleep 1
		timeout 60 bin/cp7bench conn -cc 100 -k 600 -duration 1s -c "$STORM_N" -prefix "$b-storm" \
			-u 'storm-%i' -P 'pw-%i' -p "$PORT" -quiet >"$WORK/$b-storm.out" 2>"$WORK/$b-storm.err" || true
	) &
	STORM_PID=$!
	bench "$b-stream-storm" "${STREAM[@]}" -prefix "$b-during"
	wait "$STORM_PID" 2>/dev/null || true
	STORM_PID=""
	grep '^SUMMARY ' "$WORK/$b-storm.out" | tail -1 >"$WORK/$b-storm.sum" || true
	say "$b-storm: $(cut -c1-200 "$WORK/$b-storm.sum")"
	stop_broker
done

# ---------------------------------------------------------------- report

val() { # NAME KEY
	local v="" f="$WORK/$1.sum"
	[ -s "$f" ] && v=$(sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$f")
	echo "${v:-n/a}"
}
num() { awk -v v="$1" -v d="$2" 'BEGIN { if (v ~ /^-?[0-9.e+]+$/ && v + 0 >= 0) printf "%.*f", d, v; else printf "n/a" }'; }
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else printf "n/a" }'
}
crow() { # LABEL CP7NAME MOSQNAME: connect rates first/again, with failures
	local a1 a2 m1="n/a" m2="n/a"
	a1=$(num "$(val "$2-first" connect_rate)" 0)
	a2=$(num "$(val "$2-again" connect_rate)" 0)
	if [ -n "$3" ]; then
		m1=$(num "$(val "$3-first" connect_rate)" 0)
		m2=$(num "$(val "$3-again" connect_rate)" 0)
	fi
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$a1" "$a2" "$m1" "$m2" "$(ratio "$a1" "$m1")" "$(ratio "$a2" "$m2")"
}
fails() { # NAMES...: conn_fail per run
	local n s=""
	for n in "$@"; do s="$s $n=$(val "$n" conn_fail)"; done
	echo "$s"
}
lrow() { # BROKER
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" \
		"$(num "$(val "$1-stream-alone" p50_us)" 0)" "$(num "$(val "$1-stream-alone" p99_us)" 0)" "$(num "$(val "$1-stream-alone" max_us)" 0)" \
		"$(num "$(val "$1-stream-storm" p50_us)" 0)" "$(num "$(val "$1-stream-storm" p99_us)" 0)" "$(num "$(val "$1-stream-storm" max_us)" 0)" \
		"$(val "$1-storm" conns)/$STORM_N in $(num "$(val "$1-storm" connect_s)" 1) s"
}

SECTION="$WORK/section.md"
{
	echo "<!-- auth.sh:begin -->"
	echo "## Latest run of benchmarks/auth.sh: authentication cost, CP7 next to Mosquitto"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, kernel $(uname -r), $(go version | cut -d' ' -f3), $(mosquitto -h 2>/dev/null | head -1 | sed 's/ (.*//')"
	echo "- load average at the start $LOAD0, at the end $(cut -d' ' -f1,2,3 /proc/loadavg): the machine is shared with parallel work and the load tool runs beside the broker; compare the columns of one run"
	echo "- command: \`$CMDLINE\` (CONN_N=$CONN_N ARGON_N=$ARGON_N STORM_N=$STORM_N STORM_ITER=$STORM_ITER WINDOW=$WINDOW); took ${SECONDS}s"
	echo "- cp7: \`bin/cp7 -listen 127.0.0.1:P -log-level warn\` plus the method's flags (default -auth-workers, -auth-cache-ttl 10m); mosquitto: lib.sh's mosquitto_conf with \`allow_anonymous false\` and \`password_file\`"
	echo "- connects: \`cp7bench conn -c N -cc 100 -k 600 -duration 1s -u user-%i -P pw-%i\` (each client its own user); \"again\" is the same clients at once after the first run disconnected"
	echo
	echo "### Connect rate (connections/s; each client its own user)"
	echo
	echo "| method | CP7 first | CP7 again | Mosquitto first | Mosquitto again | CP7/Mosquitto first | again |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	crow "anonymous" cp7-anon mosquitto-anon
	crow "password file, \$7\$ PBKDF2-SHA512 x101 (same file)" cp7-pbkdf2 mosquitto-pbkdf2
	crow "password file, argon2id (cp7 passwd; $ARGON_N users)" cp7-argon ""
	crow "JWT HS256 (one token, cache on)" cp7-jwths ""
	crow "JWT RS256 (one token, cache on)" cp7-jwtrs ""
	printf '| JWT HS256, every connect verifies (-auth-cache-ttl 0) | %s | | | | | |\n' "$(num "$(val cp7-jwths-nocache connect_rate)" 0)"
	printf '| JWT RS256, every connect verifies (-auth-cache-ttl 0) | %s | | | | | |\n' "$(num "$(val cp7-jwtrs-nocache connect_rate)" 0)"
	echo
	echo "Failed connects:$(fails cp7-anon-first cp7-pbkdf2-first cp7-pbkdf2-again cp7-argon-first cp7-argon-again mosquitto-anon-first mosquitto-pbkdf2-first mosquitto-pbkdf2-again cp7-jwths-nocache cp7-jwtrs-nocache)"
	echo
	echo "### An unrelated publish stream during a storm of new credentials"
	echo
	echo "10 publishers -> 10 subscribers, QoS 0, 2,000 msg/s for $WINDOW (user \`bench\`); the storm: $STORM_N new users whose \$7\$ entries cost $STORM_ITER PBKDF2-SHA512 iterations each, starting 1 s into the window. Latency in µs."
	echo
	echo "| broker | alone p50 | alone p99 | alone max | storm p50 | storm p99 | storm max | storm connected |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
	lrow cp7
	lrow mosquitto
	echo
	echo "<!-- auth.sh:end -->"
} >"$SECTION"
splice_section auth.sh "$SECTION" "$RESULTS"
cat "$SECTION"
