#!/usr/bin/env bash
# Desk-phone and trunk media: plain RTP relay calls and Opus<->PCMU transcoded calls through
# Switchboard's media server, each beside rtpengine (userspace, driven over its ng protocol) with
# the same peers and load in the same run, printed as a ratio of calls per core.
# Usage: bench/media/run.sh [--smoke] [--secs S] [--plain N1,N2,…] [--transcode N1,N2,…]
#                           [--peers switchboard,rtpengine]
# Default: 15 s windows, plain 500,1000,2000 calls, transcoded 100,200,300 calls.
# --smoke: 2 s windows, a few calls of each kind through both relays, debug build (fails when a
# relay forwards nothing). See bench/media/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

source bench/lib/needs.sh
needs rtpengine:rtpengine-daemon

secs=15 plain=500,1000,2000 transcode=100,200,300 peers=switchboard,rtpengine smoke=0
while (($#)); do
  case "$1" in
    --smoke) smoke=1 secs=2 plain=20 transcode=10 ;;
    --secs) secs="$2"; shift ;;
    --plain) plain="$2"; shift ;;
    --transcode) transcode="$2"; shift ;;
    --peers) peers="$2"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 1 ;;
  esac
  shift
done
ulimit -n 65536 2>/dev/null || true

# The smoke run uses the debug build (`cargo test --bench` runs a harness-less bench's main);
# measured runs the bench profile (release).
if ((smoke)); then
  run=(cargo test -q -p switchboard-media --bench calls --)
else
  run=(cargo bench -q -p switchboard-media --bench calls --)
fi
"${run[0]}" "${run[1]}" -q -p switchboard-media --bench calls --no-run 2>/dev/null ||
  "${run[0]}" "${run[1]}" -p switchboard-media --bench calls --no-run

echo "bench/media: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), ${secs} s windows, $(date -u +%FT%TZ)"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for mode in plain transcode; do
  counts=${!mode}
  for n in ${counts//,/ }; do
    for peer in ${peers//,/ }; do
      echo "== $mode: $n calls through $peer, ${secs}s"
      out=$("${run[@]}" --mode "$mode" --calls "$n" --secs "$secs" --peer "$peer" 2>/dev/null) || {
        echo "$out"; echo "!! $peer failed ($mode, $n calls)" >&2; exit 1; }
      echo "$out" | grep -v '^result '
      echo "$out" | grep '^result ' >>"$results"
    done
  done
done

# The table: per call CPU of each relay at each load, and the ratio of calls per core
# (rtpengine's CPU per call over Switchboard's: > 1 means Switchboard carries more per core).
echo
awk '
  { for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
    key = r["mode"] " " r["calls"]
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    cpu[key, r["relay"]] = r["per_call_pct"]; srv[key, r["relay"]] = r["server_pct"]
    loss[key, r["relay"]] = r["loss_pct"]; p99[key, r["relay"]] = r["p99_ms"]
    if (r["loss_pct"] == "NaN" || r["strangers"] + 0 > 0) bad = 1
  }
  END {
    print "| calls | Switchboard CPU | per call | loss | p99 | rtpengine CPU | per call | loss | p99 | calls per core, Switchboard / rtpengine |"
    print "|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, mk, " ")
      ratio = (cpu[k, "switchboard"] > 0 && cpu[k, "rtpengine"] > 0) ? sprintf("%.2f", cpu[k, "rtpengine"] / cpu[k, "switchboard"]) : "-"
      printf "| %s %s | %s %% | %s %% | %s %% | %s ms | %s %% | %s %% | %s %% | %s ms | %s |\n", mk[2], mk[1],
        srv[k, "switchboard"], cpu[k, "switchboard"], loss[k, "switchboard"], p99[k, "switchboard"],
        srv[k, "rtpengine"], cpu[k, "rtpengine"], loss[k, "rtpengine"], p99[k, "rtpengine"], ratio
    }
    if (bad) { print "!! a relay forwarded nothing or sent strangers"; exit 1 }
  }' "$results"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
