#!/usr/bin/env bash
# Queue calls: real SIP calls over an IP trunk into an inbound queue served by auto-answering
# desk-phone agents, ramping to 50 new calls/s. See bench/cc/README.md.
# Usage: bench/cc/run.sh [--smoke] [--agents N] [--rate R] [--ramp S] [--hold S] [--talk S]
# --smoke: 20 agents, 5 calls/s for a few seconds (under a minute once built).
# Installs SIPp and Node from Debian when missing (as root), builds the release server (skipped
# when SWITCHBOARD_BIN names one), then runs bench/cc/bench.js.
set -euo pipefail
cd "$(dirname "$0")/../.."

source bench/lib/needs.sh
needs sipp:sip-tester node:nodejs

if [[ -z "${SWITCHBOARD_BIN:-}" ]]; then
  cargo build --release -q -p switchboard
  export SWITCHBOARD_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/switchboard"
fi
ulimit -n 65536 2>/dev/null || true
exec node bench/cc/bench.js "$@"
