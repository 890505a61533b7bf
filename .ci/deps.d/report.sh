# Headless chromium for oxview's report test, which opens the HTML report and
# checks the screenshot is drawn. Debian's package (the version of the CI
# image's release); installed only under CI=true when missing. About 1-2
# minutes and ~300 MB on a fresh image; idempotent.
if [ "${CI:-}" = "true" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "deps: installing chromium"
  report_start=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  echo "deps: chromium installed in $((SECONDS - report_start))s"
fi
