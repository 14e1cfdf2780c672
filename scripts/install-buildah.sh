#!/usr/bin/env bash
# buildah + debootstrap (Debian/Ubuntu packages) for the container-image tests (tests/image, ADR 0010): they build
# the images with scripts/build-image.sh on a base scripts/make-local-base.sh makes. Nothing to do when both are
# installed; nothing is configured system-wide (the scripts pass STORAGE_DRIVER=vfs, BUILDAH_ISOLATION=chroot).
set -euo pipefail
command -v buildah >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends buildah debootstrap
command -v buildah >/dev/null && command -v debootstrap >/dev/null
