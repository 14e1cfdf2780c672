"""deploy/: the KubeRay RayService and the VM cluster-launcher config are valid, shaped for ops (head without
replicas, CPU + GPU worker groups, autoscaling on, probes) and carry exactly the GPU Serve profile."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from ray.serve.schema import ServeDeploySchema

from models.config import DeepSeekVllmConfig
from serve.args import AppArgs
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def _render_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render", DEPLOY / "render.py")
    assert spec and spec.loader
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    return render


def test_rayservice_embeds_the_gpu_profile_exactly() -> None:
    render = _render_module()
    committed = (DEPLOY / "kuberay" / "rayservice.yaml").read_text()
    assert committed == render.render(), "deploy/kuberay/rayservice.yaml is stale: python deploy/render.py"
    assert (DEPLOY / "vm" / "cluster.yaml").read_text() == render.render_vm(), "deploy/vm/cluster.yaml is stale"
    manifest = yaml.safe_load(committed)
    embedded = yaml.safe_load(manifest["spec"]["serveConfigV2"])
    assert embedded == _load(ROOT / "serve_config.gpu.yaml")
    schema = ServeDeploySchema.model_validate(embedded)
    AppArgs.model_validate(schema.applications[0].args)


def test_production_jobs_share_redis_and_pods_get_the_secrets() -> None:
    """Ingress replicas on several nodes must share one job store; its URL and the API key come from a Secret."""
    profile = ServeDeploySchema.model_validate(_load(ROOT / "serve_config.gpu.yaml"))
    store = AppArgs.model_validate(profile.applications[0].args).jobs.store
    assert store.backend == "redis" and store.url_env == "DOCGRAPH_REDIS_URL"
    manifest = _load(DEPLOY / "kuberay" / "rayservice.yaml")
    for group in manifest["spec"]["rayClusterConfig"]["workerGroupSpecs"]:  # the ingress may land on either
        env = {e["name"]: e for e in group["template"]["spec"]["containers"][0]["env"]}
        names = ("DOCGRAPH_REDIS_URL", "DOCGRAPH_API_KEY")
        secrets = [env[name]["valueFrom"]["secretKeyRef"]["name"] for name in names]
        assert secrets == ["docgraph", "docgraph"]


def test_every_node_s_http_proxy_gets_the_request_head_deadline() -> None:
    """Serve runs an HTTP proxy on every node; each must load serve.httpproxy (the request-head deadline)."""
    from serve.httpproxy import CALLBACK, CALLBACK_ENV

    cluster = _load(DEPLOY / "kuberay" / "rayservice.yaml")["spec"]["rayClusterConfig"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    for group in groups:
        env = {e["name"]: e.get("value") for e in group["template"]["spec"]["containers"][0]["env"]}
        assert env[CALLBACK_ENV] == CALLBACK
    vm = (DEPLOY / "vm" / "cluster.yaml").read_text()
    assert vm.count(f"export {CALLBACK_ENV}={CALLBACK};") == 2  # head and worker start commands


def test_the_serve_controller_wakes_as_often_everywhere() -> None:
    """The controller's loop interval (docgraph.embedded) is the same in the image, on the KubeRay head and on the
    VM head as in the embedded service."""
    from docgraph.embedded import CONTROL_LOOP_ENV, CONTROL_LOOP_INTERVAL_S

    head = _load(DEPLOY / "kuberay" / "rayservice.yaml")["spec"]["rayClusterConfig"]["headGroupSpec"]
    env = {e["name"]: e.get("value") for e in head["template"]["spec"]["containers"][0]["env"]}
    assert env[CONTROL_LOOP_ENV] == CONTROL_LOOP_INTERVAL_S
    assert f"export {CONTROL_LOOP_ENV}={CONTROL_LOOP_INTERVAL_S};" in (DEPLOY / "vm" / "cluster.yaml").read_text()
    assert f"{CONTROL_LOOP_ENV}={CONTROL_LOOP_INTERVAL_S} \\" in (DEPLOY / "image" / "Containerfile").read_text()


def test_rayservice_cluster_shape() -> None:
    manifest = _load(DEPLOY / "kuberay" / "rayservice.yaml")
    assert (manifest["apiVersion"], manifest["kind"]) == ("ray.io/v1", "RayService")
    cluster = manifest["spec"]["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    assert cluster["rayVersion"] == version("ray")
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    groups = {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "gpu"}
    gpu = groups["gpu"]
    container = gpu["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == gpu["rayStartParams"]["num-gpus"] == "1"
    for group in groups.values():
        assert 1 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        c = group["template"]["spec"]["containers"][0]
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8000}
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8000}
    # the GPU group can hold the GPU profile's replicas: one OCR + one layout share a 1-GPU node
    profile = ServeDeploySchema.model_validate(_load(ROOT / "serve_config.gpu.yaml")).applications[0]
    raw = {d["name"]: d for d in _load(ROOT / "serve_config.gpu.yaml")["applications"][0]["deployments"]}
    assert sum(raw[n]["ray_actor_options"].get("num_gpus", 0) for n in raw) <= 1
    on_gpu = [raw[n]["ray_actor_options"] for n in raw if raw[n]["ray_actor_options"].get("num_gpus", 0)]
    assert sum(options["num_cpus"] for options in on_gpu) <= float(container["resources"]["limits"]["cpu"])
    max_ocr = raw["OcrDeployment"]["autoscaling_config"]["max_replicas"]
    assert max_ocr <= gpu["maxReplicas"], "more OCR replicas allowed than GPU nodes to place them"
    assert profile.deployments  # parsed


def test_cluster_launcher_config_is_valid_for_ray() -> None:
    import jsonschema
    import ray

    config = _load(DEPLOY / "vm" / "cluster.yaml")
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)
    types = config["available_node_types"]
    assert config["head_node_type"] in types and types[config["head_node_type"]]["resources"]["CPU"] == 0
    gpu_types = [t for t in types.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu_types and max(t["max_workers"] for t in gpu_types) >= 1
    assert any("--autoscaling-config" in c for c in config["head_start_ray_commands"])


def test_grafana_dashboard_queries_only_series_that_exist() -> None:
    import importlib.util
    import re

    import ray

    spec = importlib.util.spec_from_file_location("grafana_render", DEPLOY / "grafana" / "render.py")
    assert spec and spec.loader
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    committed = json.loads((DEPLOY / "grafana" / "docgraph.json").read_text())
    assert committed == render.dashboard(), "deploy/grafana/docgraph.json is stale: python deploy/grafana/render.py"
    ours = (ROOT / "serve" / "metrics.py").read_text()
    serve_src = "\n".join(p.read_text() for p in (Path(ray.__file__).parent / "serve").rglob("*.py"))
    names = {n for p in committed["panels"] for t in p["targets"] for n in re.findall(r"\bray_[a-z_]+", t["expr"])}
    assert any(n.startswith("ray_docgraph_") for n in names) and any(n.startswith("ray_serve_") for n in names)
    for name in names:
        full = name.removeprefix("ray_")
        candidates = {full, re.sub(r"_(total|bucket|sum|count)$", "", full)}
        if full.startswith("docgraph_"):
            assert any(f'"{c}"' in ours for c in candidates), f"{name}: not defined in serve/metrics.py"
        else:
            found = any(
                f'"{c}"' in serve_src or c.replace("_http_", "_{protocol_name}_") in serve_src for c in candidates
            )
            assert found, f"{name}: not a Ray Serve metric"


def _build_tag(flavor: str) -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-image.sh"), flavor, "--print-tag"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_manifests_run_the_image_build_image_sh_builds() -> None:
    """No manifest names an image nothing builds: every pod and VM runs scripts/build-image.sh's GPU tag (the
    project's version), and --image moves all of them at once."""
    tag = _build_tag("gpu")
    project = (ROOT / "pyproject.toml").read_text()
    assert tag == f"docgraph-gpu:{version('docgraph')}" and f'version = "{version("docgraph")}"' in project
    assert _build_tag("cpu") == tag.replace("-gpu:", "-cpu:")
    cluster = _load(DEPLOY / "kuberay" / "rayservice.yaml")["spec"]["rayClusterConfig"]
    pods = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    assert {c["image"] for p in pods for c in p["template"]["spec"]["containers"]} == {tag}
    assert _load(DEPLOY / "vm" / "cluster.yaml")["docker"]["image"] == tag
    render = _render_module()
    mine = "registry.example.com/ml/docgraph-gpu:9.9.9"
    assert render.render(mine).count(mine) == len(pods) and tag not in render.render(mine)
    assert f"image: {mine}" in render.render_vm(mine) and tag not in render.render_vm(mine)


def test_gpu_image_puts_the_weights_where_the_gpu_profile_reads_them() -> None:
    """The GPU profile's OCR checkpoint is where the Containerfile copies --deepseek-ocr DIR; the layout
    checkpoint the image builds is the path the README and build-image.sh name."""
    containerfile = (DEPLOY / "image" / "Containerfile").read_text()
    script = (ROOT / "scripts" / "build-image.sh").read_text()
    profile = AppArgs.model_validate(_load(ROOT / "serve_config.gpu.yaml")["applications"][0]["args"])
    assert isinstance(profile.ocr, DeepSeekVllmConfig) and profile.ocr.model == "/models/deepseek-ocr"
    assert profile.layout is not None and profile.layout.weights == "/models/yolo/doclayout.pt"
    assert "cp -r /context/deepseek-ocr /models/deepseek-ocr" in containerfile
    assert "LAYOUT_PT=/models/yolo/doclayout.pt" in script and "docgraph models layout-pt" in containerfile
    assert "SERVE_CONFIG=serve_config.gpu.yaml" in script
