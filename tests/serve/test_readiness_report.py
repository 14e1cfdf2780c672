"""Serve's word on a deployment, as /readyz reads it (serve/readiness.py): a typed status beside the text it shows.
Fast: Serve's status is stood in for, nothing starts."""

from __future__ import annotations

import pytest
from ray.serve.schema import (
    ApplicationStatus,
    ApplicationStatusOverview,
    DeploymentStatus,
    DeploymentStatusOverview,
    DeploymentStatusTrigger,
)

from serve import readiness
from serve.readiness import DeploymentReport, deployment_report


def _serve_reports(monkeypatch: pytest.MonkeyPatch, status: DeploymentStatus, message: str) -> None:
    overview = DeploymentStatusOverview(
        status=status, status_trigger=DeploymentStatusTrigger.UNSPECIFIED, replica_states={}, message=message
    )
    app = ApplicationStatusOverview(
        status=ApplicationStatus.RUNNING, message="", last_deployed_time_s=0.0, deployments={"OcrDeployment": overview}
    )
    monkeypatch.setattr(readiness, "own_app_status", lambda: ("app", app))


def test_a_healthy_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    _serve_reports(monkeypatch, DeploymentStatus.HEALTHY, "")
    report = deployment_report("OcrDeployment")
    assert report == DeploymentReport(status=DeploymentStatus.HEALTHY, text="[HEALTHY]") and report.healthy


def test_a_failed_constructor_is_bounded_head_and_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    message = "Traceback (most recent call last):\n" + "x" * 5000 + "\nValueError: the manifest does not match"
    _serve_reports(monkeypatch, DeploymentStatus.DEPLOY_FAILED, message)
    report = deployment_report("OcrDeployment")
    assert report.status is DeploymentStatus.DEPLOY_FAILED and not report.healthy
    assert report.text.startswith("[DEPLOY_FAILED] Traceback") and report.text.endswith("the manifest does not match")
    assert len(report.text) == 500 + len(" … ") + 1500


def test_unknown_when_serve_cannot_say(monkeypatch: pytest.MonkeyPatch) -> None:
    _serve_reports(monkeypatch, DeploymentStatus.HEALTHY, "")
    assert deployment_report("NoSuchDeployment") == DeploymentReport(status=None, text="")
    monkeypatch.setattr(readiness, "own_app_status", lambda: ("app", None))  # the application is gone
    assert not deployment_report("OcrDeployment").healthy
