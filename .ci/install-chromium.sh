#!/usr/bin/env bash
# Debian's headless-capable chromium, for the report's browser test (pytest -m browser).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
