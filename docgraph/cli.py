"""The ``docgraph`` command: serve, convert (embedded service, remote service or in-process), sample, schema."""

from __future__ import annotations

import functools
import inspect
import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from docgraph.batch.command import batch_command
from docgraph.models_cli import models_cli
from pipeline.options import ConvertOptions

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="PDFs in, document graphs out.")
console = Console(stderr=True)


def main() -> None:
    cli()


def with_convert_options(command: Callable[..., None]) -> Callable[..., None]:
    """Offer each ``ConvertOptions`` field as an option of ``command`` (its name, type, default and description;
    an enum's choices), and hand them to it as one checked ``options: ConvertOptions``."""
    fields = ConvertOptions.model_fields

    @functools.wraps(command)
    def run(**kwargs: Any) -> None:
        values = {name: kwargs.pop(name) for name in fields}
        try:
            options = ConvertOptions(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            hint = "--" + str(error["loc"][0]).replace("_", "-") if error["loc"] else None
            raise typer.BadParameter(error["msg"], param_hint=hint) from exc
        command(**kwargs, options=options)

    own = inspect.signature(command, eval_str=True).parameters.values()
    derived = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=field.default,
            annotation=Annotated[field.annotation, typer.Option(help=field.description)],
        )
        for name, field in fields.items()
    ]
    # typer reads options from the signature: ConvertOptions' fields, declared once (the ignore: functions take
    # __signature__, which mypy does not know)
    run.__signature__ = inspect.Signature([p for p in own if p.name != "options"] + derived)  # type: ignore[attr-defined]
    return run


@cli.command()
def serve(
    port: Annotated[int, typer.Option(help="HTTP port on 127.0.0.1.")] = 8000,
    num_cpus: Annotated[int, typer.Option(help="Logical CPUs of the local Ray instance.")] = 8,
) -> None:
    """Start local Ray and the docgraph app, wait until ready, print the URL, serve until Ctrl-C."""
    from docgraph.embedded import EmbeddedService

    with console.status("starting local Ray and the docgraph application..."):
        service = EmbeddedService(port=port, num_cpus=num_cpus).start()
    console.print(
        f"[green]docgraph is ready[/] at {service.url}  (viewer: {service.url}/ui, OpenAPI: {service.url}/docs)"
    )
    print(service.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


@cli.command()
@with_convert_options
def convert(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True, help="PDF files.")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out"),
    url: Annotated[str | None, typer.Option(help="A running docgraph service; default: start an embedded one.")] = None,
    local: Annotated[bool, typer.Option("--local", help="In-process pipeline, no Ray.")] = False,
    api_key: Annotated[str | None, typer.Option(envvar="DOCGRAPH_API_KEY", help="API key of the service.")] = None,
    *,
    options: ConvertOptions,
) -> None:
    """Convert PDFs, writing <name>.json, .md, .html, .docling.json, .chunks.json (RAG chunks) and
    <name>/page-NNNN.png (annotated) into OUT."""
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    if local:
        failures = _convert_local(files, out, options)
    elif url:
        failures = _convert_http(files, out, url, options, key=api_key)
    else:
        from docgraph.embedded import EmbeddedService

        with console.status("starting the embedded docgraph service (local Ray, CPU models)..."):
            service = EmbeddedService().start()
        try:
            failures = _convert_http(files, out, service.url, options, key=api_key)
        finally:
            service.stop()
    if failures:
        raise typer.Exit(code=1)


# docgraph batch: bulk conversion on Ray Data (the command and its helpers: docgraph/batch/command.py)
cli.command("batch")(with_convert_options(batch_command))
cli.add_typer(models_cli, name="models")  # docgraph models layout-pt | download (docgraph/models_cli.py)


@cli.command()
def sample(path: Annotated[Path, typer.Argument(help="Where to write the sample PDF.")] = Path("sample.pdf")) -> None:
    """Write a 3-page sample PDF (digital, figure + list, scanned) made with PyMuPDF."""
    from docgraph.samples import make_sample_pdf

    path.write_bytes(make_sample_pdf())
    console.print(f"wrote {path}")


