#!/usr/bin/env bash
# Build docgraph's container images from the project's own locks (deploy/image/Containerfile; ADR 0010).
#
#   bash scripts/build-image.sh cpu                     # docgraph-cpu:VERSION: layout + RapidOCR on CPU, serve run
#   bash scripts/build-image.sh gpu [--deepseek-ocr DIR]  # docgraph-gpu:VERSION: requirements/gpu.lock (vLLM, CUDA
#                                                       # torch), /models/yolo/doclayout.pt, DIR -> /models/deepseek-ocr
#   bash scripts/build-image.sh gpu --download-deepseek-ocr [--deepseek-revision REV]
#                                   # DeepSeek-OCR fetched here first (docgraph models download, into
#                                   # build/models/deepseek-ocr or DEEPSEEK_OCR_DIR, kept; the hub or HF_ENDPOINT),
#                                   # then as --deepseek-ocr
#   options: --base IMAGE (default python:3.11-slim-bookworm; where no registry is reachable, a local base:
#            bash scripts/make-local-base.sh), --tag NAME:TAG (default docgraph-FLAVOR:VERSION, VERSION from
#            pyproject.toml; deploy/render.py names the same), --print-tag (print the tag, build nothing)
#
# The lock's wheels are downloaded on this machine first (pip download --require-hashes, into build/wheels/FLAVOR,
# kept between builds) with this machine's pip settings; the build installs them with no index
# (scripts/install.sh FLAVOR --image). Builder: buildah if installed (STORAGE_DRIVER=vfs, BUILDAH_ISOLATION=chroot
# unless set: no daemon needed), else podman, else docker with a running daemon (BuildKit). BUILDER=buildah|podman|
# docker chooses. Prints the tag, the build time and the image size.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
  echo "usage: bash scripts/build-image.sh cpu|gpu [--base IMAGE] [--tag NAME:TAG] [--print-tag]" >&2
  echo "         [--deepseek-ocr DIR | --download-deepseek-ocr [--deepseek-revision REV]]   (gpu)" >&2
  exit 2
}
flavor="${1:-}"
case "$flavor" in cpu | gpu) shift ;; *) usage ;; esac
version="$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
base=python:3.11-slim-bookworm
tag="docgraph-${flavor}:${version}"
deepseek=""
download=0
revision=()
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base="${2:?--base needs an image}"; shift 2 ;;
    --tag) tag="${2:?--tag needs NAME:TAG}"; shift 2 ;;
    --deepseek-ocr) deepseek="${2:?--deepseek-ocr needs a directory}"; shift 2 ;;
    --download-deepseek-ocr) download=1; shift ;;
    --deepseek-revision) revision=(--revision "${2:?--deepseek-revision needs a revision}"); shift 2 ;;
    --print-tag) echo "$tag"; exit 0 ;;
    *) usage ;;
  esac
done
if [ -n "$deepseek" ] || [ "$download" = 1 ]; then
  [ "$flavor" = gpu ] || { echo "build-image.sh: DeepSeek-OCR's weights are for the gpu image" >&2; exit 2; }
fi
if [ "$download" = 1 ]; then
  [ -z "$deepseek" ] || { echo "build-image.sh: --deepseek-ocr DIR or --download-deepseek-ocr, not both" >&2; exit 2; }
  command -v docgraph >/dev/null || { echo "build-image.sh: --download-deepseek-ocr needs docgraph here (bash scripts/install.sh)" >&2; exit 2; }
  deepseek="${DEEPSEEK_OCR_DIR:-build/models/deepseek-ocr}"   # kept: a second build downloads nothing new
  HF_HUB_OFFLINE=0 docgraph models download deepseek-ocr "$deepseek" "${revision[@]}"
fi
if [ -n "$deepseek" ]; then
  [ -f "$deepseek/config.json" ] || { echo "build-image.sh: $deepseek has no config.json: not a checkpoint" >&2; exit 2; }
fi

# The builder: buildah, podman, or a docker client whose daemon answers.
builder="${BUILDER:-}"
if [ -z "$builder" ]; then
  if command -v buildah >/dev/null; then builder=buildah
  elif command -v podman >/dev/null && podman info >/dev/null 2>&1; then builder=podman
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then builder=docker
  else
    echo "build-image.sh: no image builder: apt-get install -y buildah (or podman, or docker with its daemon running)" >&2
    exit 2
  fi
