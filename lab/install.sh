#!/bin/sh
# Installs the lab lane's Debian packages (`npm run lab` calls this when some are missing).
# Usage: lab/install.sh [package…]   (default: everything the lab lane uses)
# Needs root: runs itself again through sudo when that is possible, else says what to run.
set -eu
PACKAGES="${*:-kamailio kamailio-websocket-modules rtpengine-daemon sip-tester}"
COMMAND="apt-get update && apt-get install -y --no-install-recommends $PACKAGES"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "lab/install.sh: no apt-get here. The lab lane needs Debian's packages: $PACKAGES" >&2
  echo "Install Kamailio 5.6 (with its websocket modules) and rtpengine by other means, or use a Debian 12 machine." >&2
  exit 2
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    # A terminal may answer sudo's password prompt; without one, sudo must not wait for it.
    if [ -t 0 ]; then exec sudo "$0" "$@"; fi
    if sudo -n true 2>/dev/null; then exec sudo -n "$0" "$@"; fi
  fi
  echo "lab/install.sh: installing $PACKAGES needs root, and sudo is not available here without a password." >&2
  echo "Run as root:  $COMMAND" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
# --no-install-recommends: the daemons only; nothing is enabled or started by the packages we use.
apt-get install -y --no-install-recommends $PACKAGES
