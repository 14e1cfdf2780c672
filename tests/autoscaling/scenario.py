"""The autoscaling scenario, run as its own process against a FakeGpuCluster (its own Ray connection):
deploy serve_config.yaml with the model deployments asking for GPUs, drive load, watch replicas and GPU nodes
scale up, stop the load, watch them scale down. Prints a JSON report on stdout's last line.

    python -m tests.autoscaling.scenario --address 127.0.0.1:PORT --http-port PORT
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import yaml

from docgraph.embedded import deploy_config
from docgraph.samples import make_text_pdf
from tests.conftest import ROOT

APP = "docgraph"
# short timings through the config, as the issue asks (production values: serve_config.gpu.yaml)
LAYOUT_SCALING = {
    "min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 1, "upscale_delay_s": 2, "downscale_delay_s": 10,
}  # fmt: skip


def test_config(http_port: int) -> dict[str, Any]:
    """serve_config.yaml, with the model deployments on (fake) GPUs and the layout model quick to scale."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    config["http_options"]["port"] = http_port
    config["proxy_location"] = "HeadOnly"
    for d in config["applications"][0]["deployments"]:
        if d["name"] == "LayoutDeployment":
            d["ray_actor_options"] = {"num_cpus": 0.5, "num_gpus": 0.5}
            d["autoscaling_config"] = dict(LAYOUT_SCALING)
        elif d["name"] == "OcrDeployment":
            d["ray_actor_options"] = {"num_cpus": 0.5, "num_gpus": 0.5}
            d.pop("autoscaling_config", None)
            d["num_replicas"] = 1
        else:
            d.pop("autoscaling_config", None)
            d["num_replicas"] = 1
    return config


def snapshot() -> dict[str, Any]:
    import ray
    from ray import serve
    from ray.serve.schema import ReplicaState

    replicas: dict[str, int] = {}
    try:
        app = serve.status().applications.get(APP)
        if app is not None:
            for name, dep in app.deployments.items():
                replicas[name] = int(dep.replica_states.get(ReplicaState.RUNNING, 0))
    except Exception:  # noqa: BLE001 - the controller may be busy; a missing sample is fine
        pass
    gpu_nodes = sum(1 for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU", 0) > 0)
    return {"t": time.monotonic(), "replicas": replicas, "gpu_nodes": gpu_nodes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-load-s", type=float, default=90)
    parser.add_argument("--max-settle-s", type=float, default=180)
    args = parser.parse_args()

    import ray

    ray.init(address=args.address, log_to_driver=False)
    t0 = time.monotonic()
    timeline: list[dict[str, Any]] = [snapshot()]
    deploy_config(test_config(args.http_port))
    url = f"http://127.0.0.1:{args.http_port}"

    def wait(pred: Any, limit_s: float) -> bool:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            timeline.append(snapshot())
            if pred(timeline[-1]):
                return True
            time.sleep(1)
        return False

    def ready(_: dict[str, Any]) -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    became_ready = wait(ready, 300)
    t_ready = time.monotonic()

    pdf = make_text_pdf(1, paragraphs=4)
    statuses: list[int] = []
    stop = threading.Event()

    def client_loop() -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            while not stop.is_set():
                try:
                    r = http.post("/v1/convert", files={"file": ("a.pdf", pdf, "application/pdf")})
                    statuses.append(r.status_code)
                except httpx.HTTPError:
                    statuses.append(0)

    scaled_up = False
    if became_ready:
        with ThreadPoolExecutor(args.clients) as pool:
            for _ in range(args.clients):
                pool.submit(client_loop)
            scaled_up = wait(
                lambda s: s["replicas"].get("LayoutDeployment", 0) >= 2 and s["gpu_nodes"] >= 2, args.max_load_s
            )
            wait(lambda s: False, 5)  # keep the load on a little: requests must keep succeeding at 2 replicas
            stop.set()
    t_load_end = time.monotonic()
    settled = became_ready and wait(
        lambda s: s["replicas"].get("LayoutDeployment", 0) == 1 and s["gpu_nodes"] == 1, args.max_settle_s
    )
    report = {
        "became_ready": became_ready,
        "ready_s": round(t_ready - t0, 1),
        "scaled_up": scaled_up,
        "load_s": round(t_load_end - t_ready, 1),
        "settled": settled,
        "settle_s": round(time.monotonic() - t_load_end, 1),
        "requests": len(statuses),
        "statuses": {str(code): statuses.count(code) for code in sorted(set(statuses))},
        "max_layout_replicas": max(s["replicas"].get("LayoutDeployment", 0) for s in timeline),
        "max_gpu_nodes": max(s["gpu_nodes"] for s in timeline),
        "first_gpu_nodes": timeline[0]["gpu_nodes"],
        "timeline": [{**s, "t": round(s["t"] - t0, 1)} for s in timeline],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
