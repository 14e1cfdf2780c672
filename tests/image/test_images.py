"""Container images (marker ``image``, ADR 0010): ``scripts/build-image.sh`` builds the CPU and GPU images on a local
Debian base (``scripts/make-local-base.sh``: no registry is reachable here), and inside each the project works.

CPU image: the sample converts in-process, and ``serve run`` (the image's command, on a free loopback port) answers
``/readyz`` 200 and converts the sample over HTTP. GPU image: built from ``requirements/gpu.lock`` with
``--download-deepseek-ocr`` from a hub stand-in on 127.0.0.1 (the tiny checkpoint); its whole stack (vLLM, CUDA
torch, Ray Serve, ultralytics, docgraph) imports without a GPU, the layout checkpoint built at image build finds
the sample's regions on CPU torch, the weights' manifest checks, a C compiler and Python's headers are there.

Not in the default run (pyproject's addopts): ``bash scripts/install-buildah.sh && python3 -m pytest -m image
tests/image``, about 14 minutes once the lock's wheels (build/wheels) and the base are cached, 19 from nothing;
skipped with a reason without root or buildah. Build times and sizes go to ``build/image/report.json``;
the images are removed afterwards (``DOCGRAPH_KEEP_TEST_IMAGES=1`` keeps them). ``buildah run`` (chroot isolation)
shares this machine's network and process table: the service binds 127.0.0.1 on a free port, and every process
started in a container is ended by its id at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from docgraph.embedded import free_port
from docgraph.samples import make_sample_pdf
from pipeline.graph import DocumentGraph, PageKind
from tests.conftest import ROOT

pytestmark = [pytest.mark.image, pytest.mark.timeout(5400)]

BASE = "localhost/docgraph-base:bookworm-py311"
REPORT = ROOT / "build" / "image" / "report.json"
ENV = {
    **os.environ,
    "STORAGE_DRIVER": os.environ.get("STORAGE_DRIVER", "vfs"),
    "BUILDAH_ISOLATION": os.environ.get("BUILDAH_ISOLATION", "chroot"),
}
KEEP = os.environ.get("DOCGRAPH_KEEP_TEST_IMAGES") == "1"  # else the test images are removed (they are large)


def buildah(*args: str, timeout: float = 600) -> str:
    out = subprocess.run(["buildah", *args], env=ENV, capture_output=True, text=True, timeout=timeout, check=False)
    assert out.returncode == 0, f"buildah {' '.join(args)}: {out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def local_base() -> str:
    if os.geteuid() != 0 or not shutil.which("buildah") or not shutil.which("debootstrap"):
        pytest.skip("needs root, buildah and debootstrap (apt-get install -y buildah debootstrap)")
    subprocess.run(["bash", "scripts/make-local-base.sh", BASE], cwd=ROOT, env=ENV, check=True, timeout=1200)
    return BASE


def _record(flavor: str, entry: dict[str, object]) -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    report = json.loads(REPORT.read_text()) if REPORT.is_file() else {}
    report[flavor] = entry
    REPORT.write_text(json.dumps(report, indent=2) + "\n")


def _build(flavor: str, base: str, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """scripts/build-image.sh FLAVOR on the local base; its time and size recorded; removed afterwards."""
    tag = f"localhost/docgraph-{flavor}:image-test"
    started = time.monotonic()
    run = subprocess.run(
        ["bash", "scripts/build-image.sh", flavor, "--base", base, "--tag", tag, *extra],
        cwd=ROOT,
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=4800,
        check=False,
    )
    seconds = time.monotonic() - started
    assert run.returncode == 0, f"build-image.sh {flavor} failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    summary = [line for line in run.stdout.splitlines() if line.startswith("build-image.sh: ")]
    images = json.loads(buildah("images", "--json", tag))
    _record(
        flavor,
        {"seconds": round(seconds), "size": images[0]["size"], "base": base, "script": summary, "tag": tag},
    )
    try:
        yield tag
    finally:
        if not KEEP:
            buildah("rmi", "--force", tag)


@pytest.fixture(scope="module")
def cpu_image(local_base: str) -> Iterator[str]:
    yield from _build("cpu", local_base)


@pytest.fixture(scope="module")
def gpu_image(local_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Built with --download-deepseek-ocr from a hub stand-in on 127.0.0.1 (tests/models/hub.py) serving the tiny
    DeepSeek-OCR checkpoint (models/tiny_deepseek.py) plus a weights file: fetched here, checked, copied in."""
    from models.config import HUB_CHECKPOINTS
    from models.tiny_deepseek import build_tiny_checkpoint
    from tests.models.hub import HubRepo, local_hub

    spec = HUB_CHECKPOINTS["deepseek-ocr"]
    folder = build_tiny_checkpoint(tmp_path_factory.mktemp("hub") / "DeepSeek-OCR")
    (folder / "model-00001-of-000001.safetensors").write_bytes(os.urandom(64 * 1024))
    weights = tmp_path_factory.mktemp("weights") / "deepseek-ocr"
    with local_hub(HubRepo(spec.repo_id, folder, commit=spec.revision)) as endpoint:
        env = {"HF_ENDPOINT": endpoint, "DEEPSEEK_OCR_DIR": str(weights), "HF_HOME": str(weights.parent / "hf")}
        yield from _build("gpu", local_base, "--download-deepseek-ocr", env=env)


