#!/usr/bin/env bash
# Installs the Debian packages the server tests need and nothing else:
#   - mosquitto-clients: mosquitto_pub and mosquitto_sub, for
#     TestMosquittoClientsRoundTrip (go test ./server/)
#   - mosquitto: the peer broker the benchmarks compare against
#   - prometheus: its promtool lints a real /metrics scrape
#     (TestPromtoolCheckMetrics, go test ./server/admin/)
#
# Idempotent: does nothing when everything is already there; runs
# `apt-get update` only when a package is missing. Mosquitto's system service
# is kept from starting: it would hold :1883, and the tests and benchmarks run
# their own brokers on free loopback ports.
#
# Usage: scripts/install-deps.sh      (as root, or with sudo available)
set -euo pipefail

cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib-apt.sh
. scripts/lib-apt.sh
ensure_debian_packages install-deps "mosquitto prometheus" mosquitto-clients mosquitto prometheus

for bin in mosquitto_pub mosquitto_sub; do
	command -v "$bin" >/dev/null || die "$bin is still missing after install: check the apt output"
done
command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || die "mosquitto is still missing after install: check the apt output"
command -v promtool >/dev/null || die "promtool is still missing after installing prometheus: check the apt output"

echo "install-deps: mosquitto, mosquitto-clients and prometheus (promtool) are installed"
