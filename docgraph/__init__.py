"""docgraph: PDFs in, document graphs out, on Ray Serve. This package holds the CLI and the in-process runner."""

from pipeline.version import VERSION as __version__

__all__ = ["__version__"]
