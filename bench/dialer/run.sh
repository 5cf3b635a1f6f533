#!/usr/bin/env bash
# Simulated dialer days: our predictive pacer, progressive and a VICIdial ADAPT_TAPERED replica
# on the same seeds (common random numbers), at 5, 10, 25, 50 and 100 agents, one day per seed;
# the table, the targets, and a timed byte-identical replay of a 100-agent day on one thread.
# Usage: bench/dialer/run.sh [SCENARIO.json] [extra args for the example]
#   defaults: the built-in scenario (= bench/dialer/scenario.json), seeds 1-20, 2 threads.
# Knobs (environment): DIALER_AGENTS (5,10,25,50,100), DIALER_SEEDS (1-20), DIALER_THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/../.."
args=(--agents "${DIALER_AGENTS:-5,10,25,50,100}" --seeds "${DIALER_SEEDS:-1-20}"
      --threads "${DIALER_THREADS:-2}" --replay 100)
if [[ $# -gt 0 && "$1" == *.json ]]; then args+=(--scenario "$1"); shift; fi
cargo build -q --release -p switchboard-dialer --example day
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/examples/day" "${args[@]}" "$@"
