#!/usr/bin/env bash
# Debian's chromium and chromium-driver for the viewer's browser tests (tests/browser, marker `browser`).
# Playwright drives this chromium through executable_path; its own browser download is never used (offline).
# Nothing to do when both are installed.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
chromium --version
