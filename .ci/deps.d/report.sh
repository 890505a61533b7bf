# Headless chromium for oxview's report test, which opens the HTML report and
# checks the screenshot is drawn. Debian's package (the version of the CI
# image's release); installed only under CI=true when missing; idempotent.
# The install takes a few hundred MB of packages (not timed here: this machine
# had chromium already); the script prints how long it took.
if [ "${CI:-}" = "true" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "deps: installing chromium"
  report_start=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  echo "deps: chromium installed in $((SECONDS - report_start))s"
fi