@contextlib.contextmanager
def container(image: str) -> Iterator[tuple[str, Path]]:
    """A working container of IMAGE and its root filesystem, mounted here; removed afterwards."""
    name = buildah("from", "--pull-never", image).strip()
    root = Path(buildah("mount", name).strip())
    try:
        yield name, root
    finally:
        buildah("umount", name)
        buildah("rm", name)


def run_in(name: str, script: str, timeout: float = 900) -> str:
    out = subprocess.run(
        ["buildah", "run", name, "--", "bash", "-c", script],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, f"in the container: {script}\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out.stdout


def image_config(image: str) -> dict[str, Any]:
    inspected: dict[str, Any] = json.loads(buildah("inspect", "--type", "image", image))
    return inspected


def check_image_config(image: str, flavor: str) -> None:
    """Non-root, a /readyz health check (kept by the docker format), version and licence labels."""
    inspected = image_config(image)
    config = inspected["Docker"]["config"]
    assert config["User"] == "docgraph"
    assert "/readyz" in " ".join(config["Healthcheck"]["Test"])
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert "AGPL-3.0" in labels["org.opencontainers.image.licenses"]
    assert "layout weights" in labels["io.docgraph.licenses"]
    assert labels["io.docgraph.flavor"] == flavor
    assert config["Cmd"] == ["serve", "run", "/etc/docgraph/serve.yaml"]


def _end(processes: list[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(processes, timeout=20)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=10)


def _started_in(runner: subprocess.Popen[bytes], roots: set[str]) -> list[psutil.Process]:
    """The runner's descendants, and any process whose root is one of theirs (a daemon Ray re-parented)."""
    with contextlib.suppress(psutil.Error):
        children = psutil.Process(runner.pid).children(recursive=True)
        for child in children:
            with contextlib.suppress(psutil.Error, OSError):
                root = os.readlink(f"/proc/{child.pid}/root")
                if root != "/":
                    roots.add(root)
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if process.pid != runner.pid and os.readlink(f"/proc/{process.pid}/root") in roots:
                found.append(process)
    return found


def test_cpu_image_converts_the_sample_and_serves_it(cpu_image: str) -> None:
    check_image_config(cpu_image, "cpu")
    config = image_config(cpu_image)["Docker"]["config"]
    assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0" in config["Env"]  # one machine: Ray's ports on loopback
    with container(cpu_image) as (name, root):
        assert not (root / "opt/docgraph/lib/python3.11/site-packages/pytest").exists()  # no test lock in the image
        assert not (root / "root/.cache/pip").exists()
        assert "host: 0.0.0.0" in (root / "etc/docgraph/serve.yaml").read_text()
        # in-process: the layout model (ONNX on CPU), RapidOCR on the scanned page, the text layer
        started = time.monotonic()
        run_in(name, "docgraph sample s.pdf && docgraph convert s.pdf --local --out out", timeout=900)
        convert_s = time.monotonic() - started
        graph = DocumentGraph.model_validate_json((root / "home/docgraph/out/s.json").read_text())
        assert [p.kind for p in graph.pages] == [PageKind.DIGITAL, PageKind.DIGITAL, PageKind.SCANNED]
        sources = {str(block.source) for block in graph.blocks}
        assert {"text_layer", "ocr"} <= sources, sources

        # the image's command, on a free port on loopback (buildah run shares this machine's network)
        port = free_port()
        served = (root / "etc/docgraph/serve.yaml").read_text()
        test_config = served.replace("  host: 0.0.0.0", "  host: 127.0.0.1").replace("  port: 8000", f"  port: {port}")
        assert f"port: {port}" in test_config and "host: 127.0.0.1" in test_config
        (root / "tmp/serve.yaml").write_text(test_config)
        log = root / "tmp/serve.log"
        runner = subprocess.Popen(
            ["buildah", "run", name, "--", "bash", "-c", "exec serve run /tmp/serve.yaml >/tmp/serve.log 2>&1"],
            env=ENV,
        )
        roots: set[str] = set()
        started = time.monotonic()
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 600
            status = None
            while time.monotonic() < deadline and runner.poll() is None:
                _started_in(runner, roots)  # learn the container's root while its processes run
                with contextlib.suppress(httpx.HTTPError):
                    status = httpx.get(f"{url}/readyz", timeout=5).status_code
                    if status == 200:
                        break
                time.sleep(2)
            tail = log.read_text()[-4000:] if log.exists() else ""
            assert status == 200, f"/readyz never answered 200 (last: {status}); serve run's log:\n{tail}"
            ready_s = time.monotonic() - started
            r = httpx.post(
                f"{url}/v1/convert",
                files={"file": ("sample.pdf", make_sample_pdf(), "application/pdf")},
                timeout=600,
            )
            assert r.status_code == 200, r.text[:2000]
            assert DocumentGraph.model_validate_json(r.content).document.page_count == 3
            _record("cpu-run", {"convert_local_s": round(convert_s), "serve_run_to_ready_s": round(ready_s)})
        finally:
            leftover = _started_in(runner, roots)
            _end(leftover)
            runner.wait(timeout=60)
            assert not _started_in(runner, roots), "processes of the container still run"


def test_gpu_image_imports_its_stack_without_a_gpu(gpu_image: str) -> None:
    check_image_config(gpu_image, "gpu")
    config = image_config(gpu_image)["Docker"]["config"]
    assert not any(e.startswith("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0") for e in config["Env"])  # a cluster image
    labels = config["Labels"]
    assert "MIT" in labels["io.docgraph.deepseek-ocr"]
    with container(gpu_image) as (name, root):
        assert (root / "models/yolo/doclayout.pt").stat().st_size > 1_000_000
        # the downloaded checkpoint, with its manifest, where serve_config.gpu.yaml reads it; nothing of the download's
        # own bookkeeping
        weights = root / "models/deepseek-ocr"
        assert (weights / "config.json").is_file() and (weights / "docgraph-manifest.json").is_file()
        assert (weights / "model-00001-of-000001.safetensors").stat().st_size == 64 * 1024
        assert not (weights / ".cache").exists()
        assert "host: 0.0.0.0" in (root / "etc/docgraph/serve.yaml").read_text()
        assert (root / "etc/docgraph/serve.yaml").resolve().name == "serve_config.gpu.yaml"
        check = """
import importlib.metadata as md, sysconfig, os, shutil
from pathlib import Path
import torch, vllm, ray, ray.serve, ultralytics, docgraph, serve.app, models.layout_torch, models.ocr_deepseek_vllm
assert not torch.cuda.is_available()
assert torch.version.cuda, "a CUDA build of torch"
assert shutil.which("cc") and shutil.which("wget")  # Triton's launcher builds; KubeRay's default probes
assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
from ultralytics import YOLO
import pymupdf
from docgraph.samples import make_sample_pdf
doc = pymupdf.open(stream=make_sample_pdf(), filetype="pdf")
doc[0].get_pixmap(dpi=100).save("/tmp/page.png")
model = YOLO("/models/yolo/doclayout.pt")
boxes = model.predict("/tmp/page.png", device="cpu", imgsz=1024, verbose=False)[0].boxes
assert len(model.names) == 11 and len(boxes) >= 3, (model.names, len(boxes))
from models.config import ManifestCheck
from models.manifest import verify_checkpoint
assert verify_checkpoint(Path("/models/deepseek-ocr"), ManifestCheck.REQUIRED) is not None
print(" ".join(f"{n}=={md.version(n)}" for n in ("vllm", "torch", "ray", "ultralytics", "docgraph")), len(boxes))
"""
        out = run_in(name, f"python3 - <<'EOF'\n{check}\nEOF", timeout=900)
        assert "vllm==" in out, out
        _record("gpu-stack", {"versions": out.strip().splitlines()[-1]})
