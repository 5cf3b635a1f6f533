#!/usr/bin/env bash
# The whole test suite: hygiene, Rust tests on SQLite and on PostgreSQL, and the tests that drive
# the real webitel-sdk (Node) and Chromium. Installs what it needs first, so a fresh machine works.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

PG_URL=${SWITCHBOARD_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}

step "tools"
scripts/install-test-deps.sh

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build"
cargo build --workspace --locked

step "Rust tests (SQLite)"
cargo test --workspace --locked

step "Rust tests (PostgreSQL at ${PG_URL%%\?*})"
if psql "$PG_URL" -qtAc 'select 1' >/dev/null 2>&1 ||
   { pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start 2>/dev/null &&
     sleep 2 && psql "$PG_URL" -qtAc 'select 1' >/dev/null 2>&1; }; then
  # Databases left by earlier runs of the suite.
  for db in $(psql "$PG_URL" -qtAc "select datname from pg_database where datname like 'sb_test_%'"); do
    psql "$PG_URL" -qc "drop database if exists $db" >/dev/null || true
  done
  SWITCHBOARD_TEST_PG="$PG_URL" cargo test --locked -p switchboard-api -p switchboard --tests
else
  echo "PostgreSQL is not reachable at $PG_URL" >&2
  exit 1
fi

bin="${CARGO_TARGET_DIR:-$root/target}/debug/switchboard"
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
for suite in tests/sdk tests/e2e tests/demo; do
  if [ -f "$suite/package.json" ]; then
    step "Node tests with the real webitel-sdk ($suite)"
    (cd "$suite" && npm ci --no-audit --no-fund --loglevel=error &&
      SWITCHBOARD_BIN="$bin" npm test)
  fi
done

# The registration benchmark's smoke run (Switchboard beside Kamailio, a few seconds each): keeps
# bench/sip working; the debug build's figures mean nothing, the full run is bench/sip/run.sh.
step "benchmark smoke (bench/sip, debug build)"
SWITCHBOARD_BIN="$bin" bench/sip/run.sh --smoke
# The call-setup benchmark's smoke run (B2BUA beside Kamailio as a stateful proxy, two short
# steps each): keeps bench/sip/run.sh calls working; the full run prints the figures.
step "benchmark smoke (bench/sip calls, debug build)"
SWITCHBOARD_BIN="$bin" bench/sip/run.sh calls --smoke
# The queue benchmark's smoke run (20 agents, 5 calls/s for a few seconds): fails on a lost or
# stuck call; the full run is bench/cc/run.sh.
step "benchmark smoke (bench/cc, debug build)"
SWITCHBOARD_BIN="$bin" bench/cc/run.sh --smoke

echo
echo "all suites passed"
