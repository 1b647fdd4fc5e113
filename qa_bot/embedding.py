"""Sentence embeddings for passages and questions (sentence-transformers weights, offline only).

Three backends compute nearly the same vectors from the same weights:

- ``torch``: fp32 PyTorch through sentence-transformers (the reference).
- ``onnx-int8``: the same network exported to ONNX on first use, its matrix multiplications quantized to int8
  (onnxruntime dynamic quantization, per channel), run by onnxruntime. Cosine to the torch vectors is 0.995 on
  held-out SQuAD passages; the export is cached (see :mod:`qa_bot.onnx_export`).
- ``openvino-int8`` (default): the same ONNX export quantized by NNCF with fixed activation ranges and run by
  OpenVINO; cosine 0.997, the fastest on the CPUs measured (see :mod:`qa_bot.openvino_export`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from qa_bot.errors import QABotError
from qa_bot.settings import BACKENDS, bundled_embedder

if TYPE_CHECKING:
    from qa_bot.settings import Settings

# OpenVINO keeps compiled kernels and buffers for every input shape it meets: questions of 100 different token
# lengths grew a server by 460 MiB. Padded to a multiple of 32 tokens (masked, so the vectors are the same) a
# question is one of max_seq_length / 32 shapes. onnx-int8 is not padded: its per-batch activation ranges would
# see the padding (cosine 0.99 to the unpadded vector).
OPENVINO_PAD_MULTIPLE = 32
QUERY_CACHE_SIZE = 256  # the UI re-asks the same question (retries, follow-ups, mode switches)
INDEXING_BLOCK = 1024  # passages per indexing step: a progress update every few seconds, 1.5 MB of vectors


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

    def __init__(self, name_or_path: str, backend: str = "torch", cache_dir: Path | None = None, threads: int = 0):
        from sentence_transformers import SentenceTransformer

        if backend not in BACKENDS:
            raise QABotError(f"unknown embedder backend {backend!r}; set QA_BOT_EMBEDDER_BACKEND to one of {BACKENDS}")
        self.name = _display_name(name_or_path)
        self.backend = backend
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
        self._run_batch: Callable[[dict], np.ndarray] | None = None  # an exported network, for the int8 backends
        if backend == "onnx-int8":
            from qa_bot.onnx_export import int8_session

            session = int8_session(self._model, name_or_path, cache_dir, threads)
            input_names = [node.name for node in session.get_inputs()]
            self._run_batch = lambda batch: session.run(None, {name: batch[name] for name in input_names})[0]
        elif backend == "openvino-int8":
            from qa_bot.openvino_export import batch_runner, int8_model

            self._run_batch = batch_runner(int8_model(self._model, name_or_path, cache_dir, threads))
        self._pad_multiple = OPENVINO_PAD_MULTIPLE if backend == "openvino-int8" else None
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_lock = Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(settings.embedder_path(), settings.embedder_backend, settings.cache_path(), settings.threads)

    def identity(self) -> dict:
        """What an index records to detect that it is queried with a different embedder."""
        return {
            "name": self.name,
            "dimension": self.dimension,
            "max_seq_length": self.max_seq_length,
            "backend": self.backend,
        }

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._run_batch is not None:
            return self._encode_exported(texts, batch_size, progress)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_blocks(self, texts: list[str]) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, vectors) for consecutive blocks of ``texts``; indexing writes each to disk as it comes."""
        for begin in range(0, len(texts), INDEXING_BLOCK):
            yield begin, self.encode(texts[begin : begin + INDEXING_BLOCK])

    def _encode_exported(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        """Longest texts first, as sentence-transformers does, so each batch pads to similar lengths."""
        order = np.argsort([-len(text) for text in texts], kind="stable")
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        tokenizer = self._model.tokenizer
        batches = range(0, len(texts), batch_size)
        for begin in tqdm(batches, desc="Embedding", unit="batch", disable=not progress):
            rows = order[begin : begin + batch_size]
            encoded = tokenizer(
                [texts[row] for row in rows],
                padding=True,
                pad_to_multiple_of=self._pad_multiple,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            vectors[rows] = self._run_batch({name: array.astype(np.int64) for name, array in encoded.items()})
        return vectors

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
