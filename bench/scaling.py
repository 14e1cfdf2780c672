"""Scaling curve on the CPU default: pages/s at saturation with 1, 2 and 4 replicas of the layout deployment.

serve_config.yaml as it is, except a fixed LayoutDeployment replica count (autoscaling off) per run; 4-page
born-digital documents with the layout model on every page, 16 clients, one run per replica count.
    python bench/scaling.py [--replicas 1,2,4] [--docs 24]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import yaml
from common import ROOT, report

from docgraph.embedded import deploy_config, free_port, wait_ready
from docgraph.samples import make_text_pdf


def config(replicas: int, port: int) -> dict[str, Any]:
    cfg: dict[str, Any] = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    cfg["http_options"]["port"] = port
    for d in cfg["applications"][0]["deployments"]:
        if d["name"] == "LayoutDeployment":
            d.pop("autoscaling_config")
            d["num_replicas"] = replicas
    return cfg


def pages_per_s(replicas: int, docs: list[bytes], clients: int) -> float:
    import ray
    from ray import serve

    port = free_port()
    ray.init(address="local", num_cpus=8, include_dashboard=False, log_to_driver=False)
    try:
        deploy_config(config(replicas, port))
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, 300)
        with httpx.Client(base_url=url, timeout=600) as http:

            def one(data: bytes) -> int:
                r = http.post("/v1/convert", files={"file": ("d.pdf", data, "application/pdf")})
                r.raise_for_status()
                return len(r.json()["pages"])

            one(docs[0])
            t0 = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                pages = sum(pool.map(one, docs))
            return pages / (time.perf_counter() - t0)
    finally:
        serve.shutdown()
        ray.shutdown()


def main() -> None:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", default="1,2,4")
    parser.add_argument("--docs", type=int, default=24)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    docs = [make_text_pdf(4) for _ in range(args.docs)]
    rates = {int(n): pages_per_s(int(n), docs, args.clients) for n in args.replicas.split(",")}
    base = rates[min(rates)]
    rows: dict[str, object] = {
        "cores": os.cpu_count(),
        "documents x pages": f"{args.docs} x 4",
        "clients": args.clients,
    }
    for n, rate in rates.items():
        rows[f"{n} layout replica(s), pages/s"] = f"{rate:.2f} ({rate / base:.2f}x)"
    report("scaling", rows)


if __name__ == "__main__":
    main()
