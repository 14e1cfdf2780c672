"""``docgraph batch``: the command (registered in docgraph/cli.py with the conversion options, as ``convert``), its
live line and its summary table. Ray, Ray Data and pyarrow load only when it runs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from pipeline.options import ConvertOptions

console = Console(stderr=True)


def batch_command(
    inputs: Annotated[
        list[str], typer.Argument(help="Folders, globs, JSONL manifests (.jsonl), files, or URIs (s3://, gs://, ...).")
    ],
    out: Annotated[Path, typer.Option(help="Destination: per-document outputs, index.jsonl + index.parquet.")],
    mode: Annotated[
        str, typer.Option(help="actors: Ray Data actor pools of the models (no service); serve: the running service.")
    ] = "actors",
    concurrency: Annotated[int, typer.Option(min=1, help="Converting actors (Ray Data's actor pool).")] = 2,
    documents_per_call: Annotated[int, typer.Option(min=1, help="Documents an actor converts at once.")] = 4,
    num_cpus: Annotated[float, typer.Option(min=0, help="CPUs per actor.")] = 1.0,
    num_gpus: Annotated[float, typer.Option(min=0, help="GPUs per actor (actors mode).")] = 0.0,
    fmt: Annotated[
        list[str] | None, typer.Option("--format", help="Formats besides json + markdown (html, docling, chunks).")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="Ray to join (default: actors mode starts a local Ray, serve mode 'auto').")
    ] = None,
    ray_cpus: Annotated[int | None, typer.Option(help="Logical CPUs of the local Ray this run starts.")] = None,
    app: Annotated[str, typer.Option(help="Serve mode: the docgraph application's name.")] = "docgraph",
    serve_pages_in_flight: Annotated[
        int, typer.Option(min=1, help="Serve mode: the batch's model calls in flight, all actors (HTTP priority).")
    ] = 8,
    config: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="A serve config whose app args give the models.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Skip documents already converted into OUT with these options.")] = True,
    watchdog_s: Annotated[float, typer.Option(help="Say so loudly after this long without progress (0: off).")] = 300,
    furniture: Annotated[bool, typer.Option(help="Page headers and footers in Markdown/HTML.")] = False,
    fail_on_error: Annotated[bool, typer.Option(help="Exit 1 when any document failed.")] = False,
    *,
    options: ConvertOptions,
) -> None:
    """Convert an archive on Ray Data: every document to OUT/docs/ (graph JSON + Markdown, other formats by
    --format) and a row in OUT/index.jsonl + OUT/index.parquet (status, reason, pages, per-page errors, timings,
    models, options). Rerun the same command to resume."""
    from docgraph.batch.run import BatchConfig, BatchError, run_batch

    cfg = BatchConfig(
        inputs=inputs, dest=out, options=options, formats=["json", "markdown", *(fmt or [])], mode=mode,
        concurrency=concurrency, documents_per_call=documents_per_call, num_cpus=num_cpus, num_gpus=num_gpus,
        address=address, ray_num_cpus=ray_cpus,
        app_name=app, serve_pages_in_flight=serve_pages_in_flight, resume=resume, watchdog_s=watchdog_s,
        furniture=furniture, progress_bars=console.is_terminal,
    )  # fmt: skip
    if config is not None:
        _batch_models_from(cfg, config)
    with _batch_line() as show:
        try:
            result = run_batch(cfg, show=show, alarm=lambda m: console.print(f"[bold red]{m}[/]"))
        except BatchError as exc:
            console.print(f"[red]docgraph batch:[/] {exc}")
            raise typer.Exit(code=2) from exc
    console.print(_batch_table(result.summary))
    console.print(f"index: {result.index_jsonl} and {result.index_parquet}")
    if result.interrupted:
        raise typer.Exit(code=130)
    if fail_on_error and result.summary["failed"]:
        raise typer.Exit(code=1)


def _batch_models_from(cfg: Any, path: Path) -> None:
    """The layout/OCR backends and limits of a serve config's docgraph application (actors mode runs those)."""
    import yaml

    from serve.args import AppArgs

    apps = yaml.safe_load(path.read_text()).get("applications", [])
    args = next((a.get("args", {}) for a in apps if str(a.get("import_path", "")).startswith("serve.app")), None)
    if args is None:
        raise typer.BadParameter("no serve.app:build_app application in it", param_hint="--config")
    app_args = AppArgs.model_validate(args)
    cfg.layout, cfg.ocr, cfg.limits = app_args.layout, app_args.ocr, app_args.limits


@contextlib.contextmanager
def _batch_line() -> Iterator[Callable[[str], None]]:
    """The live line: redrawn in place on a terminal, else printed every 10 s."""
    if console.is_terminal:
        from rich.live import Live
        from rich.text import Text

        with Live(Text(""), console=console, refresh_per_second=2, transient=True) as live:
            yield lambda line: live.update(Text(line))
        return
    last = [0.0]

    def show(line: str) -> None:
        if time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            console.print(line, highlight=False)

    yield show


def _batch_table(summary: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=f"docgraph batch {summary['run_id']} ({summary['mode']})" + (
        "  INTERRUPTED" if summary["interrupted"] else ""))  # fmt: skip
    t.add_column("")
    t.add_column("", justify="right")
    rows = [
        ("documents converted", summary["documents"]), ("  complete", summary["complete"]),
        ("  partial", summary["partial"]), ("  failed", summary["failed"]),
        ("skipped (done before)", summary["skipped"]), ("pages", summary["pages"]),
        ("pages failed", summary["pages_failed"]), ("pages/s", summary["pages_per_s"]),
        ("wall time (s)", summary["elapsed_s"]), ("watchdog stalls", len(summary["stalls"])),
    ]  # fmt: skip
    rows += [(f"reason: {code}", n) for code, n in list(summary["reasons"].items())[:10]]
    for name, value in rows:
        t.add_row(name, str(value))
    return t
