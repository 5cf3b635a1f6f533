#!/usr/bin/env bash
# Installs the system packages the tests use, only when they are missing.
set -euo pipefail
need=()
command -v node >/dev/null || need+=(nodejs npm)
command -v psql >/dev/null || need+=(postgresql-client)
command -v pkg-config >/dev/null || need+=(pkg-config)
# libopus for the media engine's Opus<->G.711 transcoder (linked through pkg-config).
pkg-config --exists opus 2>/dev/null || need+=(libopus-dev)
# Browser tests (tests/e2e) drive Debian's Chromium.
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
# Recording checks in tests/e2e: ffprobe/ffmpeg for duration and decoding, SoX for levels.
if ! command -v ffprobe >/dev/null || ! command -v sox >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ffmpeg sox
fi
# Desk phone and trunk tests: SIPp (sip-tester) and baresip as real SIP peers.
if ! command -v sipp >/dev/null || ! command -v baresip >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends sip-tester baresip-core
fi
# Attended transfer from a desk phone: linphonec (linphone-cli) sends REFER with Replaces.
if ! command -v linphonec >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends linphone-cli
fi
