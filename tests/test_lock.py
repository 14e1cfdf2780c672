"""The locks in requirements/ are the one source of versions (ADR 0004): they agree with pyproject.toml and
the .in files, and this environment holds exactly what the test lock pins."""

from __future__ import annotations

import site
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCKCHECK = ROOT / "scripts" / "lockcheck.py"


def _lockcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(LOCKCHECK), *args], capture_output=True, text=True, check=False)


def _pins(lock: str) -> dict[str, Version]:
    sys.path.insert(0, str(LOCKCHECK.parent))
    try:
        import lockcheck
    finally:
        sys.path.pop(0)
    return lockcheck.pins((ROOT / "requirements" / lock).read_text())


def test_the_locks_agree_with_their_inputs() -> None:
    result = _lockcheck("check")
    assert result.returncode == 0, result.stderr


def test_every_lock_pins_with_hashes() -> None:
    for lock in ("cpu.lock", "test.lock", "gpu.lock"):
        text = (ROOT / "requirements" / lock).read_text()
        pinned = _pins(lock)
        assert len(pinned) > 100, lock
        assert text.count("==") >= len(pinned) and text.count("--hash=sha256:") >= len(pinned), lock


def test_this_environment_is_the_test_lock() -> None:
    """What the tests run on is what the lock says (CI installs it with scripts/install.sh test)."""
    pinned = _pins("test.lock")
    # what pip installed into the environment (not copies vendored inside a package, e.g. ray/thirdparty_files)
    site_dirs = {Path(p).resolve() for p in site.getsitepackages()}
    installed = {
        canonicalize_name(d.metadata["Name"]): Version(d.version)
        for d in distributions()
        if Path(str(d.locate_file(""))).resolve() in site_dirs
    }
    moved = {name: (str(pinned[name]), str(v)) for name, v in installed.items() if name in pinned and pinned[name] != v}
    missing = sorted(set(pinned) - set(installed))
    extra = sorted(set(installed) - set(pinned) - {"docgraph", "pip"})  # the project itself, the venv's pip
    assert not moved, f"installed versions differ from requirements/test.lock: {moved}"
    assert not missing, f"pinned in requirements/test.lock but not installed: {missing}"
    assert not extra, f"installed but not in requirements/test.lock (left from another install?): {extra}"


def test_pip_check_is_clean_but_for_the_chosen_vllm_overrides() -> None:
    result = _lockcheck("pip-check")
    assert result.returncode == 0, result.stderr
