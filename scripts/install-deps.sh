#!/usr/bin/env bash
# Installs the Debian packages the server tests need and nothing else:
#   - mosquitto-clients: mosquitto_pub and mosquitto_sub, for
#     TestMosquittoClientsRoundTrip (go test ./server/)
#   - mosquitto: the peer broker the benchmarks compare against
#
# Idempotent: does nothing when everything is already there; runs
# `apt-get update` only when a package is missing. Mosquitto's system service
# is kept from starting: it would hold :1883, and the tests and benchmarks run
# their own brokers on free loopback ports.
#
# Usage: scripts/install-deps.sh      (as root, or with sudo available)
set -euo pipefail

die() {
	echo "install-deps: $*" >&2
	exit 1
}

pkgs=(mosquitto-clients mosquitto)
missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} > 0)); then
	command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} with this system's package manager"
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "not root and no sudo: run this script as root to install ${missing[*]}"
		sudo=(sudo)
	fi
	# Keep the package's init script from starting mosquitto on :1883 during
	# install: policy-rc.d exiting 101 means "action forbidden" to
	# invoke-rc.d. Only add one if none exists, and remove only that one.
	policy=/usr/sbin/policy-rc.d
	added_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# added by cp7 scripts/install-deps.sh during apt-get install\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		added_policy=1
	fi
	cleanup_policy() {
		if ((added_policy)); then "${sudo[@]}" rm -f "$policy"; fi
	}
	trap cleanup_policy EXIT
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq || die "apt-get update failed: check that the Debian mirrors are reachable"
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed: see the apt output above"
	cleanup_policy
	trap - EXIT
	# Where systemd runs, the postinst enables the unit even when policy-rc.d
	# kept it from starting now: disable it so no later boot holds :1883.
	if [[ -d /run/systemd/system ]]; then
		"${sudo[@]}" systemctl disable --now mosquitto >/dev/null 2>&1 || true
	fi
fi

for bin in mosquitto_pub mosquitto_sub; do
	command -v "$bin" >/dev/null || die "$bin is still missing after install: check the apt output"
done
command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || die "mosquitto is still missing after install: check the apt output"

echo "install-deps: mosquitto and mosquitto-clients are installed"
