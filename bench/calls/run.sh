#!/usr/bin/env bash
# Concurrent bridged WebRTC calls through one media server (release build).
# Usage: bench/calls/run.sh [SECONDS] [CALLS...]    default: 20 s at 100 250 500 1000 calls
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-20}"; shift || true
counts=("${@:-100 250 500 1000}")
cargo bench -p switchboard-media --bench calls --no-run >/dev/null 2>&1 || cargo bench -p switchboard-media --bench calls --no-run
for n in ${counts[@]}; do
  echo "== $n calls, ${secs}s"
  cargo bench -q -p switchboard-media --bench calls -- --calls "$n" --secs "$secs" 2>/dev/null
done
