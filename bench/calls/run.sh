#!/usr/bin/env bash
# Concurrent bridged WebRTC calls through one media server (release build).
# Usage: bench/calls/run.sh [SECONDS] [CALLS...]    default: 20 s at 100 250 500 1000 calls
# BENCH_RECORD=1 records every call as well (the recorder's tap and thread, files in a temp dir).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-20}"; shift || true
counts=("${@:-100 250 500 1000}")
record=()
if [[ "${BENCH_RECORD:-0}" == 1 ]]; then record=(--record); fi
cargo bench -p switchboard-media --bench calls --no-run >/dev/null 2>&1 || cargo bench -p switchboard-media --bench calls --no-run
for n in ${counts[@]}; do
  echo "== $n calls, ${secs}s${record:+ (recording)}"
  cargo bench -q -p switchboard-media --bench calls -- --calls "$n" --secs "$secs" ${record[@]+"${record[@]}"} 2>/dev/null
done
