"""Autoscaling, proven on a simulated GPU cluster: a head without GPUs, a worker node type that advertises
one, the app deployed from serve_config.yaml with its model deployments asking for GPUs (CPU backends).

Runs last in the session (tests/conftest.py orders it) and stops the session's own Ray first: two Ray
clusters on 2 cores would only measure each other.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from docgraph.embedded import free_port
from tests.autoscaling.fake_cluster import FakeGpuCluster
from tests.conftest import ROOT, stop_session_services

pytestmark = pytest.mark.autoscaling


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGpuCluster]:
    stop_session_services()
    fake = FakeGpuCluster(
        tmp_path_factory.mktemp("fake-cluster"),
        head_cpus=4,
        worker_types={
            "gpu.worker": {"resources": {"CPU": 2, "GPU": 1}, "node_config": {}, "min_workers": 0, "max_workers": 2}
        },
        idle_timeout_minutes=0.25,
    )
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
        assert fake.pids() == [], "processes of the fake cluster survived"


def test_replicas_and_gpu_nodes_scale_up_under_load_and_back_down(cluster: FakeGpuCluster) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.autoscaling.scenario", "--address", cluster.address,
         "--http-port", str(free_port())],
        cwd=ROOT, env=cluster.env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    Path(ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "autoscaling_test.json").write_text(json.dumps(report, indent=2))
    summary = {k: v for k, v in report.items() if k != "timeline"}
    assert report["became_ready"], summary
    assert report["first_gpu_nodes"] == 0  # the head has no GPU: the first GPU node is the autoscaler's
    # (a) replicas scale up and (b) the autoscaler adds a GPU node to place the second one
    assert report["scaled_up"] and report["max_layout_replicas"] == 2 and report["max_gpu_nodes"] == 2, summary
    # (c) every request under load succeeded
    assert report["requests"] > 0 and set(report["statuses"]) == {"200"}, summary
    # (d) after the load, back to one replica and one GPU node
    assert report["settled"], summary
