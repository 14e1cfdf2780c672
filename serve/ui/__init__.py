"""The viewer at ``GET /ui``: plain HTML, CSS and JavaScript modules shipped inside this package (nothing from a
CDN, no build step), served from memory by name. Only the files listed in ``ASSETS`` exist: a request's path never
reaches the file system.

The page is public (it holds no data); what it shows comes from the /v1 API with the key the user types in,
sent as a header. Its Content-Security-Policy allows this origin only.
"""

# No `from __future__ import annotations`: FastAPI reads the route's signature at run time.

from importlib.resources import files
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

MEDIA_TYPES: Final = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}
ASSETS: Final[dict[str, tuple[bytes, str]]] = {
    f.name: (f.read_bytes(), MEDIA_TYPES[f.name[f.name.rindex(".") :]])
    for f in files(__package__).joinpath("static").iterdir()
    if f.is_file() and f.name[f.name.rfind(".") :] in MEDIA_TYPES
}
HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


ui = APIRouter(tags=["viewer"])


@ui.get("/ui", response_class=Response, responses={200: {"content": {"text/html": {}}}})
async def viewer() -> Response:
    """The viewer: upload a PDF, see its pages with the graph's boxes, tables, outline, progress and downloads."""
    return _asset("index.html", page=True)


@ui.get("/ui/", response_class=Response, include_in_schema=False)
async def viewer_slash() -> Response:
    """``/ui/`` → ``/ui`` by a relative ``Location``: Starlette's own slash redirect writes the request's
    ``Host`` header into it (a forged host would be echoed back)."""
    return Response(status_code=308, headers={"Location": "/ui"})


@ui.get("/ui/{name}", response_class=Response, include_in_schema=False)
async def viewer_asset(name: str) -> Response:
    return _asset(name)


def _asset(name: str, *, page: bool = False) -> Response:
    found = ASSETS.get(name) if page or name != "index.html" else None  # the page is /ui only (relative URLs)
    if found is None:
        raise HTTPException(status_code=404, detail="no such viewer asset")
    body, media_type = found
    return Response(body, media_type=media_type, headers=HEADERS)
