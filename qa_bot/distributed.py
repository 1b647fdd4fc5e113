"""Passage embedding on a Dask distributed cluster (``qa-bot index --dask ADDRESS``).

Ingest, chunking and the index write stay on the client; only embedding, the expensive part, runs on the
workers. Each worker process loads the embedder once (a cached loader) and embeds batches of passage texts;
results stream back as they finish, with a bounded number of batches in flight, and the client writes each into
the new version's vectors file as it arrives, so memory stays flat however large the corpus. The index is the
same versioned one a local sync writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from threading import Lock
from typing import Any

import numpy as np

from qa_bot.embedding import Embedder
from qa_bot.errors import QABotError
from qa_bot.settings import Settings

LOCAL = "local"
BATCH_SIZE = 256  # passages per task: big enough to hide scheduling cost (~1 ms), small enough to balance load
IN_FLIGHT_PER_THREAD = 2  # queued batches per worker thread: no worker idles while a result travels back
CONNECT_TIMEOUT_S = 20
_EMBEDDER_SETTINGS = ("embedder", "embedder_backend", "cache_dir", "threads")
_INSTALL_HINT = 'install the Dask extra with `pip install -e ".[dask]"`'

_worker_embedders: dict[tuple, Embedder] = {}
_worker_lock = Lock()


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise QABotError(f"--dask needs dask.distributed; {_INSTALL_HINT}") from None
    return distributed


def worker_embedder(config: dict) -> Embedder:
    """This worker process's embedder, loaded on first use and kept for every later batch."""
    key = tuple(sorted(config.items()))
    with _worker_lock:  # a worker with several threads still loads one model
        if key not in _worker_embedders:
            _worker_embedders[key] = Embedder.from_settings(Settings(**config))
        return _worker_embedders[key]


def _worker_identity(config: dict) -> dict:
    return worker_embedder(config).identity()


def _embed_batch(config: dict, texts: list[str]) -> np.ndarray:
    return worker_embedder(config).encode(texts)


class ClusterEmbedder:
    """The embedder interface indexing uses (identity, dimension, encode_blocks), backed by the cluster's workers."""

    def __init__(self, client: Any, settings: Settings, batch_size: int = BATCH_SIZE) -> None:
        self._client = client
        self._batch_size = batch_size
        # Worker-side settings: "" (the bundled embedder, the default cache) resolves on each worker's own host.
        self._config = {name: getattr(settings, name) for name in _EMBEDDER_SETTINGS}
        self._identity = self._common_identity()
        self.dimension = int(self._identity["dimension"])
        self.name = str(self._identity["name"])

    def _common_identity(self) -> dict:
        """Loads the model on every worker now (once each) and checks they all embed alike."""
        identities = self._client.run(_worker_identity, self._config)
        if not identities:
            raise QABotError("the Dask cluster has no workers; start `dask worker SCHEDULER_ADDRESS` and run again")
        distinct = {repr(sorted(identity.items())) for identity in identities.values()}
        if len(distinct) > 1:
            raise QABotError(
                f"Dask workers load different embedders ({'; '.join(sorted(distinct))}); "
                "install the same qa-bot and QA_BOT_EMBEDDER settings on every worker"
            )
        return next(iter(identities.values()))

    def identity(self) -> dict:
        return dict(self._identity)

    def _threads(self) -> int:
        return max(1, sum(self._client.nthreads().values()))

    def encode_blocks(self, texts: list[str]) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, vectors) per batch of ``texts``, in the order the workers finish them."""
        distributed = _import_distributed()
        starts = iter(range(0, len(texts), self._batch_size))
        running = distributed.as_completed()
        first_row: dict[str, int] = {}  # future key -> row of its first text

        def submit_next() -> None:
            start = next(starts, None)
            if start is not None:
                future = self._client.submit(
                    _embed_batch, self._config, texts[start : start + self._batch_size], pure=False
                )
                first_row[future.key] = start
                running.add(future)

        for _ in range(IN_FLIGHT_PER_THREAD * self._threads()):
            submit_next()
        for future in running:
            yield first_row.pop(future.key), future.result()
            submit_next()


@contextmanager
def cluster_embedder(address: str, settings: Settings) -> Iterator[ClusterEmbedder]:
    """An embedder on the scheduler at ``address``, or on a LocalCluster on loopback for ``local``."""
    distributed = _import_distributed()
    cluster = None
    try:
        if address == LOCAL:
            workers = max(1, (os.cpu_count() or 1) // max(1, settings.threads))  # each model uses settings.threads
            cluster = distributed.LocalCluster(
                host="127.0.0.1", n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as error:
        if cluster is not None:
            cluster.close()
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise QABotError(
            f"cannot reach the Dask scheduler at {address} ({reason}); start one with `dask scheduler` and "
            "`dask worker ADDRESS`, or use --dask local"
        ) from None
    try:
        yield ClusterEmbedder(client, settings)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
