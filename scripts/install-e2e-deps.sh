#!/usr/bin/env bash
# Installs what the e2e tests (go test ./e2e/) need and nothing else:
#   - Debian packages: haproxy, nginx + libnginx-mod-stream, chromium
#   - mqtt.js from the npm registry into e2e/browser/node_modules
#
# Idempotent: does nothing when everything is already there; runs
# `apt-get update` only when a package is missing. The package's own system
# services (nginx on :80, haproxy) are kept from starting, because the tests
# run their own instances as the current user on free loopback ports and a
# system daemon holding ports would only get in the way.
#
# Usage: scripts/install-e2e-deps.sh      (as root, or with sudo available)
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

die() {
	echo "install-e2e-deps: $*" >&2
	exit 1
}

# --- Debian packages ---------------------------------------------------------

pkgs=(haproxy nginx libnginx-mod-stream chromium)
missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} > 0)); then
	command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} with this system's package manager (the tests need haproxy, nginx with the stream module, and chromium)"
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "not root and no sudo: run this script as root to install ${missing[*]}"
		sudo=(sudo)
	fi
	# Keep the packages' init scripts from starting daemons during install:
	# policy-rc.d exiting 101 means "action forbidden" to invoke-rc.d.
	# Only add one if none exists, and remove only the one added here.
	policy=/usr/sbin/policy-rc.d
	added_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# added by cp7 scripts/install-e2e-deps.sh during apt-get install\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		added_policy=1
	fi
	cleanup_policy() {
		if ((added_policy)); then "${sudo[@]}" rm -f "$policy"; fi
	}
	trap cleanup_policy EXIT
	echo "install-e2e-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq || die "apt-get update failed: check that the Debian mirrors are reachable"
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed: see the apt output above"
	cleanup_policy
	trap - EXIT
	# Where systemd runs, the units are enabled by the packages' postinst even
	# when policy-rc.d kept them from starting now: disable and stop them so
	# no later boot starts a daemon holding :80 or haproxy's ports.
	if [[ -d /run/systemd/system ]]; then
		for unit in nginx haproxy; do
			"${sudo[@]}" systemctl disable --now "$unit" >/dev/null 2>&1 || true
		done
	fi
fi

for bin in haproxy nginx; do
	command -v "$bin" >/dev/null || [[ -x /usr/sbin/$bin ]] || die "$bin is still missing after install: check the apt output"
done
[[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] ||
	die "/usr/lib/nginx/modules/ngx_stream_module.so is missing: install libnginx-mod-stream"
command -v chromium >/dev/null || die "chromium is still missing after install: check the apt output"

# --- mqtt.js -----------------------------------------------------------------

browser="$root/e2e/browser"
if [[ ! -f $browser/node_modules/mqtt/dist/mqtt.min.js ]]; then
	command -v npm >/dev/null || die "npm not found: install Node.js and npm (Debian: apt-get install nodejs npm)"
	echo "install-e2e-deps: installing mqtt.js into e2e/browser/node_modules"
	(cd "$browser" && npm ci --no-audit --no-fund --loglevel=error) ||
		die "npm ci in e2e/browser failed: check that the npm registry is reachable and package-lock.json is valid"
	[[ -f $browser/node_modules/mqtt/dist/mqtt.min.js ]] ||
		die "e2e/browser/node_modules/mqtt/dist/mqtt.min.js missing after npm ci: check the mqtt version in package.json"
fi

echo "install-e2e-deps: haproxy, nginx (stream), chromium and mqtt.js are installed"
