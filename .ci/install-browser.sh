#!/usr/bin/env bash
# Installs Debian's chromium + chromedriver for the browser tests (never a downloaded browser build).
# Needs apt (Debian/Ubuntu) and root: run as root, or with sudo available (it may ask for a password).
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install-browser.sh: needs apt-get (Debian/Ubuntu); elsewhere install chromium and chromedriver" \
        "as /usr/bin/chromium and /usr/bin/chromedriver yourself" >&2
    exit 1
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "install-browser.sh: installing chromium needs root; run it as root: su -c 'bash .ci/install-browser.sh'" >&2
        exit 1
    fi
    as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core
