"""Sentence embeddings for passages and questions (sentence-transformers, offline only)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from threading import Lock

import numpy as np

from qa_bot.errors import QABotError
from qa_bot.settings import bundled_embedder

QUERY_CACHE_SIZE = 256  # the UI re-asks the same question (retries, follow-ups, mode switches)


def _display_name(name_or_path: str) -> str:
    """A short name for messages and index manifests: the folder name for a local model."""
    path = Path(name_or_path)
    if not path.exists():
        return name_or_path
    if path.resolve() == Path(bundled_embedder()).resolve():
        return "all-MiniLM-L6-v2"  # the bundled copy lives in a folder named just "model"
    return path.resolve().name


class Embedder:
    """L2-normalised float32 embeddings; inner product of two of them is their cosine similarity."""

    def __init__(self, name_or_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = _display_name(name_or_path)
        try:
            # local_files_only: a local folder never touches the network, and a hub name
            # only loads when it is already in the local Hugging Face cache.
            self._model = SentenceTransformer(name_or_path, device="cpu", local_files_only=True)
        except Exception as error:
            raise QABotError(
                f"cannot load embedder {name_or_path!r} offline ({type(error).__name__}); "
                "set QA_BOT_EMBEDDER to a local sentence-transformers folder, or leave it empty for the bundled one"
            ) from error
        self.dimension: int = int(self._model.get_embedding_dimension())
        self.max_seq_length: int = int(self._model.max_seq_length)
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_lock = Lock()

    def identity(self) -> dict:
        """What an index records to detect that it is queried with a different embedder."""
        return {"name": self.name, "dimension": self.dimension, "max_seq_length": self.max_seq_length}

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, question: str) -> np.ndarray:
        """One question as a (1, d) array, from a small LRU cache when it was asked recently."""
        with self._query_cache_lock:
            cached = self._query_cache.get(question)
            if cached is not None:
                self._query_cache.move_to_end(question)
                return cached
        vector = self.encode([question])
        vector.flags.writeable = False  # shared between callers through the cache
        with self._query_cache_lock:
            self._query_cache[question] = vector
            if len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        return vector
