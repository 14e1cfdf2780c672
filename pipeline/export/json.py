"""JSON export: the graph exactly as its published schema describes it."""

from __future__ import annotations

from pipeline.graph import DocumentGraph


class JsonSerializer:
    def serialize(self, graph: DocumentGraph, *, indent: int | None = None) -> str:
        return graph.model_dump_json(indent=indent)
