"""What ``docgraph batch`` reads: folders, globs, JSONL manifests and URIs, listed lazily, and their bytes.

Listing is a generator from start to end: a folder is walked one directory at a time (``os.scandir``; on an object
store, one non-recursive ``pyarrow.fs`` listing per directory), a glob is ``glob.iglob``, a manifest is read line by
line; nothing holds the whole archive's listing. ``SourceListing`` is that generator as a Ray Data datasource: one
read task walks the inputs and yields small blocks of references (a URI, size, mtime, password), which Ray Data's
streaming executor pulls only as fast as the converting actors take them (backpressure). The bytes are read by the
actor that converts the document, never carried through the dataset.

URIs (``s3://``, ``gs://``, ``hdfs://``, ``file://``, …) go through ``pyarrow.fs``; a scheme pyarrow does not know
goes through ``fsspec`` where it is installed (wrapped as a pyarrow filesystem), e.g. ``memory://`` in tests.
"""

from __future__ import annotations

import glob
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import DocgraphError, DocumentTooLargeError

# what a folder gives: PDFs and the images docgraph reads (the same set as docgraph convert/loadtest take)
DOCUMENT_SUFFIXES = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"})
MANIFEST_SUFFIXES = (".jsonl", ".ndjson")
GLOB_CHARS = frozenset("*?[")


class SourceUnreadableError(DocgraphError):
    """The input could not be read (missing, permission, network): the document gets a row, not a graph."""

    code = "source_unreadable"


class ManifestError(DocgraphError):
    code = "bad_manifest_line"


@dataclass(frozen=True, slots=True)
class SourceRef:
    """One document to convert: where it is, what its listing said about it, its password if the manifest gave one."""

    uri: str
    size: int | None = None
    mtime: float | None = None
    password: str | None = None
    error: str | None = None  # a manifest line that could not be read: the row says why

    def to_row(self) -> dict[str, Any]:
        return {"uri": self.uri, "size": self.size, "mtime": self.mtime, "password": self.password, "error": self.error}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SourceRef:
        def opt(v: Any) -> Any:  # Arrow nulls arrive as None (or NaN for floats)
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

        size = opt(row.get("size"))
        return cls(
            uri=str(row["uri"]),
            size=int(size) if size is not None else None,
            mtime=opt(row.get("mtime")),
            password=opt(row.get("password")),
            error=opt(row.get("error")),
        )


def is_uri(item: str) -> bool:
    scheme, sep, _ = item.partition("://")
    return bool(sep) and scheme.isidentifier() and len(scheme) > 1  # "C://" would be a Windows drive, not a scheme


def _filesystem(uri: str) -> tuple[Any, str]:
    """(pyarrow filesystem, path in it) of a URI: pyarrow's own, else fsspec's wrapped for pyarrow."""
    from pyarrow import fs as pafs

    try:
        filesystem, path = pafs.FileSystem.from_uri(uri)
        return filesystem, str(path)
    except ValueError as arrow_error:  # ArrowInvalid: a scheme pyarrow does not know (memory://, …)
        try:
            import fsspec
        except ImportError:
            raise SourceUnreadableError(f"{uri}: {arrow_error} (and fsspec is not installed)") from arrow_error
        protocol, path = fsspec.core.split_protocol(uri)
        filesystem = fsspec.filesystem(protocol)
        return pafs.PyFileSystem(pafs.FSSpecHandler(filesystem)), filesystem._strip_protocol(path)


def _join(uri: str, path: str) -> str:
    """A listed path back as a URI of the input's scheme."""
    scheme = uri.partition("://")[0]
    return f"{scheme}://{path.lstrip('/') if scheme not in ('file', 'memory') else path}"


def iter_sources(inputs: Sequence[str]) -> Iterator[SourceRef]:
    """Every document the inputs name, in order, lazily: folders (recursively, PDFs and images), globs, JSONL
    manifests (``.jsonl``: one path/URI per line as a JSON string, or an object with ``path``/``uri`` and
    optionally ``password``; relative paths are read from the manifest's folder), files, URIs of files or folders."""
    for item in inputs:
        if is_uri(item):
            yield from _iter_uri(item)
        elif GLOB_CHARS & set(item):
            for match in glob.iglob(item, recursive=True):  # lazy; the file system's order
                if Path(match).is_file() and Path(match).suffix.lower() in DOCUMENT_SUFFIXES:
                    yield _local_ref(match)
        elif item.endswith(MANIFEST_SUFFIXES) and Path(item).is_file():
            yield from iter_manifest(Path(item))
        elif Path(item).is_dir():
            yield from _walk_local(Path(item))
        else:
            yield _local_ref(item)  # a file (or a missing one: its row says so)


