"""The ``docgraph`` command: serve, convert (embedded service, remote service or in-process), sample, schema."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from pipeline.options import DeepSeekMode, OcrMode

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="PDFs in, document graphs out.")
console = Console(stderr=True)


def main() -> None:
    cli()


@cli.command()
def serve(
    port: Annotated[int, typer.Option(help="HTTP port on 127.0.0.1.")] = 8000,
    num_cpus: Annotated[int, typer.Option(help="Logical CPUs of the local Ray instance.")] = 8,
) -> None:
    """Start local Ray and the docgraph app, wait until ready, print the URL, serve until Ctrl-C."""
    from docgraph.embedded import EmbeddedService

    with console.status("starting local Ray and the docgraph application..."):
        service = EmbeddedService(port=port, num_cpus=num_cpus).start()
    console.print(f"[green]docgraph is ready[/] at {service.url}  (OpenAPI: {service.url}/docs)")
    print(service.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


@cli.command()
def convert(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True, help="PDF files.")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out"),
    url: Annotated[str | None, typer.Option(help="A running docgraph service; default: start an embedded one.")] = None,
    local: Annotated[bool, typer.Option("--local", help="In-process pipeline, no Ray.")] = False,
    ocr: Annotated[OcrMode, typer.Option(help="auto | always | never")] = OcrMode.AUTO,
    layout: Annotated[bool, typer.Option(help="Run the layout model (--no-layout: text-layer fast path).")] = True,
    pages: Annotated[str | None, typer.Option(help="Page range, e.g. '1-3,7'.")] = None,
    password: Annotated[str | None, typer.Option(help="Password of encrypted PDFs.")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="DOCGRAPH_API_KEY", help="API key of the service.")] = None,
    deepseek_mode: Annotated[
        DeepSeekMode | None, typer.Option(help="DeepSeek-OCR mode: tiny | small | base | large | gundam.")
    ] = None,
) -> None:
    """Convert PDFs, writing <name>.json, <name>.md and <name>/page-NNNN.png (annotated) into OUT."""
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    if local:
        failures = _convert_local(files, out, ocr=ocr, layout=layout, pages=pages, password=password)
    elif url:
        failures = _convert_http(
            files, out, url, ocr=ocr, layout=layout, pages=pages, password=password, key=api_key, mode=deepseek_mode
        )
    else:
        from docgraph.embedded import EmbeddedService

        with console.status("starting the embedded docgraph service (local Ray, CPU models)..."):
            service = EmbeddedService().start()
        try:
            failures = _convert_http(
                files, out, service.url, ocr=ocr, layout=layout, pages=pages, password=password, key=api_key,
                mode=deepseek_mode,
            )
        finally:
            service.stop()
    if failures:
        raise typer.Exit(code=1)


@cli.command()
def sample(path: Annotated[Path, typer.Argument(help="Where to write the sample PDF.")] = Path("sample.pdf")) -> None:
    """Write a 3-page sample PDF (digital, figure + list, scanned) made with PyMuPDF."""
    from docgraph.samples import make_sample_pdf

    path.write_bytes(make_sample_pdf())
    console.print(f"wrote {path}")


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
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console,
    )


def _convert_http(
    files: list[Path], out: Path, url: str, *, ocr: OcrMode, layout: bool, pages: str | None,
    password: str | None, key: str | None, mode: DeepSeekMode | None = None,
) -> int:
    params: dict[str, str] = {"format": "zip", "ocr": ocr.value, "layout": str(layout).lower()}
    if pages:
        params["pages"] = pages
    if mode:
        params["deepseek_mode"] = mode.value
    headers = {"X-API-Key": key} if key else {}
    failures = 0
    with httpx.Client(base_url=url, timeout=httpx.Timeout(900.0, connect=10.0), headers=headers) as client, _progress() as bar:
        task = bar.add_task("converting", total=len(files))
        for path in files:
            bar.update(task, description=f"converting {path.name}")
            data = {"password": password} if password else {}
            response = client.post(
                "/v1/convert", params=params, data=data, files={"file": (path.name, path.read_bytes(), "application/pdf")}
            )
            if response.status_code == 200:
                _write_bundle(out, path, response.content)
            else:
                failures += 1
                console.print(f"[red]{path.name}: HTTP {response.status_code}[/] {response.text[:500]}")
            bar.advance(task)
    return failures


def _convert_local(
    files: list[Path], out: Path, *, ocr: OcrMode, layout: bool, pages: str | None, password: str | None
) -> int:
    import asyncio

    from docgraph.local import LocalConverter
    from pipeline import ConvertOptions
    from pipeline.errors import DocServiceError
    from pipeline.export import ZipBundleSerializer

    with console.status("loading models..."):
        converter = LocalConverter()
    options = ConvertOptions(ocr=ocr, layout=layout, pages=pages, password=password)
    failures = 0
    with _progress() as bar:
        task = bar.add_task("converting", total=len(files))
        for path in files:
            bar.update(task, description=f"converting {path.name}")
            try:
                result = asyncio.run(converter.convert(path.read_bytes(), options, filename=path.name, annotate=True))
                _write_bundle(out, path, ZipBundleSerializer().serialize(result.graph, result.annotated))
            except DocServiceError as exc:
                failures += 1
                console.print(f"[red]{path.name}: {exc.code}[/] {exc.message}")
            bar.advance(task)
    converter.close()
    return failures


def _write_bundle(out: Path, source: Path, bundle: bytes) -> None:
    stem = source.stem
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        (out / f"{stem}.json").write_bytes(zf.read("document.json"))
        (out / f"{stem}.md").write_bytes(zf.read("document.md"))
        images = [n for n in zf.namelist() if n.startswith("pages/") and n.endswith(".png")]
        if images:
            (out / stem).mkdir(exist_ok=True)
        for name in images:
            (out / stem / Path(name).name).write_bytes(zf.read(name))
    console.print(f"[green]{source.name}[/] → {out / (stem + '.json')}, {out / (stem + '.md')}, {len(images)} page images")
