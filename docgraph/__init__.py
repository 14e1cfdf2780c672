"""docgraph: PDFs in, document graphs out, on Ray Serve. This package holds the CLI and the in-process runner."""

__version__ = "0.1.0"
