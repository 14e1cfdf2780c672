"""Write deploy/grafana/docgraph.json: a Grafana dashboard over docgraph's and Serve's Prometheus series.

    python deploy/grafana/render.py
tests/deploy/ checks that every series it queries is one that docgraph (serve/metrics.py) or Serve exports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("docgraph.json")

PANELS: list[tuple[str, str, str]] = [
    # title, PromQL, unit
    ("Pages/s by route", "sum by (route) (rate(ray_docgraph_pages_total[1m]))", "ops"),
    ("Pages/s by status", "sum by (status) (rate(ray_docgraph_pages_total[1m]))", "ops"),
    ("Page failures/s by step and code", "sum by (step, code) (rate(ray_docgraph_page_failures_total[5m]))", "ops"),
    ("Stage latency p95",
     "histogram_quantile(0.95, sum by (le, stage) (rate(ray_docgraph_stage_seconds_bucket[5m])))", "s"),
    ("Model call latency p95",
     "histogram_quantile(0.95, sum by (le, role) (rate(ray_docgraph_model_seconds_bucket[5m])))", "s"),
    ("Document latency p50 / p95",
     "histogram_quantile(0.5, sum by (le) (rate(ray_docgraph_document_seconds_bucket[5m])))", "s"),
    ("Documents in flight", "sum(ray_docgraph_documents_in_flight)", "short"),
    ("Documents/s by status", "sum by (status) (rate(ray_docgraph_documents_total[1m]))", "ops"),
    ("OCR tokens/s", "sum by (model) (rate(ray_docgraph_ocr_tokens_total[1m]))", "short"),
    ("OCR retries and truncations/s",
     "sum(rate(ray_docgraph_ocr_retries_total[5m])) or sum(rate(ray_docgraph_ocr_truncated_total[5m]))", "ops"),
    ("Queued requests by deployment", "sum by (deployment) (ray_serve_deployment_queued_queries)", "short"),
    ("Ongoing requests per replica", "sum by (deployment, replica) (ray_serve_replica_processing_queries)", "short"),
    ("Replicas by deployment", "sum by (deployment) (ray_serve_deployment_replica_healthy)", "short"),
    ("HTTP errors/s by code", "sum by (error_code) (rate(ray_serve_num_http_error_requests_total[1m]))", "ops"),
]  # fmt: skip


def dashboard() -> dict[str, Any]:
    panels = []
    for i, (title, expr, unit) in enumerate(PANELS):
        panels.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"x": (i % 2) * 12, "y": (i // 2) * 8, "w": 12, "h": 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": "A", "expr": expr, "legendFormat": "__auto"}],
            }
        )
    return {
        "title": "docgraph",
        "uid": "docgraph",
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "10s",
        "templating": {
            "list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]
        },
        "panels": panels,
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(dashboard(), indent=2) + "\n")
