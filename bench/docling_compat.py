"""Which docling-core releases read docgraph's DoclingDocument back (format=docling)?

Downloads the given docling-core wheels from the package index (pip download, no dependencies: they run on this
environment's pydantic), converts generated PDFs and (when ../shared is there) corpus documents with formulas,
captions, footnotes, lists and running heads in-process, and in a subprocess per release validates each
document and renders its Markdown with that release. Prints one line per release.

    python bench/docling_compat.py [VERSION ...]    # default: 2.39.0 2.48.0 2.58.0 2.70.0
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from common import CORPUS  # noqa: E402 - bench/common.py, beside this file

CORPUS_DOCS = (
    "multi_page",
    "mathfuncs",
    "olmo2-pg4",
    "amt_handbook_sample",
    "headers_footers_ff0f0b22c55d8b90dd77d153f48e144fc9db_pg2",
)

CHECK = """
import json, sys
from docling_core.types.doc import DoclingDocument
out = []
for path in sys.argv[1:]:
    doc = DoclingDocument.model_validate(json.load(open(path)))
    out.append((len(doc.texts), len(doc.tables), len(doc.export_to_markdown())))
print(json.dumps(out))
"""


def main(versions: list[str]) -> None:
    from docgraph.local import LocalConverter
    from docgraph.samples import make_sample_pdf, make_table_pdf
    from pipeline.export.docling import SCHEMA_VERSION, DoclingSerializer
    from pipeline.options import ConvertOptions

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        converter = LocalConverter()
        docs = []
        sources = [("sample", make_sample_pdf()), ("spanning", make_table_pdf("spanning")[0])]
        sources += [  # formulas, captions, footnotes, lists, furniture
            (name, (CORPUS / f"{name}.pdf").read_bytes()) for name in CORPUS_DOCS if (CORPUS / f"{name}.pdf").is_file()
        ]
        for name, pdf in sources:
            graph = asyncio.run(converter.convert(pdf, ConvertOptions(), filename=f"{name}.pdf")).graph
            path = work / f"{name}.json"
            path.write_text(DoclingSerializer().serialize(graph))
            docs.append(str(path))
        converter.close()
        here = subprocess.run([sys.executable, "-c", CHECK, *docs], capture_output=True, text=True, check=True)
        print(f"written as DoclingDocument {SCHEMA_VERSION}; locked docling-core reads: {here.stdout.strip()}")
        for version in versions:
            dl = work / "dl" / version
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dl), f"docling-core=={version}"],
                check=True,
            )
            target = work / "site" / version
            with zipfile.ZipFile(next(dl.glob("*.whl"))) as wheel:
                wheel.extractall(target)
            run = subprocess.run(
                [sys.executable, "-c", CHECK, *docs],
                capture_output=True,
                text=True,
                check=False,
                env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
            )
            verdict = run.stdout.strip() if run.returncode == 0 else "FAILS: " + run.stderr.strip().splitlines()[-1]
            print(f"docling-core {version}: {verdict}")
        print(json.dumps({"schema_version": SCHEMA_VERSION, "versions": versions}))


if __name__ == "__main__":
    main(sys.argv[1:] or ["2.39.0", "2.48.0", "2.58.0", "2.70.0"])