fi
if [ "$builder" = buildah ]; then export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}" BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"; fi

lock="requirements/${flavor}.lock"
wheels="build/wheels/${flavor}"
context="build/image/context-${flavor}"
start=$SECONDS

# 1. The lock's wheels, on this machine (its pip settings: index, mirrors), checked against the lock's hashes.
lock_sum="$(sha256sum "$lock" | cut -d' ' -f1)"
if [ "$(cat "$wheels/.lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
  if ! python3 -c 'import sys, platform; sys.exit(sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64")'; then
    echo "build-image.sh: downloads the lock's wheels with this python3, which must be CPython 3.11 on x86_64" >&2
    exit 2
  fi
  mkdir -p "$wheels"
  PIP_DISABLE_PIP_VERSION_CHECK=1 nice -n 19 python3 -m pip download -q --require-hashes --no-deps -r "$lock" -d "$wheels"
  echo "$lock_sum" >"$wheels/.lock-sha256"
fi
echo "build-image.sh: wheels of $lock in $wheels ($(du -sh "$wheels" | cut -f1)), $((SECONDS - start)) s"

# 2. The build context: the sources the install needs, the wheels and the weights (hard links where possible).
rm -rf "$context"
mkdir -p "$context/src" "$context/deepseek-ocr"
git ls-files -z --cached --others --exclude-standard -- pyproject.toml README.md serve_config.yaml \
  serve_config.gpu.yaml requirements scripts pipeline models serve docgraph |
  tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$context/src" -xf -
cp -al "$wheels" "$context/wheels" 2>/dev/null || cp -a "$wheels" "$context/wheels"
if [ -n "$deepseek" ]; then
  rmdir "$context/deepseek-ocr"
  cp -al "$deepseek" "$context/deepseek-ocr" 2>/dev/null || cp -a "$deepseek" "$context/deepseek-ocr"
fi

# 3. The image.
args=(--build-arg "BASE=$base" --build-arg "FLAVOR=$flavor" --build-arg "VERSION=$version")
# Both locks install opencv-python beside opencv-python-headless (ultralytics wants the first); its cv2 is the one
# left in place and needs libGL, GLib and libxcb.
apt_packages="libgl1 libglib2.0-0 libxcb1"
if [ "$flavor" = gpu ]; then
  # Triton and FlashInfer compile kernels and launchers when the engine starts: a C/C++ compiler and Python's
  # headers (python3-dev only where the base's Python has none: the slim images ship them); KubeRay's default
  # probes of a pod without its own (the head) run wget
  args+=(--build-arg "APT_PACKAGES=$apt_packages gcc g++ libc6-dev wget" --build-arg "PYTHON_HEADERS=1")
  args+=(--build-arg "LAYOUT_PT=/models/yolo/doclayout.pt" --build-arg "SERVE_CONFIG=serve_config.gpu.yaml")
else
  args+=(--build-arg "APT_PACKAGES=$apt_packages" --build-arg "RAY_CLUSTER=0")
fi
if [ -n "$deepseek" ]; then
  args+=(--label "io.docgraph.deepseek-ocr=/models/deepseek-ocr (DeepSeek-OCR: MIT)")
fi
build_start=$SECONDS
case "$builder" in
  buildah) nice -n 19 buildah bud --format docker --layers=false -f deploy/image/Containerfile "${args[@]}" -t "$tag" "$context" ;;
  podman) nice -n 19 podman build --format docker -f deploy/image/Containerfile "${args[@]}" -t "$tag" "$context" ;;
  docker) DOCKER_BUILDKIT=1 nice -n 19 docker build -f deploy/image/Containerfile "${args[@]}" -t "$tag" "$context" ;;
  *) echo "build-image.sh: BUILDER must be buildah, podman or docker" >&2; exit 2 ;;
esac
case "$builder" in
  buildah) size="$(buildah images --format '{{.Size}}' "$tag" | head -1)" ;;
  *) size="$("$builder" image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.2f GB", $1 / 1e9}')" ;;
esac
rm -rf "$context"
echo "build-image.sh: built $tag with $builder on $base in $((SECONDS - build_start)) s (wheels + context: $((build_start - start)) s); size $size"
