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

# shellcheck source=scripts/lib-apt.sh
. scripts/lib-apt.sh
ensure_debian_packages install-e2e-deps "nginx haproxy" haproxy nginx libnginx-mod-stream chromium

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
