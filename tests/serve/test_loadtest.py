"""``docgraph loadtest`` end to end against the session's service, and its refusal of non-loopback targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docgraph.cli import cli
from docgraph.embedded import EmbeddedService
from docgraph.loadtest import RemoteTargetError, check_target
from docgraph.samples import make_text_pdf


def test_non_loopback_targets_are_refused_without_the_flag(tmp_path: Path) -> None:
    with pytest.raises(RemoteTargetError, match="--allow-remote"):
        check_target("http://192.0.2.10:8000", allow_remote=False)  # TEST-NET-1: never contacted
    check_target("http://127.0.0.1:8000", allow_remote=False)
    check_target("http://localhost:8000", allow_remote=False)
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(make_text_pdf(1))
    result = CliRunner().invoke(cli, ["loadtest", str(pdf), "--url", "http://192.0.2.10:8000", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "refused" in result.output
    assert not (tmp_path / "report.json").exists()


@pytest.mark.serve
def test_loadtest_reports_throughput_latency_statuses_and_replicas(
    service: EmbeddedService, sample_pdf: bytes, tmp_path: Path
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "sample.pdf").write_bytes(sample_pdf)
    (tmp_path / "docs" / "text.pdf").write_bytes(make_text_pdf(2))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["loadtest", str(tmp_path / "docs"), "--url", service.url, "--steps", "1,2", "--step-s", "4",
         "--requests", "12", "--duration", "60", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "closed" and report["schedule"] == [1.0, 2.0]
    assert report["requests"] == report["succeeded"] > 0 and report["errors"] == 0
    assert report["pages_per_s"] > 0 and report["documents_per_s"] > 0
    assert {"layout", "ocr"} & set(report["latency_s"])  # sample.pdf's scanned page makes it an OCR document
    assert report["latency_s"]["all"]["p50"] <= report["latency_s"]["all"]["p99"]
    assert report["replicas"] and all(p.get("DocumentIngress", 0) >= 1 for p in report["replicas"])
    assert {t["step"] for t in report["timeline"]} == {0, 1}
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
