#!/usr/bin/env bash
# Make a local base image for docgraph's images where no registry is reachable (tests, air-gapped builders):
# Debian bookworm (minbase) + CPython 3.11 + venv, made with debootstrap from the Debian mirror apt uses here and
# imported with buildah. Kept in buildah's storage: a second run does nothing (pass --force to re-make it).
#
#   bash scripts/make-local-base.sh [--force] [NAME]     # default localhost/docgraph-base:bookworm-py311
#   bash scripts/build-image.sh cpu --base localhost/docgraph-base:bookworm-py311
#
# Needs root, buildah and debootstrap (apt-get install -y buildah debootstrap). Storage and isolation default to
# STORAGE_DRIVER=vfs and BUILDAH_ISOLATION=chroot, which work without a daemon, inside a container too.
set -euo pipefail
cd "$(dirname "$0")/.."
force=0
if [ "${1:-}" = --force ]; then force=1; shift; fi
name="${1:-localhost/docgraph-base:bookworm-py311}"
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}" BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || { echo "make-local-base.sh: needs $tool (apt-get install -y buildah debootstrap)" >&2; exit 2; }
done
if [ "$force" = 0 ] && buildah inspect --type image "$name" >/dev/null 2>&1; then
  echo "make-local-base.sh: $name exists (--force to re-make it)"
  exit 0
fi

mirror() {  # the Debian mirror apt uses here (deb822 .sources or one-line .list), unless DEBIAN_MIRROR says
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list)
  local uri
  uri="$(cat "${files[@]}" 2>/dev/null | awk '
    /^URIs:/ { uris = $2 } /^Suites:/ && / bookworm( |$)/ && uris { print uris; exit }
    /^deb / && $3 == "bookworm" { print $2; exit }')"
  echo "${uri:-http://deb.debian.org/debian}"
}

rootfs="$(mktemp -d "${TMPDIR:-/tmp}/docgraph-base.XXXXXX")"
ctr=""
cleanup() {
  if [ -n "$ctr" ]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
  rm -rf "$rootfs"
}
trap cleanup EXIT
start=$SECONDS
nice -n 19 ionice -c3 debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "$(mirror)"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
ctr="$(buildah from scratch)"
mnt="$(buildah mount "$ctr")"
nice -n 19 ionice -c3 tar -C "$rootfs" -cf - . | tar -C "$mnt" -xpf -
buildah umount "$ctr" >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
  --cmd /bin/bash --label org.opencontainers.image.description="Debian bookworm minbase + python3 (local base)" "$ctr"
nice -n 19 ionice -c3 buildah commit --quiet --format docker "$ctr" "$name" >/dev/null
buildah rm "$ctr" >/dev/null
ctr=""
echo "make-local-base.sh: made $name in $((SECONDS - start)) s"
