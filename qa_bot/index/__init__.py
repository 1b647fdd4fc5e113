"""Versioned on-disk index: SQLite rows, passage vectors, FAISS and BM25, switched in atomically.

Layout of ``index_dir``::

    CURRENT                 name of the live version (replaced with os.replace)
    LOCK                    held (fcntl) by the one indexer allowed at a time
    versions/<id>/          manifest.json, store.sqlite, vectors.npy, faiss.index (+ faiss.ivfdata), bm25/
    versions/<id>.partial/  a version being written (left behind only by a killed indexer)

A version is never modified once renamed into place, so a reader that opened one keeps serving
it while newer versions appear; the indexer keeps the previous version and removes older ones.

Modules: `version` (file names, CURRENT, manifests), `store` (SQLite rows), `vectors` (vectors.npy and FAISS),
`bm25` (word index), `open` (reading a version), `sync` (writing one from the corpus).
"""

from qa_bot.index.bm25 import bm25_tokens
from qa_bot.index.open import OpenIndex, vector_space
from qa_bot.index.sync import SyncReport, sync_index
from qa_bot.index.vectors import (
    BlockSizes,
    VectorFile,
    build_faiss,
    faiss_description,
    read_faiss,
    search_parameters,
    write_faiss,
)
from qa_bot.index.version import (
    BM25_DIR,
    CURRENT,
    FAISS_INDEX,
    FAISS_LISTS,
    FORMAT_VERSION,
    LOCK,
    MANIFEST,
    PARTIAL_SUFFIX,
    STORE,
    VECTORS,
    VERSIONS,
)

__all__ = [
    "BM25_DIR",
    "CURRENT",
    "FAISS_INDEX",
    "FAISS_LISTS",
    "FORMAT_VERSION",
    "LOCK",
    "MANIFEST",
    "PARTIAL_SUFFIX",
    "STORE",
    "VECTORS",
    "VERSIONS",
    "BlockSizes",
    "OpenIndex",
    "SyncReport",
    "VectorFile",
    "bm25_tokens",
    "build_faiss",
    "faiss_description",
    "read_faiss",
    "search_parameters",
    "sync_index",
    "vector_space",
    "write_faiss",
]
