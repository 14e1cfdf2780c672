"""``docgraph loadtest`` end to end against the session's service (steps, a sweep to the knee, goodput, jobs with
time to first page, the stage split from the service's metrics), its report's rules on hand-made runs, and its
refusal of non-loopback targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from docgraph.cli import cli
from docgraph.embedded import EmbeddedService
from docgraph.loadreport import (
    DEFINITIONS,
    Limits,
    Run,
    Sample,
    StepWindow,
    keep_sweeping,
    knee,
    parse_stage_metrics,
    stage_split,
    step_figures,
)
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


def _step(level: float, pages_per_s: float, error_share: float = 0.0, steady: bool = True) -> dict[str, Any]:
    return {"level": level, "goodput_pages_per_s": pages_per_s, "pages_per_s": pages_per_s, "latency_s": {},
            "error_share": error_share, "steady": steady}  # fmt: skip


def test_knee_and_when_a_sweep_stops() -> None:
    limits = Limits()
    steps = [_step(1, 2.0), _step(2, 3.9), _step(4, 4.0), _step(8, 4.05)]
    assert knee(steps, limits) == {"level": 2, "goodput_pages_per_s": 3.9, "pages_per_s": 3.9, "latency_s": {}}
    assert keep_sweeping(steps[:2], limits) == ""  # still rising
    assert keep_sweeping(steps[:3], limits) == ""  # one flat level is not yet the end
    assert "stopped rising" in keep_sweeping(steps, limits)  # two levels without +5 % over 3.9
    assert "errors" in keep_sweeping([_step(1, 2.0), _step(2, 1.0, error_share=0.2)], limits)
    assert knee([_step(1, 0.0)], limits) is None
    # a last level cut short (steady false, its figures zero) is no evidence that goodput stopped rising
    assert "stopped rising" in keep_sweeping([_step(1, 4.0), _step(2, 3.0), _step(4, 3.1)], limits)
    assert keep_sweeping([_step(1, 4.0), _step(2, 3.0), _step(4, 0.0, steady=False)], limits) == ""
    assert knee([_step(1, 2.0), _step(2, 0.0, steady=False)], limits) == knee([_step(1, 2.0)], limits)


def test_steady_state_window_and_goodput() -> None:
    """A step's figures count what finished after its settle time; goodput only documents within the limits."""
    run = Run(started=0.0, ended=20.0)
    run.steps = [StepWindow(level=2, start=0.0, steady=5.0, end=15.0)]
    run.samples = [
        Sample(start=0.0, end=4.0, status=200, pages=4, step=0),  # finished in the settling time: not counted
        Sample(start=5.0, end=7.0, status=200, pages=4, step=0),  # 2 s, 0.5 s a page
        Sample(start=6.0, end=14.0, status=200, pages=2, step=0),  # 8 s, 4 s a page
        Sample(start=7.0, end=8.0, status=503, step=0),
        Sample(start=8.0, end=9.0, status=500, step=0),
    ]
    figures = step_figures(run, 0, Limits(slo_document_s=5.0))
    assert figures["window_s"] == 10.0 and figures["documents"] == 4
    assert figures["pages_per_s"] == 0.6 and figures["goodput_pages_per_s"] == 0.4
    assert figures["backpressure_503"] == 1 and figures["errors"] == 1 and figures["error_share"] == 0.25
    assert step_figures(run, 0, Limits(slo_page_s=1.0))["goodput_pages_per_s"] == 0.4
    assert step_figures(run, 0, Limits())["goodput_pages_per_s"] == 0.6  # no limits: goodput is throughput
    assert figures["steady"]


def test_a_step_cut_short_inside_its_settle_time_has_no_steady_state() -> None:
    """The request count ran out 0.5 s into a step that settles for 1 s: no window, not a zero throughput; nor is
    a window of 0.2 s one."""
    run = Run(started=0.0, ended=9.0)
    run.steps = [
        StepWindow(level=1, start=0.0, steady=1.0, end=4.0),
        StepWindow(level=2, start=4.0, steady=5.0, end=4.5),  # the request count ran out at 4.5
        StepWindow(level=4, start=4.5, steady=5.5, end=5.7),  # 0.2 s past its settle time: one document's worth
    ]
    run.samples = [Sample(start=s, end=s + 0.4, status=200, pages=2, step=0 if s < 4 else 1) for s in range(9)]
    first, second = step_figures(run, 0, Limits()), step_figures(run, 1, Limits())
    assert first["steady"] and first["window_s"] == 3.0 and first["documents"] == 3
    assert not second["steady"] and second["window_s"] == 0.0 and second["documents"] == 0
    assert not step_figures(run, 2, Limits())["steady"]


