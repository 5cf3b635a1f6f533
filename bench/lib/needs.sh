# Sourced by the benchmarks' run.sh: `needs CMD:PACKAGE …` installs from Debian the packages of
# the commands that are missing (as root), or says what to install.
needs() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  ((${#missing[@]})) || return 0
  if [[ "$(id -u)" != 0 ]]; then
    echo "bench/$(basename "$(dirname "$0")") needs: apt-get install --no-install-recommends ${missing[*]} (as root)" >&2
    exit 1
  fi
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
