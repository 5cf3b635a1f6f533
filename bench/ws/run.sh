#!/usr/bin/env bash
# WebSocket benchmark: 10,000 idle authenticated sockets (memory per socket) and the latency of a
# user_state event fanned out to 1,000 subscribers. Arguments: [idle] [subscribers] [rounds].
# PROFILE=release (default) or dev selects the build of both server and bench client.
set -euo pipefail
cd "$(dirname "$0")/../.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
profile="${PROFILE:-release}"
if [ "$profile" = release ]; then
  cargo build --release -q -p switchboard -p switchboard-api --example ws_bench
  dir="${CARGO_TARGET_DIR:-target}/release"
else
  cargo build -q -p switchboard -p switchboard-api --example ws_bench
  dir="${CARGO_TARGET_DIR:-target}/debug"
fi
echo "profile $profile; fd limit $(ulimit -n); $(nproc) cores"
exec "$dir/examples/ws_bench" "$dir/switchboard" "${1:-10000}" "${2:-1000}" "${3:-20}"
