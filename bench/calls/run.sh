#!/usr/bin/env bash
# Concurrent bridged WebRTC calls through the sharded media server (release build).
# Usage: bench/calls/run.sh [SECONDS] [CALLS...]    default: 15 s at 100 250 500 1000 calls
# BENCH_RECORD=1 records every call as well (the recorder's tap and thread, files in a temp dir).
# BENCH_DEFER=1 makes the generator read nothing until the window ends (kernel arrival stamps
# keep the delays exact), so the cores go to the server. BENCH_SHARDS=N sets the media threads
# (default: one per core). BENCH_PEER=rtpengine relays the same calls through rtpengine instead
# (userspace; apt-get install rtpengine-daemon), for the ratio against a named peer.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-15}"; shift || true
counts=("${@:-100 250 500 1000}")
flags=()
if [[ "${BENCH_RECORD:-0}" == 1 ]]; then flags+=(--record); fi
if [[ "${BENCH_DEFER:-0}" == 1 ]]; then flags+=(--defer-reads); fi
if [[ -n "${BENCH_SHARDS:-}" ]]; then flags+=(--shards "$BENCH_SHARDS"); fi
if [[ -n "${BENCH_PEER:-}" ]]; then flags+=(--peer "$BENCH_PEER"); fi
cargo bench -p switchboard-media --bench calls --no-run >/dev/null 2>&1 || cargo bench -p switchboard-media --bench calls --no-run
for n in ${counts[@]}; do
  echo "== $n calls, ${secs}s ${flags[*]+${flags[*]}}"
  cargo bench -q -p switchboard-media --bench calls -- --calls "$n" --secs "$secs" ${flags[@]+"${flags[@]}"} 2>/dev/null
done