@cli.command()
def loadtest(
    inputs: Annotated[
        list[Path], typer.Argument(exists=True, help="PDFs, folders of PDFs, or a corpus MANIFEST.json.")
    ],
    url: Annotated[str, typer.Option(help="The service to load.")] = "http://127.0.0.1:8000",
    concurrency: Annotated[int | None, typer.Option(help="Closed loop: this many clients.")] = None,
    rate: Annotated[float | None, typer.Option(help="Open loop: documents per second.")] = None,
    steps: Annotated[str | None, typer.Option(help="Levels per step, e.g. '1,2,4,8' (of concurrency or rate).")] = None,
    step_s: Annotated[float, typer.Option(help="Seconds per step.")] = 30.0,
    requests: Annotated[int, typer.Option(help="Stop after this many documents.")] = 200,
    duration: Annotated[float, typer.Option(help="Stop after this many seconds.")] = 120.0,
    param: Annotated[list[str] | None, typer.Option(help="/v1/convert query parameter, e.g. ocr=always.")] = None,
    metrics_url: Annotated[
        str | None, typer.Option(help="Prometheus endpoint (Ray metrics port): OCR tokens/s.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for report.json and report.png.")] = Path("loadtest-out"),
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Allow a non-loopback target.")] = False,
    api_key: Annotated[str | None, typer.Option(envvar="DOCGRAPH_API_KEY", help="API key of the service.")] = None,
    warmup: Annotated[float, typer.Option(help="Seconds of load at the first level first, never counted.")] = 5.0,
    settle: Annotated[float | None, typer.Option(help="Seconds left out of each step (default: step-s / 4).")] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="Double the level until goodput stops rising.")] = False,
    max_level: Annotated[float, typer.Option(help="Sweep: the highest level tried.")] = 64.0,
    jobs: Annotated[bool, typer.Option("--jobs", help="Through /v1/jobs: time to first page.")] = False,
    slo_doc_s: Annotated[float | None, typer.Option(help="Goodput: a document answered within (s).")] = None,
    slo_page_s: Annotated[float | None, typer.Option(help="Goodput: its latency per page within (s).")] = None,
) -> None:
    """Load-test a running service: steady-state pages/s and goodput per step, the knee of a sweep, latency per
    route, time to first page (jobs), queue wait vs service time per stage, replicas over time."""
    import asyncio

    from rich.live import Live
    from rich.table import Table

    from docgraph.loadreport import Limits, Run, summarize, write_report
    from docgraph.loadtest import LoadTestConfig, RemoteTargetError, check_target, run_load

    if concurrency is None and rate is None:
        concurrency = 1 if sweep else 4  # a sweep starts low and doubles
    config = LoadTestConfig(
        url=url, files=_load_inputs(inputs), concurrency=concurrency, rate=rate,
        steps=[float(x) for x in steps.split(",")] if steps else [], step_s=step_s, max_requests=requests,
        max_duration_s=duration, params=dict(p.split("=", 1) for p in param or []), api_key=api_key,
        metrics_url=metrics_url, allow_remote=allow_remote, warmup_s=warmup, settle_s=settle, sweep=sweep,
        max_level=max_level, jobs=jobs, limits=Limits(slo_document_s=slo_doc_s, slo_page_s=slo_page_s),
    )  # fmt: skip
    try:
        check_target(url, allow_remote=allow_remote)
    except RemoteTargetError as exc:
        console.print(f"[red]refused:[/] {exc}")
        raise typer.Exit(code=2) from exc

    def table(run: Run, step: int, level: float, sent: int) -> Table:
        report = summarize(config, run, config.limits)
        phase = "warm-up" if step < 0 else f"step {step + 1}"
        t = Table(title=f"docgraph loadtest → {url}  ({phase}, level {level:g}, sent {sent})")
        for col in ("level", "pages/s", "goodput", "docs/s", "p50 s", "p95 s", "503", "errors"):
            t.add_column(col)
        for fig in report["steps"]:
            lat = fig["latency_s"]
            if not fig["steady"]:  # settling, or cut short before a steady-state window: no figures, not zeros
                t.add_row(f"{fig['level']:g}", "settling", "-", "-", "-", "-", str(fig["backpressure_503"]),
                          str(fig["errors"]))  # fmt: skip
                continue
            t.add_row(f"{fig['level']:g}", str(fig["pages_per_s"]), str(fig["goodput_pages_per_s"]),
                      str(fig["documents_per_s"]), str(lat.get("p50", "-")), str(lat.get("p95", "-")),
                      str(fig["backpressure_503"]), str(fig["errors"]))  # fmt: skip
        return t

    with Live(console=console, refresh_per_second=2, transient=False) as live:
        run = asyncio.run(run_load(config, on_progress=lambda *a: live.update(table(*a))))
    report = summarize(config, run, config.limits)
    json_path, png_path = write_report(report, out)
    knee = report["knee"]
    console.print(
        f"{report['succeeded']}/{report['requests']} ok, {report['pages_per_s']} pages/s (goodput "
        f"{report['goodput_pages_per_s']}), {report['documents_per_s']} docs/s, 503: {report['backpressure_503']}, "
        f"errors: {report['errors']}; knee: {knee['level'] if knee else '-'}; stopped: {report['stopped']}"
    )
    console.print(f"wrote {json_path} and {png_path}")
    if report["succeeded"] == 0:
        raise typer.Exit(code=1)


