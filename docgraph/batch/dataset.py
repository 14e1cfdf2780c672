"""The Ray Data pipeline of a batch run: the inputs' listing as a streaming datasource, then the converting actors.

    read (SourceListing: one task walks the inputs, one reference per block)
      → map_batches(ConvertWorker, batch_size=documents_per_call, num_cpus, num_gpus,
                    ActorPoolStrategy(size=concurrency, max_tasks_in_flight_per_actor=2))
      → the driver iterates the rows (small JSON strings: the graphs stay in the workers and on disk)

Memory stays bounded: a block holds one reference (a path, a few dozen bytes), the listing is a generator that Ray
Data's streaming executor pulls only as the actors take work (its output budget is the backpressure), each actor is
given at most two calls at once (each of ``documents_per_call`` documents, converted concurrently), and the bytes
of a document are read by the actor that converts it. A worker that dies takes only its calls' documents with it:
Ray restarts the actor and runs those tasks again (Ray Data's actor pools retry without end); a document that
killed its worker ``MAX_ATTEMPTS`` times is not tried again but gets a ``worker_lost`` row (``OutputLayout.begin``'s
attempt counter, on disk), so a poison document cannot loop a run forever.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from docgraph.batch.inputs import iter_sources
from docgraph.batch.worker import ConvertWorker, WorkerSpec

TASKS_PER_ACTOR = 2  # documents handed to an actor at once: one converting, one queued behind it


class SourceListing(Datasource):
    """The inputs' documents as a dataset of references, listed lazily by one read task on the driver's node (local
    paths are the driver's)."""

    def __init__(self, inputs: Sequence[str]) -> None:
        self._inputs = list(inputs)

    def get_name(self) -> str:
        return "DocgraphSources"

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    @property
    def supports_distributed_reads(self) -> bool:
        return False

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        inputs = self._inputs

        def read() -> Iterator[Any]:
            import pyarrow as pa

            for ref in iter_sources(inputs):
                yield pa.Table.from_pylist([ref.to_row()], schema=source_schema())

        meta = BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None, input_files=None)
        return [ReadTask(read, meta, schema=source_schema())]


def source_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [("uri", pa.string()), ("size", pa.int64()), ("mtime", pa.float64()), ("password", pa.string()),
         ("error", pa.string())]
    )  # fmt: skip


def build_dataset(
    inputs: Sequence[str],
    spec: WorkerSpec,
    *,
    concurrency: int,
    num_cpus: float,
    num_gpus: float,
    documents_per_call: int = 1,
) -> Any:
    import ray.data
    from ray.data import ActorPoolStrategy

    # the listing reserves no CPU: with every CPU held by the actors (2 actors on 2 cores) it must still run
    listing = ray.data.read_datasource(SourceListing(inputs), override_num_blocks=1, num_cpus=0)
    return listing.map_batches(
        ConvertWorker,
        fn_constructor_kwargs={"spec": spec},
        batch_size=documents_per_call,  # converted at once by the actor; one reference per block: no waiting to fill
        batch_format="pyarrow",
        compute=ActorPoolStrategy(size=concurrency, max_tasks_in_flight_per_actor=TASKS_PER_ACTOR),
        num_cpus=num_cpus,
        num_gpus=num_gpus or None,
    )  # Ray Data's actor pools restart a dead actor and run its tasks again (max_restarts/max_task_retries -1)
