#!/usr/bin/env bash
# REST benchmark: provisioning flows per second (device → user → token, the integration guide's
# bodies) and authenticated GET /api/users/{id} next to unauthenticated GET /healthz, with their
# ratio. Builds the release (bench profile) server and load generator, then runs them.
# Knobs: BENCH_FLOWS (200), BENCH_FLOW_WORKERS (8), BENCH_CONCURRENCY (32), BENCH_SECS (5).
set -euo pipefail
cd "$(dirname "$0")/../.."
ulimit -n 65536 2>/dev/null || true
exec cargo bench -q -p switchboard --bench rest
