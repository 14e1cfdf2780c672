"""``docgraph models download`` against a hub stand-in on 127.0.0.1 (tests/models/hub.py; no network), and the
manifest it writes checked where the OCR replica loads: a changed file stops the deployment, /readyz names it.

The hub repo is the tiny DeepSeek-OCR checkpoint (models/tiny_deepseek.py) plus a weights file and the files a
real repo also holds that the model does not need (remote code, README, pictures).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from docgraph.cli import cli
from docgraph.embedded import EmbeddedService
from models.config import HUB_CHECKPOINTS, ManifestCheck
from models.download import DownloadError, download
from models.factory import build_ocr_model
from models.manifest import MANIFEST_NAME, CheckpointManifest, verify_checkpoint
from models.tiny_deepseek import build_tiny_checkpoint, tiny_cpu_config
from pipeline.errors import ModelUnavailableError
from tests.models.hub import HubRepo, local_hub

SPEC = HUB_CHECKPOINTS["deepseek-ocr"]
NOT_NEEDED = {"README.md", "modeling_deepseekocr.py", "assets/fig1.png"}


@pytest.fixture(scope="module")
def repo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_tiny_checkpoint(tmp_path_factory.mktemp("hub") / "DeepSeek-OCR")
    (folder / "model-00001-of-000001.safetensors").write_bytes(os.urandom(64 * 1024))
    (folder / "LICENSE").write_text("MIT License\n")
    (folder / "README.md").write_text("# DeepSeek-OCR\n")
    (folder / "modeling_deepseekocr.py").write_text("raise RuntimeError('remote code is never run')\n")
    (folder / "assets").mkdir()
    (folder / "assets" / "fig1.png").write_bytes(b"\x89PNG not needed")
    return folder


@pytest.fixture(scope="module")
def hub(repo_folder: Path) -> Iterator[tuple[HubRepo, str]]:
    repo = HubRepo(SPEC.repo_id, repo_folder, commit=SPEC.revision)  # the pinned commit is the hub's main
    with local_hub(repo) as endpoint:
        yield repo, endpoint


@pytest.fixture(scope="module")
def downloaded(hub: tuple[HubRepo, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("download") / "deepseek-ocr"
    download("deepseek-ocr", out, endpoint=hub[1])
    return out


def _copy(checkpoint: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(checkpoint, tmp_path / "checkpoint", ignore=shutil.ignore_patterns(".cache")))


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_download_fetches_the_pinned_commit_and_only_what_the_model_needs(
    hub: tuple[HubRepo, str], repo_folder: Path, downloaded: Path
) -> None:
    repo, _ = hub
    manifest = CheckpointManifest.model_validate_json((downloaded / MANIFEST_NAME).read_bytes())
    assert (manifest.repo_id, manifest.revision, manifest.commit) == (SPEC.repo_id, SPEC.revision, SPEC.revision)
    listed = {f.path for f in manifest.files}
    on_hub = {p.relative_to(repo_folder).as_posix() for p in repo.files()}
    assert listed == on_hub - NOT_NEEDED
    assert {"config.json", "tokenizer.json", "model-00001-of-000001.safetensors", "LICENSE"} <= listed
    for entry in manifest.files:  # the manifest says what the hub holds, byte for byte
        source = (repo_folder / entry.path).read_bytes()
        assert entry.size == len(source) and entry.sha256 == hashlib.sha256(source).hexdigest()
        assert (downloaded / entry.path).read_bytes() == source
    for name in NOT_NEEDED:
        assert not (downloaded / name).exists()
        assert not any(r.endswith(f"/{name}") for r in repo.requests if "/resolve/" in r)
    assert f"GET /api/models/{SPEC.repo_id}/revision/{SPEC.revision}" in repo.requests
    assert verify_checkpoint(downloaded) == manifest


def test_a_changed_or_missing_file_fails_verification_and_is_named(downloaded: Path, tmp_path: Path) -> None:
    checkpoint = _copy(downloaded, tmp_path)
    assert verify_checkpoint(checkpoint) is not None
    _flip_a_byte(checkpoint / "model-00001-of-000001.safetensors")
    (checkpoint / "tokenizer.json").unlink()
    with (checkpoint / "config.json").open("a") as f:
        f.write(" ")
    with pytest.raises(ModelUnavailableError) as caught:
        verify_checkpoint(checkpoint)
    message = caught.value.message
    assert caught.value.code == "checkpoint_mismatch" and MANIFEST_NAME in message
    assert "model-00001-of-000001.safetensors has sha256" in message
    assert "tokenizer.json is missing" in message and "config.json has" in message
    assert caught.value.context["files"] == ["config.json", "model-00001-of-000001.safetensors", "tokenizer.json"]
    assert verify_checkpoint(checkpoint, ManifestCheck.OFF) is None  # the switch: loads unchecked


def test_without_a_manifest_the_policy_decides(tmp_path: Path) -> None:
    checkpoint = build_tiny_checkpoint(tmp_path / "tiny")  # a directory of your own: no manifest
    assert verify_checkpoint(checkpoint) is None
    with pytest.raises(ModelUnavailableError, match=r"no docgraph-manifest\.json and verify_manifest is 'required'"):
        verify_checkpoint(checkpoint, ManifestCheck.REQUIRED)
    (checkpoint / MANIFEST_NAME).write_text(json.dumps({"format": 1, "files": [{"path": "../etc/passwd"}]}))
    with pytest.raises(ModelUnavailableError, match="is not a valid manifest"):
        verify_checkpoint(checkpoint)


def test_the_ocr_backend_refuses_a_corrupted_checkpoint_before_its_engine_starts(
    downloaded: Path, tmp_path: Path
) -> None:
    checkpoint = _copy(downloaded, tmp_path)
    _flip_a_byte(checkpoint / "model-00001-of-000001.safetensors")
    vllm_loaded = "vllm" in sys.modules
    with pytest.raises(ModelUnavailableError, match=r"model-00001-of-000001\.safetensors has sha256") as caught:
        build_ocr_model(tiny_cpu_config(checkpoint))
    assert caught.value.code == "checkpoint_mismatch"
    assert ("vllm" in sys.modules) == vllm_loaded, "the check runs before vLLM is imported"


def test_download_refuses_bytes_that_differ_from_the_hubs_hashes(repo_folder: Path, tmp_path: Path) -> None:
    for name, kind in (("model-00001-of-000001.safetensors", "sha256"), ("tokenizer.json", "git blob sha1")):
        repo = HubRepo(SPEC.repo_id, repo_folder, commit=SPEC.revision, corrupt={name})
        with local_hub(repo) as endpoint, pytest.raises(DownloadError, match=f"{name}: .* {kind} ") as caught:
            download("deepseek-ocr", tmp_path / kind, endpoint=endpoint)
        assert "the hub lists" in str(caught.value)
        assert not (tmp_path / kind / MANIFEST_NAME).exists()


def test_cli_downloads_with_hf_endpoint(hub: tuple[HubRepo, str], tmp_path: Path) -> None:
    """The installed command in a fresh process, configured the way an image build runs it."""
    env = {**os.environ, "HF_ENDPOINT": hub[1], "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf-home")}
    out = tmp_path / "weights"
    docgraph = Path(sys.executable).with_name("docgraph")
    run = subprocess.run(
        [str(docgraph), "models", "download", "deepseek-ocr", str(out), "--revision", "main"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    said = " ".join(run.stderr.split())  # rich wraps lines
    assert f"of {SPEC.repo_id}@{SPEC.revision}" in said and MANIFEST_NAME in said
    manifest = verify_checkpoint(out, ManifestCheck.REQUIRED)
    assert manifest is not None and manifest.revision == "main" and manifest.commit == SPEC.revision
    assert not (tmp_path / "hf-home").exists(), "nothing written outside the target directory"


def test_cli_names_a_revision_the_hub_does_not_have(hub: tuple[HubRepo, str], tmp_path: Path) -> None:
    out = tmp_path / "weights"
    result = CliRunner().invoke(
        cli,
        ["models", "download", "deepseek-ocr", str(out), "--revision", "no-such-branch"],
        env={"HF_ENDPOINT": hub[1]},
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "download failed" in text and f"{SPEC.repo_id}@no-such-branch" in text and "RevisionNotFoundError" in text
    assert not (out / MANIFEST_NAME).exists()
    result = CliRunner().invoke(cli, ["models", "download", "no-such-model", str(out)], env={"HF_ENDPOINT": hub[1]})
    assert result.exit_code == 2 and "unknown checkpoint 'no-such-model'" in " ".join(result.output.split())


@pytest.mark.serve
def test_readyz_names_the_corrupted_file(service: EmbeddedService, downloaded: Path, tmp_path: Path) -> None:
    """The deployment as configured in production (deepseek-vllm) on a checkpoint with one changed byte: the OCR
    replica never starts, and /readyz says which file and why (Serve's word on the failed constructor)."""
    from ray import serve

    from serve.app import build_app
    from serve.args import AppArgs
    from tests.conftest import TEST_LIMITS, jobs_config_for_tests

    checkpoint = _copy(downloaded, tmp_path)
    _flip_a_byte(checkpoint / "model-00001-of-000001.safetensors")
    args = AppArgs(
        layout=None, ocr=tiny_cpu_config(checkpoint), limits=TEST_LIMITS, jobs=jobs_config_for_tests(tmp_path)
    )
    try:
        serve.run(build_app(args), name="badckpt", route_prefix="/badckpt", blocking=False)
    except RuntimeError as exc:  # Serve reports the failed deployment; the ingress still runs and must say why
        assert "OcrDeployment" in str(exc)
    detail, body = "", {}
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and "DEPLOY_FAILED" not in detail:  # Serve gave up: its final word
            r = httpx.get(f"{service.url}/badckpt/readyz", timeout=60)
            body = r.json()
            detail = next((c["detail"] for c in body.get("components", []) if c["name"] == "ocr"), "")
            time.sleep(0 if "DEPLOY_FAILED" in detail else 1)
    finally:
        serve.delete("badckpt")
    assert body.get("ready") is False, body
    assert "model-00001-of-000001.safetensors has sha256" in detail and MANIFEST_NAME in detail, detail
