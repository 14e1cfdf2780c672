"""A checkpoint directory's manifest: ``docgraph-manifest.json``, the sha256 and size of each of its files.

``docgraph models download`` writes it beside the files it fetched (models/download.py); the OCR replica checks
it before its engine loads a byte (``verify_manifest`` in the config: a missing or changed file stops the
replica with a ``ModelUnavailableError`` that names the file, which /readyz shows). Standard library only: the
replica imports this, never huggingface_hub.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models.config import ManifestCheck
from pipeline.errors import ModelUnavailableError

MANIFEST_NAME = "docgraph-manifest.json"


class ManifestFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Relative to the checkpoint directory, '/'-separated.")
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("path")
    @classmethod
    def _inside(cls, value: str) -> str:
        parts = PurePosixPath(value).parts
        if not parts or value.startswith("/") or ".." in parts or "\\" in value:
            raise ValueError(f"{value!r} is not a path inside the checkpoint")
        return value


class CheckpointManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = 1
    repo_id: str = Field(description="Where the files came from (owner/name on the hub).")
    revision: str = Field(description="The revision asked for.")
    commit: str = Field(description="The commit it resolved to.")
    files: list[ManifestFile] = Field(min_length=1)


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_manifest(directory: Path, manifest: CheckpointManifest) -> Path:
    path = directory / MANIFEST_NAME
    path.write_text(manifest.model_dump_json(indent=2) + "\n")
    return path


def read_manifest(directory: Path) -> CheckpointManifest | None:
    """The directory's manifest, None when it has none; an unreadable one is a ``ModelUnavailableError``."""
    path = directory / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        return CheckpointManifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise ModelUnavailableError(
            f"checkpoint {directory}: {MANIFEST_NAME} is not a valid manifest: {exc}",
            code="checkpoint_mismatch",
            weights=str(directory),
        ) from exc


def verify_checkpoint(directory: Path, policy: ManifestCheck = ManifestCheck.IF_PRESENT) -> CheckpointManifest | None:
    """Check every file the manifest lists (size, then sha256). Raises ``ModelUnavailableError`` naming each
    missing or changed file; returns the manifest (None when there is none and the policy allows that)."""
    if policy is ManifestCheck.OFF:
        return None
    manifest = read_manifest(directory)
    if manifest is None:
        if policy is ManifestCheck.REQUIRED:
            raise ModelUnavailableError(
                f"checkpoint {directory} has no {MANIFEST_NAME} and verify_manifest is 'required' "
                "(write one with 'docgraph models download')",
                code="checkpoint_mismatch",
                weights=str(directory),
            )
        return None
    problems = []
    for entry in manifest.files:
        local = directory / entry.path
        if not local.is_file():
            problems.append(f"{entry.path} is missing")
            continue
        size = local.stat().st_size
        if size != entry.size:
            problems.append(f"{entry.path} has {size} bytes, the manifest says {entry.size}")
        elif (sha256 := file_sha256(local)) != entry.sha256:
            problems.append(f"{entry.path} has sha256 {sha256[:12]}…, the manifest says {entry.sha256[:12]}…")
    if problems:
        raise ModelUnavailableError(
            f"checkpoint {directory} does not match its {MANIFEST_NAME} ({manifest.repo_id}@{manifest.commit[:12]}): "
            + "; ".join(problems),
            code="checkpoint_mismatch",
            weights=str(directory),
            files=[p.split(" ", 1)[0] for p in problems],
        )
    return manifest
