"""``docgraph batch``: bulk conversion on Ray Data with the service's intake, routing, models and graph (issue 27).

- ``inputs``: folders, globs, JSONL manifests and URIs, listed lazily; a document's bytes.
- ``index``: the typed row per document, ``index.jsonl`` (appended as documents finish) and its Parquet twin.
- ``outputs``: per-document files under DEST, written atomically, named by sha256 and options (resume).
- ``worker``: the converting actor (``convert_bytes`` with local backends, or the Serve deployments' handles).
- ``dataset``: the Ray Data pipeline (a streaming datasource of references → an actor pool).
- ``progress``: the board the workers report pages to, the live line and the watchdog.
- ``run``: ``run_batch``, the driver. The CLI command is ``docgraph batch`` (docgraph/cli.py).

Nothing here is imported by the rest of docgraph: the modules load Ray Data and pyarrow only when a batch runs.
"""
