#!/usr/bin/env bash
# Digest-authenticated REGISTER/s, or (`calls`) call setups per second through the B2BUA:
# Switchboard next to Kamailio 5.6, side by side in one run.
# Usage: bench/sip/run.sh [--smoke] [--users N] [--secs S] [--rates R1,R2,…]
#                         [--servers switchboard,kamailio] [--kamailio-children N]
#        bench/sip/run.sh calls [--smoke] [--secs S] [--rates R1,R2,…] [--hold-ms MS] …
# --smoke: a few short steps against both servers (under a minute once built).
# Installs Kamailio, SIPp and Node from Debian when missing (as root), builds the release server
# (skipped when SWITCHBOARD_BIN names one), then runs bench/sip/bench.js. See bench/sip/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

source bench/lib/needs.sh
needs kamailio:kamailio sipp:sip-tester node:nodejs

if [[ -z "${SWITCHBOARD_BIN:-}" ]]; then
  cargo build --release -q -p switchboard
  export SWITCHBOARD_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/switchboard"
fi
ulimit -n 65536 2>/dev/null || true
if [[ "${1:-}" == calls ]]; then
  shift
  exec node bench/sip/calls.js "$@"
fi
exec node bench/sip/bench.js "$@"