def test_stage_split_from_prometheus_text() -> None:
    def page(ingress: tuple[float, float], model: tuple[float, float]) -> str:
        return (
            "# TYPE ray_docgraph_stage_seconds histogram\n"
            f'ray_docgraph_stage_seconds_sum{{stage="layout",Replica="a"}} {ingress[0]}\n'
            f'ray_docgraph_stage_seconds_count{{stage="layout",Replica="a"}} {ingress[1]}\n'
            "# TYPE ray_docgraph_model_seconds histogram\n"
            f'ray_docgraph_model_seconds_sum{{role="layout",Replica="b"}} {model[0]}\n'
            f'ray_docgraph_model_seconds_count{{role="layout",Replica="b"}} {model[1]}\n'
        )

    before = parse_stage_metrics(page((10.0, 10), (5.0, 10)))
    after = parse_stage_metrics(page((40.0, 20), (8.0, 20)))
    assert stage_split(before, after) == {"layout": {"ingress_s": 3.0, "model_s": 0.3, "wait_s": 2.7}}


def _metrics_url() -> str:
    import ray

    port = next(n["MetricsExportPort"] for n in ray.nodes() if n["Alive"])
    return f"http://127.0.0.1:{port}/metrics"


def _loadtest(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["loadtest", *args])
    assert result.exit_code == 0, result.output
    out = Path(args[args.index("--out") + 1])
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    return report


@pytest.mark.serve
def test_loadtest_reports_steps_latency_statuses_replicas_and_stage_split(
    service: EmbeddedService, sample_pdf: bytes, tmp_path: Path
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "sample.pdf").write_bytes(sample_pdf)
    (tmp_path / "docs" / "text.pdf").write_bytes(make_text_pdf(2))
    report = _loadtest(
        str(tmp_path / "docs"), "--url", service.url, "--steps", "1,2", "--step-s", "4", "--settle", "1",
        "--warmup", "2", "--requests", "500", "--duration", "60", "--metrics-url", _metrics_url(),
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert report["mode"] == "closed" and report["schedule"] == [1.0, 2.0]
    assert report["warmup"]["requests"] >= 1  # sent, answered, not counted
    assert report["requests"] == report["succeeded"] > 0 and report["errors"] == 0
    assert report["pages_per_s"] > 0 and report["goodput_pages_per_s"] == report["pages_per_s"]  # no limits
    assert {"layout", "ocr"} & set(report["latency_s"])  # sample.pdf's scanned page makes it an OCR document
    assert report["latency_s"]["all"]["p50"] <= report["latency_s"]["all"]["p99"]
    assert report["stopped"] == "schedule done"  # the steps' time, not the request count, ended the run
    assert [s["level"] for s in report["steps"]] == [1.0, 2.0]
    assert all(s["steady"] and s["window_s"] > 0 for s in report["steps"])
    assert report["replicas"] and all(p.get("DocumentIngress", 0) >= 1 for p in report["replicas"])
    sent_in = {t["step"] for t in report["timeline"]}  # where each request was sent: a closed loop's client
    assert -1 in sent_in and sent_in <= {-1, 0, 1}  # may still wait on its warm-up document through step 0
    layout = report["stages"]["layout"]  # the ingress's view and the replica's, and what lies between
    assert (
        layout["ingress_s"] > 0
        and layout["model_s"] > 0
        and layout["wait_s"] == pytest.approx(layout["ingress_s"] - layout["model_s"], abs=1e-3)
    )
    assert set(report["definitions"]) == set(DEFINITIONS)
    assert report["versions"]["service"]["version"] == report["versions"]["docgraph (client)"]


@pytest.mark.serve
def test_a_sweep_finds_the_knee_and_jobs_report_time_to_first_page(service: EmbeddedService, tmp_path: Path) -> None:
    pdf = tmp_path / "text.pdf"
    pdf.write_bytes(make_text_pdf(3))
    swept = _loadtest(
        str(pdf), "--url", service.url, "--sweep", "--max-level", "4", "--step-s", "3", "--settle", "0.5",
        "--warmup", "1", "--requests", "5000", "--duration", "60", "--param", "layout=false",
        "--slo-doc-s", "30", "--out", str(tmp_path / "sweep"),
    )  # fmt: skip
    assert swept["schedule"][:2] == [1.0, 2.0] and swept["stopped"] != "request count reached"
    assert swept["knee"] is not None and swept["knee"]["level"] in swept["schedule"]
    assert swept["goodput_pages_per_s"] > 0
    jobs = _loadtest(
        str(pdf), "--url", service.url, "--jobs", "--concurrency", "2", "--warmup", "0", "--requests", "4",
        "--duration", "60", "--slo-doc-s", "0.001", "--out", str(tmp_path / "jobs"),
    )  # fmt: skip
    assert jobs["mode"] == "jobs closed" and jobs["succeeded"] == jobs["requests"] == 4
    ttfp, latency = jobs["time_to_first_page_s"], jobs["latency_s"]["all"]
    assert 0 < ttfp["p50"] <= latency["p50"]
    assert jobs["goodput_pages_per_s"] == 0  # no document is answered within a millisecond
