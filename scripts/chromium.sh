#!/usr/bin/env bash
# Makes sure Debian's Chromium is here for the lineage page's browser test: installs it
# when this user can, and otherwise says what to do.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: installing Debian's chromium for the browser test"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "chromium: the browser test needs Debian's chromium; install it (apt-get install chromium) or set PROVGRAPH_CHROMIUM" >&2
exit 1
