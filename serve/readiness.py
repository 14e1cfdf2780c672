"""The ingress's probes: ``/healthz`` (alive) and ``/readyz`` (ready), and Serve's word on a deployment.

Ready only when every dependency imports, the job store answers, the PyMuPDF workers passed their self-test, and
every model deployment has loaded its model and run it once. A model whose health call waits past the readiness
deadline behind a busy replica's work is busy, not unready, when it answered before and Serve reports its deployment
HEALTHY (issue 26): readiness never competes with the work it vouches for.

``ReadinessRoutes`` is mixed into the ingress class (serve/ingress.py), whose handles, pool and store it checks.
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.

import asyncio
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

# DeploymentStatus: the enum of DeploymentStatusOverview.status, re-exported (not declared) by Serve's public schema
# (pyproject.toml's mypy overrides read ray.serve.schema's imports as its exports)
from ray.serve.schema import ApplicationStatusOverview, DeploymentStatus

from pipeline.pdfpool import PdfPool
from pipeline.protocols import ModelHealth
from serve.api import Readiness
from serve.auth import settings
from serve.jobs.store import JobStore

INGRESS_DEPENDENCIES = ("pymupdf", "cv2", "PIL", "numpy", "pydantic", "fastapi", "multipart", "sqlite3")
MAX_STATUS_TEXT = 2000  # Serve's message on a failed deployment is its constructor's traceback: bounded

probes = APIRouter()  # open, like docling-serve's /health: probes carry no key


@dataclass(frozen=True)
class DeploymentReport:
    """Serve's word on a deployment: its status (None when Serve could not be asked) and the text /readyz shows,
    ``[STATUS] message`` (bounded; empty when unknown)."""

    status: DeploymentStatus | None = None
    text: str = ""

    @property
    def healthy(self) -> bool:
        return self.status == DeploymentStatus.HEALTHY


def own_app_status() -> tuple[str, ApplicationStatusOverview | None]:
    """This replica's application name and Serve's status of it (a blocking call: run it in a thread)."""
    app_name = serve.get_replica_context().app_name
    return app_name, serve.status().applications.get(app_name)


def deployment_report(name: str) -> DeploymentReport:
    """Serve's own word on a deployment of this application (its constructor's traceback when it failed), for
    /readyz (a blocking call: run it in a thread)."""
    try:
        overview = own_app_status()[1].deployments[name]  # type: ignore[union-attr]  # None raises: caught below
        text = f"[{overview.status.value}] {overview.message}".strip()
        # a failed constructor's traceback ends with its reason: keep the head and the tail, bounded
        bounded = text if len(text) <= MAX_STATUS_TEXT else f"{text[:500]} … {text[-1500:]}"
        return DeploymentReport(status=overview.status, text=bounded)
    except Exception:  # noqa: BLE001 - best effort: readiness already says not ready
        return DeploymentReport()


class ReadinessRoutes:
    """The probes' route methods and the health checks behind them (``/v1/models`` uses ``_model_health`` too)."""

    _handles: dict[str, DeploymentHandle[Any] | None]
    _answered: dict[str, ModelHealth]  # each model's last health answer (readiness while busy)
    _pool: PdfPool
    _store: JobStore

    @probes.get("/healthz", tags=["health"])
    async def healthz(self) -> dict[str, str]:
        """Alive: the ingress answers."""
        return {"status": "ok"}

    @probes.get("/readyz", tags=["health"], response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz(self) -> JSONResponse:
        """Ready only when every dependency imports and every model deployment has loaded and run once."""
        components = [await self._ingress_health()]
        for role, handle in self._handles.items():
            if handle is not None:
                components.append(await self._model_health(role, handle))
        body = Readiness(ready=all(c.ready for c in components), components=components)
        return JSONResponse(status_code=200 if body.ready else 503, content=body.model_dump())

    async def _ingress_health(self) -> ModelHealth:
        missing = []
        for name in INGRESS_DEPENDENCIES:
            try:
                import_module(name)
            except ImportError as exc:
                missing.append(f"{name}: {exc}")
        if missing:
            return ModelHealth(name="ingress", ready=False, detail="missing dependencies: " + "; ".join(missing))
        try:
            await asyncio.wait_for(self._store.count_active(), settings().ready_timeout_s)
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            return ModelHealth(name="ingress", ready=False, detail=f"job store unusable: {type(exc).__name__}: {exc}")
        pool = self._pool.status()  # workers pass a PyMuPDF self-test when they start; a busy pool is ready
        return ModelHealth(name="ingress", ready=pool.ready, detail=pool.describe())

    async def _model_health(self, role: str, handle: DeploymentHandle[Any]) -> ModelHealth:
        """The deployment's own health answer. That call waits behind the work a busy replica has taken (its
        ``max_ongoing_requests``): past the deadline, a deployment whose model answered before and which Serve
        reports HEALTHY (its replicas constructed, their model loaded and run once, and passing Serve's health
        checks) is busy, not unready; readiness never competes with the work it vouches for (issue 26)."""
        timeout_s = settings().ready_timeout_s
        try:
            health: ModelHealth = await asyncio.wait_for(handle.health.remote(), timeout_s)
            self._answered[role] = health
            return health
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            detail = f"{type(exc).__name__}: {exc}".strip()[:500] or type(exc).__name__
            report = await asyncio.to_thread(deployment_report, handle.deployment_name)
            seen = self._answered.get(role)
            if isinstance(exc, TimeoutError) and seen is not None and report.healthy:
                busy = f"busy: its health call waited past {timeout_s:g} s behind work; Serve reports it {report.text}"
                return seen.model_copy(update={"detail": busy.strip()})
            return ModelHealth(name=role, ready=False, detail=f"{detail} {report.text}".strip())