DOCUMENT_SUFFIXES = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"})  # what a folder gives


def _load_inputs(inputs: list[Path]) -> list[Path]:
    """PDF files (or images); folders give their PDFs and images; a MANIFEST.json gives its files expected to convert
    ('ok')."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files.extend(sorted(p for p in item.iterdir() if p.suffix.lower() in DOCUMENT_SUFFIXES))
        elif item.name == "MANIFEST.json":
            manifest = json.loads(item.read_text())
            files.extend(
                item.parent / f["filename"] for f in manifest["files"] if f.get("expect", {}).get("outcome") == "ok"
            )
        else:
            files.append(item)
    if not files:
        raise typer.BadParameter("no PDF found in the inputs")
    return files


@cli.command("tiny-deepseek")
def tiny_deepseek(path: Annotated[Path, typer.Argument(help="Directory to write the checkpoint into.")]) -> None:
    """Write a tiny DeepSeek-OCR checkpoint (config + tokenizer) for vLLM's load_format=dummy (tests, CPU)."""
    from models.tiny_deepseek import build_tiny_checkpoint

    console.print(f"wrote {build_tiny_checkpoint(path)}")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the document graph."""
    from pipeline.graph import schema_json

    print(schema_json(), end="")


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def _query(options: ConvertOptions) -> dict[str, str]:
    """The options as /v1/convert's and /v1/jobs' query parameters (the password goes in the form)."""
    values = options.model_dump(mode="json", exclude={"password"}, exclude_none=True)
    return {name: value if isinstance(value, str) else json.dumps(value) for name, value in values.items()}


def _convert_http(files: list[Path], out: Path, url: str, options: ConvertOptions, *, key: str | None) -> int:
    params = {"format": "zip", **_query(options)}
    headers = {"X-API-Key": key} if key else {}
    failures = 0
    with (
        httpx.Client(base_url=url, timeout=httpx.Timeout(900.0, connect=10.0), headers=headers) as client,
        _progress() as bar,
    ):
        task = bar.add_task("converting", total=len(files))
        for path in files:
            bar.update(task, description=f"converting {path.name}")
            data = {"password": options.password} if options.password else {}
            response = client.post(
                "/v1/convert",
                params=params,
                data=data,
                files={"file": (path.name, path.read_bytes(), "application/pdf")},
            )
            if response.status_code == 413 and response.json().get("code") == "use_jobs":
                bar.update(task, description=f"{path.name}: too large for one request, running as a job")
                job_params = {k: v for k, v in params.items() if k != "format"}
                if _convert_as_job(client, path, job_params, data, out, bar):
                    bar.advance(task)
                    continue
                failures += 1
            elif response.status_code == 200:
                _write_bundle(out, path, response.content)
            else:
                failures += 1
                console.print(f"[red]{path.name}: HTTP {response.status_code}[/] {response.text[:500]}")
            bar.advance(task)
    return failures


def _convert_local(files: list[Path], out: Path, options: ConvertOptions) -> int:
    import asyncio

    from docgraph.local import LocalConverter
    from pipeline.errors import DocgraphError
    from pipeline.export import ZipBundleSerializer
    from pipeline.memory import freeze_startup_heap

    with console.status("loading models..."):
        converter = LocalConverter()
    freeze_startup_heap()  # the models and imports this process keeps: out of the collector's walks (as a replica)
    failures = 0
    with _progress() as bar:
        task = bar.add_task("converting", total=len(files))
        for path in files:
            bar.update(task, description=f"converting {path.name}")
            try:
                result = asyncio.run(converter.convert(path.read_bytes(), options, filename=path.name, annotate=True))
                _write_bundle(
                    out, path, ZipBundleSerializer().serialize(result.graph, result.annotated, result.figures)
                )
            except DocgraphError as exc:
                failures += 1
                console.print(f"[red]{path.name}: {exc.code}[/] {exc.message}")
            bar.advance(task)
    converter.close()
    return failures


def _convert_as_job(
    client: httpx.Client, path: Path, params: dict[str, str], data: dict[str, str], out: Path, bar: Progress
) -> bool:
    """POST /v1/jobs, show its pages as they finish, then write <name>.json and <name>.md (no page images)."""
    accepted = client.post("/v1/jobs", params=params, data=data, files={"file": (path.name, path.read_bytes())})
    if accepted.status_code != 202:
        console.print(f"[red]{path.name}: HTTP {accepted.status_code}[/] {accepted.text[:500]}")
        return False
    job = accepted.json()
    pages = bar.add_task(f"{path.name}: pages", total=None)
    while True:
        status = client.get(job["status_url"]).json()
        bar.update(pages, total=status["pages_total"], completed=status["pages_done"])
        if status["state"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    bar.remove_task(pages)
    if status["state"] not in ("succeeded", "partially_succeeded"):
        error = status.get("error") or {}
        console.print(f"[red]{path.name}: job {status['state']}[/] {error.get('message', '')}")
        return False
    from pipeline.export.registry import EXPORTERS

    for exporter in EXPORTERS.values():  # every format the service writes (the registry), the graph first
        exported = client.get(job["result_url"], params={"format": exporter.name})
        (out / f"{path.stem}.{exporter.extension}").write_bytes(exported.content)
    console.print(f"[green]{path.name}[/] (job {job['id'][:8]}…, {status['state']}) → {out / (path.stem + '.json')}")
    return True


def _write_bundle(out: Path, source: Path, bundle: bytes) -> None:
    stem = source.stem
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        from pipeline.export.registry import EXPORTERS

        for exporter in EXPORTERS.values():  # the bundle holds every registered format (pipeline.export.bundle)
            (out / f"{stem}.{exporter.extension}").write_bytes(zf.read(f"document.{exporter.extension}"))
        images = [n for n in zf.namelist() if n.startswith("pages/") and n.endswith(".png")]
        figures = [n for n in zf.namelist() if n.startswith("figures/") and n.endswith(".png")]
        if images or figures:
            (out / stem).mkdir(exist_ok=True)
        for name in images:
            (out / stem / Path(name).name).write_bytes(zf.read(name))
        if figures:
            (out / stem / "figures").mkdir(exist_ok=True)
        for name in figures:  # names the bundle made (figures/page-NNNN-K.png), never the PDF
            (out / stem / "figures" / Path(name).name).write_bytes(zf.read(name))
    console.print(
        f"[green]{source.name}[/] → {out / (stem + '.json')}, {out / (stem + '.md')}, {len(images)} page images"
    )
