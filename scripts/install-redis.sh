#!/usr/bin/env bash
# redis-server (Debian/Ubuntu package) for the Redis job-store tests; nothing to do when it is installed.
# The tests start their own throwaway server on a free loopback port; nothing is configured system-wide.
set -euo pipefail
command -v redis-server >/dev/null 2>&1 && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server
command -v redis-server >/dev/null
