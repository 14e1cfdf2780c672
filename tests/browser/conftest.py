"""Real headless Chromium (Debian's ``chromium`` package, installed by scripts/install.sh test) driven by
Playwright through ``executable_path``: Playwright's own browser download is never used (it cannot work
offline). Screenshots go to build/test-artifacts/browser (or $DOCGRAPH_ARTIFACTS)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    path = os.environ.get("DOCGRAPH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium not installed (apt-get install chromium chromium-driver; scripts/install.sh test does)")
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    out = Path(os.environ.get("DOCGRAPH_ARTIFACTS", ROOT / "build" / "test-artifacts")) / "browser"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def browser_page(chromium: str, tmp_path: Path) -> Iterator[object]:
    """A page of a fresh browser profile (its own --user-data-dir), 1400x1000, closed after the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        errors: list[str] = []
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(120_000)
            page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
            page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
            yield page
        finally:
            context.close()
        unexpected = [e for e in errors if "Failed to load resource" not in e]  # a refused upload logs its 4xx
        assert not unexpected, f"the viewer's script failed: {unexpected}"
