#!/usr/bin/env bash
# Installs, when missing, the Debian packages whose programs the end-to-end tests run as real
# parts: minisign (plugin signatures), docker-registry (plugins delivered from an OCI
# registry) and apache2-utils' htpasswd (that registry's password file). Runs apt-get as
# root, or with sudo. Called by the test build and by .ci/run.
set -euo pipefail
missing=()
command -v minisign >/dev/null || missing+=(minisign)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} (apt-get)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get install -y -q "${missing[@]}" >/dev/null || {
  $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null
}
