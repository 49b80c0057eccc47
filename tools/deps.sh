#!/bin/sh
# Install the Debian packages named on the command line that are not installed yet:
# with apt-get as root, through sudo otherwise. Prints nothing when all are present.
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "hasme: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo"
else
  echo "hasme: these packages are missing:$missing" >&2
  echo "hasme: run 'make deps' as root (or with sudo), or install them with apt-get." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || { echo "hasme: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing ||
  { echo "hasme: apt-get install failed for:$missing" >&2; exit 1; }
