# Sourced by .ci/deps. The /metrics and live-page tests of oxd run a real Prometheus
# server (and promtool) and headless chromium, and oxctl top is tested in a tmux
# pane: Debian's packages, installed under CI=true when missing (Debian 12:
# prometheus 2.42, chromium, tmux 3.3; about a minute, mostly chromium).
if [ "${CI:-}" = "true" ]; then
  watch_missing=()
  command -v prometheus >/dev/null 2>&1 || watch_missing+=(prometheus)
  command -v promtool >/dev/null 2>&1 || watch_missing+=(prometheus)
  command -v chromium >/dev/null 2>&1 || watch_missing+=(chromium)
  command -v tmux >/dev/null 2>&1 || watch_missing+=(tmux)
  if [ ${#watch_missing[@]} -gt 0 ]; then
    echo "deps: installing ${watch_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${watch_missing[@]}" | sort -u) >/dev/null
  fi
  unset watch_missing
fi
