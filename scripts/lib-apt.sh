# shellcheck shell=bash
# Sourced by the install scripts: ensure_debian_packages installs the Debian
# packages given that are missing, quietly, without letting their system
# services start (the tests run their own daemons on free loopback ports).
#
#   ensure_debian_packages TAG "unit1 unit2" pkg1 pkg2 ...
#
# TAG prefixes messages; the units are disabled where systemd runs, because
# a package's postinst enables them even when policy-rc.d kept them stopped.
# Idempotent: runs `apt-get update` only when a package is missing.

die() {
	echo "$TAG: $*" >&2
	exit 1
}

ensure_debian_packages() {
	TAG=$1
	local units=$2
	shift 2
	local missing=() p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			missing+=("$p")
		fi
	done
	((${#missing[@]} > 0)) || return 0
	command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} with this system's package manager"
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "not root and no sudo: run this script as root to install ${missing[*]}"
		sudo=(sudo)
	fi
	# policy-rc.d exiting 101 means "action forbidden" to invoke-rc.d: no
	# daemon starts during the install. Add one only if none exists, and
	# remove only the one added here.
	policy=/usr/sbin/policy-rc.d
	added_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# added by cp7 scripts during apt-get install\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		added_policy=1
	fi
	cleanup_policy() {
		if ((added_policy)); then "${sudo[@]}" rm -f "$policy"; fi
	}
	trap cleanup_policy EXIT
	echo "$TAG: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq || die "apt-get update failed: check that the Debian mirrors are reachable"
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed: see the apt output above"
	cleanup_policy
	trap - EXIT
	if [[ -d /run/systemd/system ]]; then
		local unit
		for unit in $units; do
			"${sudo[@]}" systemctl disable --now "$unit" >/dev/null 2>&1 || true
		done
	fi
}
