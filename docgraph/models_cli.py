"""``docgraph models``: the weights a profile loads, built from what ships (``layout-pt``) or fetched for an
image build (``download``). The service itself never builds or downloads weights."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

models_cli = typer.Typer(no_args_is_help=True, help="Model weights: build what a profile loads, from what ships.")
console = Console(stderr=True)


@models_cli.command("layout-pt")
def layout_pt(
    out: Annotated[Path, typer.Argument(help="Where to write the checkpoint (.pt).")],
    weights: Annotated[str, typer.Option(help="The ultralytics ONNX export to rebuild.")] = "",
) -> None:
    """Rebuild the shipped layout ONNX as the ultralytics checkpoint the GPU profile loads (same tensors)."""
    from models.checkpoint import onnx_metadata, rebuild_from_onnx, save_checkpoint
    from models.config import DEFAULT_LAYOUT_WEIGHTS, resolve_weights
    from pipeline.errors import ModelUnavailableError

    try:
        source = resolve_weights(weights or DEFAULT_LAYOUT_WEIGHTS)
        model, names = rebuild_from_onnx(source)
    except ModelUnavailableError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(code=2) from exc
    licence = onnx_metadata(source).get("license", "unknown")
    save_checkpoint(model, out, source=source, licence=licence)
    console.print(f"wrote {out}: {len(names)} classes from {source.name}; licence: {licence}")


@models_cli.command("download")
def download(
    name: Annotated[str, typer.Argument(help="Which checkpoint: deepseek-ocr (models/config.py).")],
    out: Annotated[Path, typer.Argument(help="Directory to write it into (created; files already there are kept).")],
    revision: Annotated[
        str | None, typer.Option(help="Hub revision (default: the commit pinned in the config).")
    ] = None,
    endpoint: Annotated[str | None, typer.Option(envvar="HF_ENDPOINT", help="The hub, or a mirror of it.")] = None,
) -> None:
    """Fetch a checkpoint from the Hugging Face Hub with a sha256 manifest that the OCR replica checks.

    Only the files the model needs, at the pinned revision, each checked against the hub's hash; then
    docgraph-manifest.json (sha256 + size of each file) beside them. For image builds and ops only: the
    service never downloads."""
    from models.download import DownloadError
    from models.download import download as fetch
    from models.manifest import MANIFEST_NAME

    try:
        manifest = fetch(name, out, revision=revision, endpoint=endpoint)
    except DownloadError as exc:
        console.print(f"[red]download failed:[/] {exc}")
        raise typer.Exit(code=2) from exc
    size = sum(f.size for f in manifest.files)
    console.print(
        f"wrote {out}: {len(manifest.files)} files ({size:,} bytes) of {manifest.repo_id}@{manifest.commit}, "
        f"and {MANIFEST_NAME}"
    )
