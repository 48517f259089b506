#!/usr/bin/env bash
# CI: Debian's chromium for the real-browser tests (tests/browser); Playwright cannot download its own
# browsers here. A small CJK font comes with it so that Chinese text renders in screenshots and traces.
# Idempotent and quiet: does nothing when both are installed; needs root (or sudo) otherwise.
set -euo pipefail

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
dpkg-query -W -f='${Status}' fonts-wqy-microhei 2>/dev/null | grep -q 'install ok installed' || packages+=(fonts-wqy-microhei)
[ ${#packages[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-browser: need root or sudo to install ${packages[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq "${packages[@]}" >/dev/null
[ -x /usr/bin/chromium ] || { echo "install-browser: /usr/bin/chromium still missing" >&2; exit 1; }
