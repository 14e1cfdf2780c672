"""A simulated GPU cluster on one machine: Ray's ``fake_multinode`` node provider behind a real autoscaler.

``ray.cluster_utils.AutoscalingCluster`` does the same but reads a base config that the pip wheel lacks and
runs ``ray stop --force`` (every Ray process on the machine, the test session's included). This starts the
head the same way (``ray start --head --autoscaling-config=...`` with ``RAY_FAKE_CLUSTER=1``, through this
interpreter's Ray) with a complete config of its own, its own temp dir and ports on 127.0.0.1, and stops
exactly its own processes: every process whose environment carries this cluster's marker (the head's
processes, the fake nodes' raylets and their workers all inherit it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from docgraph.embedded import free_port

MARKER = "DOCGRAPH_FAKE_CLUSTER"


def base_config(*, head_cpus: int, worker_types: dict[str, dict[str, Any]], gcs_address: str,
                idle_timeout_minutes: float) -> dict[str, Any]:  # fmt: skip
    """A complete fake_multinode cluster config (the fields the autoscaler reads, all present)."""
    types: dict[str, Any] = {"ray.head.default": {"resources": {"CPU": head_cpus}, "node_config": {}, "max_workers": 0}}
    types.update(worker_types)
    return {
        "cluster_name": "docgraph-fake",
        "max_workers": sum(t.get("max_workers", 0) for t in worker_types.values()),
        "provider": {
            "type": "fake_multinode",
            "use_node_id_as_ip": True,
            "disable_node_updaters": True,
            "disable_launch_config_check": True,
            "gcs_address": gcs_address,
        },
        "available_node_types": types,
        "head_node_type": "ray.head.default",
        "auth": {},
        "upscaling_speed": 1.0,
        "idle_timeout_minutes": idle_timeout_minutes,
        "docker": {},
        "initialization_commands": [],
        "setup_commands": [],
        "head_setup_commands": [],
        "worker_setup_commands": [],
        "head_start_ray_commands": [],
        "worker_start_ray_commands": [],
        "file_mounts": {},
        "cluster_synced_files": [],
        "file_mounts_sync_continuously": False,
        "rsync_exclude": [],
        "rsync_filter": [],
    }


class FakeGpuCluster:
    def __init__(self, workdir: Path, *, head_cpus: int, worker_types: dict[str, dict[str, Any]],
                 idle_timeout_minutes: float = 0.25) -> None:  # fmt: skip
        self.workdir = workdir
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.marker = uuid.uuid4().hex
        self.config = base_config(
            head_cpus=head_cpus, worker_types=worker_types, gcs_address=self.address,
            idle_timeout_minutes=idle_timeout_minutes,
        )  # fmt: skip
        # short paths: Ray's unix sockets live under the temp dir (108-byte limit)
        self.temp_dir = Path("/tmp") / f"dgfc-{self.marker[:8]}"

    def env(self) -> dict[str, str]:
        env = {**os.environ, MARKER: self.marker, "RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1"}
        env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        env["RAY_AUTH_MODE"] = "disabled"  # a loopback-only test cluster; drivers here connect without a token
        env.pop("RAY_ADDRESS", None)
        return env

    def start(self) -> FakeGpuCluster:
        config_path = self.workdir / "fake_cluster.json"
        config_path.write_text(json.dumps(self.config))
        head_cpus = self.config["available_node_types"]["ray.head.default"]["resources"]["CPU"]
        # this interpreter's Ray CLI (`ray` on PATH may be another environment's, or absent: venv not activated)
        cmd = [
            sys.executable, "-m", "ray.scripts.scripts", "start", "--head", f"--port={self.port}",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={head_cpus}", "--num-gpus=0", "--include-dashboard=false",
            f"--temp-dir={self.temp_dir}", f"--autoscaling-config={config_path}",
            f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
            f"--metrics-export-port={free_port()}", f"--node-manager-port={free_port()}",
            f"--object-manager-port={free_port()}", "--disable-usage-stats",
        ]  # fmt: skip
        subprocess.run(cmd, env=self.env(), check=True, capture_output=True, timeout=120)
        return self

    def pids(self) -> list[int]:
        mine = f"{MARKER}={self.marker}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if mine in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def stop(self, timeout_s: float = 30.0) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + timeout_s
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.5)
            if not self.pids():
                return
