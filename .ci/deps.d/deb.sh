# Debian's own tools that the package tests read the .deb back with (internal/debpkg):
# dpkg-deb (dpkg), lintian, systemd-analyze (systemd), setpriv (util-linux) for the
# install test. Sourced by .ci/deps; installs only under CI=true and only what is
# missing (Debian's versions of the release the machine runs).
deb_missing=""
command -v dpkg-deb >/dev/null 2>&1 || deb_missing="$deb_missing dpkg"
command -v lintian >/dev/null 2>&1 || deb_missing="$deb_missing lintian"
command -v systemd-analyze >/dev/null 2>&1 || deb_missing="$deb_missing systemd"
command -v setpriv >/dev/null 2>&1 || deb_missing="$deb_missing util-linux"
command -v adduser >/dev/null 2>&1 || deb_missing="$deb_missing adduser"
if [ -n "$deb_missing" ] && [ "${CI:-}" = "true" ]; then
  echo "deps: installing$deb_missing"
  deb_start=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $deb_missing >/dev/null
  echo "deps: Debian packaging tools installed in $((SECONDS - deb_start))s"
fi
unset deb_missing deb_start
