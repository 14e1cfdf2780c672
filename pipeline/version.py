"""The version of the installed ``docgraph`` distribution (pyproject.toml is its one source).

Here, in the lowest layer, so that serve/ (OpenAPI's ``info.version``) and docgraph/ (``docgraph.__version__``)
read the same value without serve/ importing docgraph/.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "docgraph"


def _installed_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # a source tree on sys.path that was never installed (pip install -e .)
        return "0+unknown"


VERSION = _installed_version()