def _local_ref(path: str | Path) -> SourceRef:
    try:
        st = os.stat(path)
    except OSError:
        return SourceRef(uri=str(path))
    return SourceRef(uri=str(path), size=st.st_size, mtime=st.st_mtime)


def _walk_local(root: Path) -> Iterator[SourceRef]:
    """Depth-first, one directory's entries in memory at a time (sorted, so runs list in the same order)."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(Path(entry.path))
            elif entry.is_file() and Path(entry.name).suffix.lower() in DOCUMENT_SUFFIXES:
                st = entry.stat()
                yield SourceRef(uri=entry.path, size=st.st_size, mtime=st.st_mtime)
        stack.extend(reversed(subdirs))


def _iter_uri(uri: str) -> Iterator[SourceRef]:
    from pyarrow import fs as pafs

    try:
        filesystem, path = _filesystem(uri)
        info = filesystem.get_file_info(path)
    except (OSError, DocgraphError, ValueError) as exc:
        yield SourceRef(uri=uri, error=f"cannot list: {exc}")
        return
    if info.type == pafs.FileType.File:
        yield SourceRef(uri=uri, size=info.size, mtime=_mtime(info))
        return
    if info.type != pafs.FileType.Directory:
        yield SourceRef(uri=uri)  # missing: its row says so
        return
    stack = [path]
    while stack:  # one directory listed at a time (pyarrow's recursive selector would list everything at once)
        folder = stack.pop()
        entries = sorted(filesystem.get_file_info(pafs.FileSelector(folder, recursive=False)), key=lambda i: i.path)
        subdirs = []
        for entry in entries:
            if entry.type == pafs.FileType.Directory:
                subdirs.append(entry.path)
            elif entry.type == pafs.FileType.File and Path(entry.base_name).suffix.lower() in DOCUMENT_SUFFIXES:
                yield SourceRef(uri=_join(uri, entry.path), size=entry.size, mtime=_mtime(entry))
        stack.extend(reversed(subdirs))


def _mtime(info: Any) -> float | None:
    return info.mtime.timestamp() if info.mtime is not None else None


def iter_manifest(path: Path) -> Iterator[SourceRef]:
    """A JSONL manifest, one line at a time."""
    base = path.parent
    with path.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if isinstance(entry, str):
                    entry = {"path": entry}
                target = entry.get("uri") or entry.get("path") or entry.get("source")
                if not isinstance(target, str) or not target:
                    raise ValueError("no 'path' or 'uri'")
                password = entry.get("password")
            except (ValueError, AttributeError) as exc:
                yield SourceRef(uri=f"{path}:{n}", error=f"manifest line {n}: {exc}")
                continue
            if not is_uri(target) and not Path(target).is_absolute():
                target = str(base / target)
            ref = SourceRef(uri=target) if is_uri(target) else _local_ref(target)
            yield SourceRef(ref.uri, ref.size, ref.mtime, password if isinstance(password, str) else None)


def read_source(ref: SourceRef, max_bytes: int) -> bytes:
    """The document's bytes, at most ``max_bytes`` of them (more: ``DocumentTooLargeError``, as the service's
    upload limit answers), from a local path or a URI."""
    if ref.error:
        raise (ManifestError if ref.error.startswith("manifest") else SourceUnreadableError)(ref.error)
    try:
        if is_uri(ref.uri):
            filesystem, path = _filesystem(ref.uri)
            with filesystem.open_input_stream(path) as stream:
                data = bytes(stream.read(max_bytes + 1))
        else:
            with open(ref.uri, "rb") as f:
                data = f.read(max_bytes + 1)
    except (OSError, ValueError) as exc:
        raise SourceUnreadableError(f"cannot read {ref.uri}: {exc}") from exc
    if len(data) > max_bytes:
        raise DocumentTooLargeError(f"the file is larger than the limit of {max_bytes} bytes", limit=max_bytes)
    return data


def chunked(refs: Iterable[SourceRef], size: int) -> Iterator[list[SourceRef]]:
    chunk: list[SourceRef] = []
    for ref in refs:
        chunk.append(ref)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
