#!/usr/bin/env bash
# Install docgraph into the current Python environment from the locks in requirements/ (ADR 0004): every
# distribution at the exact version and hash that was tested, nothing resolved at install time.
#
#   bash scripts/install.sh         # the runtime (requirements/cpu.lock): the embedded default, CPU models
#   bash scripts/install.sh test    # + test tools, ruff, mypy, vLLM's CPU build (requirements/test.lock), redis-server,
#                                   # Debian's chromium (the viewer's browser tests); the container-image tests
#                                   # (not in the default run) also need scripts/install-buildah.sh
#   bash scripts/install.sh gpu     # the GPU image's stack (requirements/gpu.lock: CUDA torch, vLLM)
#   bash scripts/install.sh cpu|gpu --image   # inside an image build (deploy/image/Containerfile): the project as a
#                                   # plain package (no editable link to the checkout), no pip cache
#
# Use a virtual environment (python3 -m venv .venv && . .venv/bin/activate) or a container: the locks pin pip's
# whole world, and --no-deps means pip does not second-guess them.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-runtime}"
image="${2:-}"
case "$profile" in
  runtime | cpu) lock=requirements/cpu.lock ;;
  test) lock=requirements/test.lock ;;
  gpu) lock=requirements/gpu.lock ;;
  *) echo "usage: bash scripts/install.sh [runtime|test|gpu] [--image]" >&2; exit 2 ;;
esac
case "$image" in
  "") ;;
  --image) export PIP_NO_CACHE_DIR=1 ;;
  *) echo "usage: bash scripts/install.sh [runtime|test|gpu] [--image]" >&2; exit 2 ;;
esac
if ! python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "install.sh: the locks are made for CPython 3.11 (this is $(python3 --version)); see ADR 0004" >&2
  exit 2
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install --require-hashes --no-deps -r "$lock"
# The project itself: its dependencies came from the lock, its build backend (setuptools) too.
if [ -n "$image" ]; then
  python3 -m pip install --no-deps --no-build-isolation .
else
  python3 -m pip install --no-deps --no-build-isolation -e .
fi
python3 scripts/lockcheck.py pip-check
if [ "$profile" = test ]; then
  bash scripts/install-redis.sh
  bash scripts/install-chromium.sh
fi
