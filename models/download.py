"""``docgraph models download``: a checkpoint from the Hugging Face Hub into a directory, with its manifest.

For image builds and ops only: the service never downloads (its configs name local directories). The pinned
repo and revision and the files the model needs are configuration (``HUB_CHECKPOINTS`` in models/config.py).
``huggingface_hub`` does the transfer (``HF_ENDPOINT`` / ``endpoint`` picks the hub or a mirror; a token from
``HF_TOKEN`` or ``hf auth login`` is sent when there is one). Each downloaded file is checked against the hash
the hub lists for it (sha256 for LFS files, the git blob sha1 for the others) before its sha256 goes into
``docgraph-manifest.json``, which the OCR replica checks when it loads (models/manifest.py).
"""

from __future__ import annotations

import hashlib
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

from models.config import HUB_CHECKPOINTS
from models.manifest import CheckpointManifest, ManifestFile, file_sha256, write_manifest

if TYPE_CHECKING:
    from huggingface_hub.hf_api import RepoFile

CACHE_DIR = Path(".cache") / "huggingface"  # huggingface_hub's own bookkeeping inside the target directory


class DownloadError(Exception):
    """The download failed or what arrived is not what the hub lists; the message says which and why."""


def git_blob_sha1(path: Path) -> str:
    """The id git (and the hub's file listing) gives a file's content."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download(name: str, out: Path, *, revision: str | None = None, endpoint: str | None = None) -> CheckpointManifest:
    """Fetch checkpoint ``name`` (a key of ``HUB_CHECKPOINTS``) at ``revision`` (default: the pinned one) into
    ``out``, check every file against the hub's hashes, write the manifest; returns it."""
    spec = HUB_CHECKPOINTS.get(name)
    if spec is None:
        raise DownloadError(f"unknown checkpoint {name!r} (known: {', '.join(sorted(HUB_CHECKPOINTS))})")
    import httpx2  # huggingface_hub's HTTP client: its connection errors
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.hf_api import RepoFile

    if constants.HF_HUB_OFFLINE:
        raise DownloadError("HF_HUB_OFFLINE is set: downloading needs the hub (run this command without it)")
    wanted = revision or spec.revision
    where = f"{spec.repo_id}@{wanted} from {endpoint or constants.ENDPOINT}"
    api = HfApi(endpoint=endpoint, library_name="docgraph")
    try:
        commit = api.model_info(spec.repo_id, revision=wanted).sha
        if commit is None:
            raise DownloadError(f"{where}: the hub named no commit for this revision")
        listing = {
            entry.path: entry
            for entry in api.list_repo_tree(spec.repo_id, revision=commit, recursive=True)
            if isinstance(entry, RepoFile)
        }
        files = sorted(path for path in listing if any(fnmatch(path, p) for p in spec.allow_patterns))
        if not files:
            raise DownloadError(f"{where}: no file matches {', '.join(spec.allow_patterns)}")
        snapshot_download(
            spec.repo_id,
            revision=commit,
            local_dir=out,
            cache_dir=out / CACHE_DIR,
            allow_patterns=files,
            endpoint=endpoint,
            library_name="docgraph",
        )
    except (OSError, ValueError, httpx2.HTTPError) as exc:  # the hub's HTTP errors are OSErrors: one line each
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DownloadError(f"{where}: {type(exc).__name__}: {first}") from exc
    manifest = CheckpointManifest(
        repo_id=spec.repo_id, revision=wanted, commit=commit, files=[_checked(out, listing[f]) for f in files]
    )
    write_manifest(out, manifest)
    return manifest


def _checked(out: Path, entry: RepoFile) -> ManifestFile:
    """The manifest line of a downloaded file, after checking it against the hub's listing of it."""
    local = out / entry.path
    if not local.is_file():
        raise DownloadError(f"{entry.path}: not downloaded")
    size, sha256 = local.stat().st_size, file_sha256(local)
    if entry.lfs is not None:
        expected, got, kind = entry.lfs.sha256, sha256, "sha256"
    else:
        expected, got, kind = entry.blob_id, git_blob_sha1(local), "git blob sha1"
    if got != expected or size != entry.size:
        raise DownloadError(f"{entry.path}: {size} bytes, {kind} {got}; the hub lists {entry.size} bytes, {expected}")
    return ManifestFile(path=entry.path, size=size, sha256=sha256)
