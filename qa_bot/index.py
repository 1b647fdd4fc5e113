"""Versioned on-disk index: SQLite rows, passage vectors, FAISS and BM25, switched in atomically.

Layout of ``index_dir``::

    CURRENT                 name of the live version (replaced with os.replace)
    LOCK                    held (fcntl) by the one indexer allowed at a time
    versions/<id>/          manifest.json, store.sqlite, vectors.npy, faiss.index (+ faiss.ivfdata), bm25/
    versions/<id>.partial/  a version being written (left behind only by a killed indexer)

A version is never modified once renamed into place, so a reader that opened one keeps serving
it while newer versions appear; the indexer keeps the previous version and removes older ones.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import sys
import zlib
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field, fields, replace
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from threading import Lock
from typing import Any, overload

import bm25s
import faiss
import numpy as np
from tqdm.auto import tqdm

from qa_bot.chunking import build_passages, split_sentences
from qa_bot.embedding import Embedder
from qa_bot.errors import IndexUnusable, QABotError
from qa_bot.ingest import CorpusScan, check_corpus_dir, scan_corpus
from qa_bot.settings import Settings
from qa_bot.types import Article, ArticleInfo, Passage, Sentence

FORMAT_VERSION = 1
IVF_LISTS_PER_SQRT = 4  # inverted lists = 4 * sqrt(passages): ~250 vectors per list at 1M
IVF_MIN_POINTS_PER_LIST = 39  # FAISS's k-means needs this many training points per centroid
IVF_TRAINING_POINTS_PER_LIST = 64
BLOCK_ROWS = 4096  # vectors copied, read or added to FAISS at a time: what the writer holds, not all N
IVF_SHARD_ROWS = 65_536  # vectors in one IVF shard (96 MB) before it goes to disk to be merged
IVF_NPROBE = 96  # 48 gave recall@10 0.940 at 100k (README, Scale); 96 is unconfirmed: `bench_ann.py --sweep`

CURRENT = "CURRENT"
LOCK = "LOCK"
VERSIONS = "versions"
PARTIAL_SUFFIX = ".partial"
MANIFEST = "manifest.json"
STORE = "store.sqlite"
VECTORS = "vectors.npy"
FAISS_INDEX = "faiss.index"
FAISS_LISTS = "faiss.ivfdata"  # an IVF index's inverted lists (FAISS's on-disk format), beside FAISS_INDEX
BM25_DIR = "bm25"

_VERSION_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]*")  # what _new_version_id writes
_TABLES: dict[str, type] = {"articles": Article, "sentences": Sentence, "passages": Passage}
_ROW_COLUMN = "row"  # passages.row = row of the passage in vectors.npy and the FAISS index


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    passages: int = 0
    problems: list[str] = field(default_factory=list)
    embedded: int = 0  # passages embedded in this run; the others reused their stored vectors
    version: str = ""  # the live version after the sync


# ---------------------------------------------------------------------------------------------
# Shared by the indexer and the retriever


@lru_cache(maxsize=1)
def _english_stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed words: the same analysis for passages and questions."""
    return bm25s.tokenize(texts, stopwords="en", stemmer=_english_stemmer(), return_ids=False, show_progress=False)


def _empty_faiss(
    vectors: np.ndarray | VectorFile, settings: Settings, training_file: Path | None = None
) -> faiss.Index:
    """Inner-product index over L2-normalised vectors, still empty: exact below ``settings.ann_threshold``, else
    IVF-Flat with its centroids trained on a sample of ``vectors`` (64 per list, 375 MB at 1M passages). With
    ``training_file`` the sample is copied there a block at a time and k-means reads it mapped, so it is pages of a
    file, which the kernel can reclaim, rather than heap.

    IVF-Flat rather than HNSW: its inverted lists can be memory-mapped (an HNSW graph cannot), so a large index
    starts in milliseconds with a small RSS, and k-means plus list assignment builds faster than a graph. Its
    recall and latency at 1M are measured by `python bench/bench_ann.py --size 1000000 --json`.
    """
    count, dimension = vectors.shape
    if count < settings.ann_threshold:
        return faiss.IndexFlatIP(dimension)
    lists = max(1, min(IVF_LISTS_PER_SQRT * int(np.sqrt(count)), count // IVF_MIN_POINTS_PER_LIST))
    index = faiss.index_factory(dimension, f"IVF{lists},Flat", faiss.METRIC_INNER_PRODUCT)
    rows = np.sort(np.random.default_rng(0).permutation(count)[: lists * IVF_TRAINING_POINTS_PER_LIST])
    if training_file is None:
        index.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
    else:
        sample = VectorFile.create(training_file, len(rows), dimension)
        for begin in range(0, len(rows), BLOCK_ROWS):
            sample[begin : begin + BLOCK_ROWS] = vectors[rows[begin : begin + BLOCK_ROWS]]
        index.train(np.load(training_file, mmap_mode="r"))
    index.nprobe = min(IVF_NPROBE, lists)  # stored in the index file
    return index


def _fill(index: faiss.Index, vectors: np.ndarray | VectorFile, rows: range, bar: tqdm) -> None:
    """Add ``vectors[rows]`` a block at a time; IVF lists record each vector's row (a flat index numbers them in
    order, so it is filled from row 0)."""
    for begin in range(rows.start, rows.stop, BLOCK_ROWS):
        end = min(begin + BLOCK_ROWS, rows.stop)
        block = np.ascontiguousarray(vectors[begin:end], dtype=np.float32)
        if isinstance(index, faiss.IndexIVF):
            index.add_with_ids(block, np.arange(begin, end, dtype=np.int64))
        else:
            index.add(block)
        bar.update(len(block))


def _fill_bar(count: int, progress: bool) -> tqdm:
    return tqdm(total=count, desc="Filling the vector index", unit="passage", disable=not progress)


def build_faiss(vectors: np.ndarray | VectorFile, settings: Settings, progress: bool = False) -> faiss.Index:
    """The index `write_faiss` writes, built in memory instead (it holds every vector): for benchmarks and tests."""
    index = _empty_faiss(vectors, settings)
    with _fill_bar(len(vectors), progress) as bar:
        _fill(index, vectors, range(len(vectors)), bar)
    return index


def write_faiss(vectors: VectorFile, settings: Settings, path: Path, progress: bool = False) -> dict:
    """Write the vector index to ``path`` holding at most one shard of vectors at a time; returns its description.

    A flat index (below ``settings.ann_threshold``) is built in memory. An IVF index is filled shard by shard
    (``IVF_SHARD_ROWS`` vectors, each shard written to a scratch folder beside ``path``), then the shards' inverted
    lists are merged into one file next to ``path`` (`FAISS_LISTS`, FAISS's on-disk lists: its recipe for indexes
    larger than memory), which the loader memory-maps. Each list keeps its vectors in row order, as one in-memory
    build would.
    """
    with _scratch_beside(path) as scratch_dir:
        index = _empty_faiss(vectors, settings, scratch_dir / "training.npy")
        with _fill_bar(len(vectors), progress) as bar:
            if isinstance(index, faiss.IndexIVF):
                _fill_in_shards(index, vectors, scratch_dir, bar)
                _merge_shards(index, sorted(scratch_dir.glob("shard*.index")), path.with_name(FAISS_LISTS))
            else:
                _fill(index, vectors, range(len(vectors)), bar)
        _write_index_file(index, path)
    return faiss_description(index)


@contextmanager
def _scratch_beside(path: Path) -> Iterator[Path]:
    """A new folder beside ``path`` for a build's temporary files, removed afterwards whatever happens."""
    scratch_dir = path.with_name(path.name + ".scratch")
    scratch_dir.mkdir()
    try:
        yield scratch_dir
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)


def _fill_in_shards(index: faiss.IndexIVF, vectors: VectorFile, scratch_dir: Path, bar: tqdm) -> None:
    """Copies of the trained, empty ``index`` filled with ``IVF_SHARD_ROWS`` vectors each, written one by one."""
    for number, begin in enumerate(range(0, len(vectors), IVF_SHARD_ROWS)):
        shard = faiss.clone_index(index)
        _fill(shard, vectors, range(begin, min(begin + IVF_SHARD_ROWS, len(vectors))), bar)
        _write_index_file(shard, scratch_dir / f"shard{number:06d}.index")


def _merge_shards(index: faiss.IndexIVF, shard_paths: list[Path], lists_path: Path) -> None:
    """faiss.contrib.ondisk.merge_ondisk, except that the shards are closed afterwards (it leaves them mapped) and
    that the disk space is checked first: FAISS writes the merged lists through a mapping of a file it sizes
    itself, where a full disk would kill the process (SIGBUS)."""
    needed = sum(path.stat().st_size for path in shard_paths)
    if shutil.disk_usage(lists_path.parent).free < needed:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(lists_path))
    shards = [faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY) for path in shard_paths]
    shard_lists = faiss.InvertedListsPtrVector()
    for shard in shards:
        shard_lists.push_back(faiss.extract_index_ivf(shard).invlists)
    merged = faiss.OnDiskInvertedLists(index.nlist, index.code_size, str(lists_path))
    with _silence_native_stdout():
        index.ntotal = merged.merge_from_multiple(shard_lists.data(), shard_lists.size(), False)
    index.replace_invlists(merged, True)
    merged.this.disown()  # the index owns (and frees) the merged lists now


class VectorFile:
    """A version's vectors.npy (row i = passage i), read and written a block of rows at a time.

    Each access maps the file and unmaps it again: a mapping kept open would count every page it ever touched in
    the process's RSS, which for a 1M-passage build is the whole 1.5 GB. Written pages go back to the file through
    the page cache (the version is fsynced before it is switched in).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shape: tuple[int, int] = np.load(path, mmap_mode="r").shape

    @classmethod
    def create(cls, path: Path, rows: int, dimension: int) -> VectorFile:
        """The same .npy format `np.save` writes, its rows still zero."""
        _allocated_npy(path, np.float32, (rows, dimension))
        return cls(path)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray:
        return np.array(np.load(self.path, mmap_mode="r")[rows])

    def __setitem__(self, rows: slice | np.ndarray, vectors: np.ndarray) -> None:
        np.load(self.path, mmap_mode="r+")[rows] = vectors


_CANNOT_RESERVE = {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS}  # a file system without it: written as before


def _allocated_npy(path: Path, dtype: Any, shape: tuple[int, ...]) -> np.memmap:
    """A new .npy file mapped for writing, its disk blocks reserved first: a write through a mapping to a block the
    disk cannot supply kills the process (SIGBUS), whereas a full disk found here is an OSError, reported in one
    line."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    with path.open("r+b") as stream:
        try:
            os.posix_fallocate(stream.fileno(), 0, os.fstat(stream.fileno()).st_size)
        except OSError as error:
            if error.errno not in _CANNOT_RESERVE:
                raise
    return array


def _write_index_file(index: faiss.Index, path: Path) -> None:
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as error:  # FAISS reports a failed write, a full disk included, as a RuntimeError
        reason = re.search(r"\(([^()]+)\)\s*$", str(error))
        raise OSError(errno.EIO, reason.group(1) if reason else "write error", str(path)) from error


def faiss_description(index: faiss.Index) -> dict:
    """What the manifest records about the FAISS index (``factory`` is its index_factory string)."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexIVF):
        return {"kind": "ivf", "factory": f"IVF{index.nlist},Flat", "nprobe": index.nprobe}
    if isinstance(index, faiss.IndexHNSW):
        return {
            "kind": "hnsw",
            "factory": f"HNSW{index.hnsw.nb_neighbors(1)}",
            "M": index.hnsw.nb_neighbors(1),
            "ef_construction": index.hnsw.efConstruction,
            "ef_search": index.hnsw.efSearch,
        }
    return {"kind": "flat", "factory": "Flat"}


def search_parameters(index: faiss.Index) -> dict:
    description = faiss_description(index)
    return {key: description[key] for key in ("nprobe", "ef_search") if key in description}


# Flat and IVF files are memory-mapped on load (pages read on demand, shared between processes): IVF lists in a
# FAISS_LISTS file map that file, found beside the index file wherever the version was written; lists inside the
# index file (versions written before the lists were streamed to disk) map the index file. An HNSW graph (indexes
# written before IVF became the large-size default) is read into memory.
_READ_FLAGS = {"flat": faiss.IO_FLAG_MMAP_IFC, "ivf": faiss.IO_FLAG_MMAP}


def read_faiss(path: Path, kind: str | None) -> faiss.Index:
    if kind == "ivf" and path.with_name(FAISS_LISTS).exists():
        with _silence_native_stdout():
            return faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR | faiss.IO_FLAG_READ_ONLY)
    return faiss.read_index(str(path), _READ_FLAGS.get(kind or "", 0) | faiss.IO_FLAG_READ_ONLY)


@contextmanager
def _silence_native_stdout() -> Iterator[None]:
    """FAISS's on-disk lists print a line to stdout (C's printf) when they are written or opened ("resizing ...",
    "updating ondisk filename ..."): noise in a terminal, and stdout carries `--json` output. For that moment the
    process's stdout goes to /dev/null."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    libc.fflush(None)
    saved = os.dup(1)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)


def _rebuild_hint(index_dir: Path, corpus_dir: str | None = None) -> str:
    return f"run `qa-bot index {corpus_dir or 'CORPUS'} --index-dir {index_dir} --rebuild`"


def _describe_embedder(identity: dict, other: dict) -> str:
    if identity.get("name") != other.get("name"):
        return str(identity.get("name"))
    return f"{identity.get('name')} ({identity.get('dimension')}-d, max {identity.get('max_seq_length')} tokens)"


# ---------------------------------------------------------------------------------------------
# Files of one version


def _checksum(path: Path) -> str:
    crc = 0
    with path.open("rb") as stream:
        while chunk := stream.read(4 << 20):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def _version_files(version_dir: Path) -> list[Path]:
    return sorted(p for p in version_dir.rglob("*") if p.is_file() and p.name != MANIFEST)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        _fsync(path)
    _fsync(root)


def _read_current(index_dir: Path) -> str:
    try:
        version = (index_dir / CURRENT).read_bytes().decode("ascii", errors="replace").strip()
    except FileNotFoundError:
        raise IndexUnusable(
            f"no index at {index_dir}; run `qa-bot index CORPUS --index-dir {index_dir}` first"
        ) from None
    except OSError as error:
        raise IndexUnusable(
            f"cannot read {index_dir / CURRENT} ({error.strerror}); {_rebuild_hint(index_dir)}"
        ) from None
    if not _VERSION_NAME.fullmatch(version):
        raise IndexUnusable(
            f"index at {index_dir} is damaged (CURRENT is not a version name); {_rebuild_hint(index_dir)}"
        )
    return version


def _read_manifest(index_dir: Path, version: str) -> dict:
    path = index_dir / VERSIONS / version / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexUnusable(
            f"index at {index_dir} is damaged (version {version} is missing); {_rebuild_hint(index_dir)}"
        ) from None
    except (OSError, ValueError):
        raise IndexUnusable(
            f"index at {index_dir} is damaged (unreadable {MANIFEST}); {_rebuild_hint(index_dir)}"
        ) from None
    if not isinstance(manifest, dict):
        manifest = {}
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexUnusable(
            f"index at {index_dir} has format {manifest.get('format_version')}, this qa-bot reads format "
            f"{FORMAT_VERSION}; {_rebuild_hint(index_dir, manifest.get('corpus_dir'))}"
        )
    if not _manifest_is_complete(manifest):
        raise IndexUnusable(f"index at {index_dir} is damaged (incomplete {MANIFEST}); {_rebuild_hint(index_dir)}")
    return manifest


def _manifest_is_complete(manifest: dict) -> bool:
    try:
        return (
            isinstance(manifest["embedder"], dict)
            and isinstance(manifest["dimension"], int)
            and isinstance(manifest["counts"]["passages"], int)
            and {STORE, VECTORS, FAISS_INDEX} <= set(manifest["files"])
            and all(isinstance(f["bytes"], int) and isinstance(f["crc32"], str) for f in manifest["files"].values())
        )
    except (KeyError, TypeError, AttributeError):
        return False


def _verify_files(index_dir: Path, version_dir: Path, manifest: dict, names: list[str] | None = None) -> None:
    """Every file listed in the manifest exists with its recorded size and checksum."""
    hint = _rebuild_hint(index_dir, manifest.get("corpus_dir"))
    for name, expected in manifest["files"].items():
        if names is not None and not any(name == n or name.startswith(n + "/") for n in names):
            continue
        path = version_dir / name
        try:
            size = path.stat().st_size
            if size != expected["bytes"]:
                raise IndexUnusable(
                    f"index at {index_dir} is damaged ({name} has {size} bytes, expected {expected['bytes']}); {hint}"
                )
            if _checksum(path) != expected["crc32"]:
                raise IndexUnusable(f"index at {index_dir} is damaged ({name} fails its checksum); {hint}")
        except OSError as error:
            raise IndexUnusable(f"index at {index_dir} is damaged ({name}: {error.strerror}); {hint}") from None


def _connect_read_only(path: Path) -> sqlite3.Connection:
    # immutable: versions never change, so SQLite needs no locks or journal and keeps working
    # from its open descriptor even after a later sync removes the version directory.
    connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    connection.execute("PRAGMA query_only = ON")
    return connection


def _columns(record_type: type) -> list[str]:
    return [f.name for f in fields(record_type)]


def _select(record_type: type) -> str:
    return ", ".join(f'"{c}"' for c in _columns(record_type))


# ---------------------------------------------------------------------------------------------
# Reading an index


class OpenIndex:
    """One loaded, verified version; safe to use from several threads."""

    def __init__(
        self,
        index_dir: Path,
        version: str,
        manifest: dict,
        faiss_index: faiss.Index,
        bm25: bm25s.BM25,
        connection: sqlite3.Connection,
    ) -> None:
        self.index_dir = index_dir
        self.version = version
        self.manifest = manifest
        self.faiss_index = faiss_index
        self.bm25 = bm25
        self._connection = connection
        self._connection_lock = Lock()  # one connection shared by gradio's worker threads

    @classmethod
    def load(cls, index_dir: Path, embedder_identity: dict | None = None) -> OpenIndex:
        index_dir = Path(index_dir)
        version = _read_current(index_dir)
        for _retry in range(2):
            try:
                return cls._load_version(index_dir, version, embedder_identity)
            except IndexUnusable:
                # An indexer may have switched CURRENT and removed this version while we read it.
                latest = _read_current(index_dir)
                if latest == version:
                    raise
                version = latest
        return cls._load_version(index_dir, version, embedder_identity)

    @classmethod
    def _load_version(cls, index_dir: Path, version: str, embedder_identity: dict | None) -> OpenIndex:
        manifest = _read_manifest(index_dir, version)
        hint = _rebuild_hint(index_dir, manifest.get("corpus_dir"))
        if embedder_identity is not None:
            _check_embedder(index_dir, manifest, embedder_identity)
        version_dir = index_dir / VERSIONS / version
        _verify_files(index_dir, version_dir, manifest)
        expected = manifest["counts"]["passages"]
        try:
            vector_rows, vector_dimension = VectorFile(version_dir / VECTORS).shape
            faiss_index = read_faiss(version_dir / FAISS_INDEX, manifest.get("faiss", {}).get("kind"))
            bm25 = bm25s.BM25.load(str(version_dir / BM25_DIR), mmap=True, show_progress=False, verbosity=0)
            connection = _connect_read_only(version_dir / STORE)
            (stored_passages,) = connection.execute("SELECT count(*) FROM passages").fetchone()
        except (OSError, ValueError, RuntimeError, KeyError, sqlite3.DatabaseError) as error:
            reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            raise IndexUnusable(f"index at {index_dir} is damaged ({reason}); {hint}") from None
        sizes = {
            VECTORS: vector_rows,
            FAISS_INDEX: faiss_index.ntotal,
            BM25_DIR: int(bm25.scores["num_docs"]),
            STORE: stored_passages,
        }
        wrong = {name: n for name, n in sizes.items() if n != expected}
        if wrong or vector_dimension != manifest["dimension"] or faiss_index.d != manifest["dimension"]:
            connection.close()
            found = ", ".join(f"{name} {n}" for name, n in wrong.items()) or "vector dimension"
            raise IndexUnusable(f"index at {index_dir} is inconsistent ({found} passages, manifest {expected}); {hint}")
        return cls(index_dir, version, manifest, faiss_index, bm25, connection)

    def check_embedder(self, embedder_identity: dict) -> None:
        _check_embedder(self.index_dir, self.manifest, embedder_identity)

    @property
    def passage_count(self) -> int:
        return int(self.manifest["counts"]["passages"])

    def _query(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        with self._connection_lock:
            return self._connection.execute(sql, parameters).fetchall()

    def passages(self, rows: list[int]) -> list[Passage]:
        """Passages at these vector rows, in the same order."""
        if not rows:
            return []
        placeholders = ",".join("?" * len(rows))
        found = {
            record[0]: Passage(*record[1:])
            for record in self._query(
                f'SELECT "{_ROW_COLUMN}", {_select(Passage)} FROM passages WHERE "{_ROW_COLUMN}" IN ({placeholders})',
                tuple(int(r) for r in rows),
            )
        }
        missing = [r for r in rows if r not in found]
        if missing:
            raise IndexError(f"no passage at rows {missing} (index has {self.passage_count})")
        return [found[r] for r in rows]

    def passage(self, row: int) -> Passage:
        return self.passages([row])[0]

    def _article_row(self, article_id: str, columns: str) -> tuple:
        records = self._query(f"SELECT {columns} FROM articles WHERE article_id = ?", (article_id,))
        if not records:
            raise KeyError(f"no article {article_id} in index version {self.version}")
        return records[0]

    def article_info(self, article_id: str) -> ArticleInfo:
        return ArticleInfo(*self._article_row(article_id, _select(ArticleInfo)))

    def article_text(self, article_id: str) -> str:
        return self._article_row(article_id, "text")[0]

    def sentences(self, article_id: str) -> list[Sentence]:
        return [
            Sentence(*record)
            for record in self._query(
                f'SELECT {_select(Sentence)} FROM sentences WHERE article_id = ? ORDER BY "index"', (article_id,)
            )
        ]

    def list_articles(self) -> list[dict]:
        records = self._query(
            "SELECT a.article_id, a.title, a.source, a.date, a.url, a.path, count(p.article_id) "
            "FROM articles a LEFT JOIN passages p ON p.article_id = a.article_id "
            "GROUP BY a.article_id ORDER BY a.path"
        )
        keys = ("article_id", "title", "source", "date", "url", "path", "passages")
        return [dict(zip(keys, record, strict=True)) for record in records]

    def close(self) -> None:
        with self._connection_lock:
            self._connection.close()


def vector_space(identity: dict) -> dict:
    """The part of an embedder identity that decides which vectors it makes.

    The backend is left out: int8 vectors (onnx-int8, openvino-int8) have cosine above 0.99 to torch fp32 ones, so
    questions embedded by any backend find the same passages (the cross-backend recall@5 rows of
    `python bench/bench_embedding.py`).
    """
    return {key: value for key, value in identity.items() if key != "backend"}


def _check_embedder(index_dir: Path, manifest: dict, embedder_identity: dict) -> None:
    built_with = manifest.get("embedder", {})
    if vector_space(built_with) != vector_space(embedder_identity):
        raise IndexUnusable(
            f"index at {index_dir} was built with embedder {_describe_embedder(built_with, embedder_identity)}, "
            f"this run uses {_describe_embedder(embedder_identity, built_with)}; "
            f"{_rebuild_hint(index_dir, manifest.get('corpus_dir'))}, or set QA_BOT_EMBEDDER back to the index's embedder"
        )


# ---------------------------------------------------------------------------------------------
# Writing an index


@contextmanager
def _exclusive_lock(index_dir: Path) -> Iterator[None]:
    with (index_dir / LOCK).open("a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QABotError(
                f"another `qa-bot index` is already updating {index_dir}; wait for it to finish, then run again"
            ) from None
        yield  # the kernel releases the lock when the file closes, even after kill -9


@dataclass
class _Previous:
    """The live version, read to reuse the rows and vectors of articles that did not change."""

    version: str
    manifest: dict
    connection: sqlite3.Connection
    vectors: VectorFile
    articles: dict[str, Article]  # by article_id; metadata only (text is "")
    intact: bool  # FAISS and BM25 files pass their checks too, so the version can stay live as it is

    def sentences(self, article_id: str) -> list[Sentence]:
        sql = f'SELECT {_select(Sentence)} FROM sentences WHERE article_id = ? ORDER BY "index"'
        return [Sentence(*r) for r in self.connection.execute(sql, (article_id,))]

    def passages_with_rows(self, article_id: str) -> list[tuple[int, Passage]]:
        sql = f'SELECT "{_ROW_COLUMN}", {_select(Passage)} FROM passages WHERE article_id = ? ORDER BY "index"'
        return [(r[0], Passage(*r[1:])) for r in self.connection.execute(sql, (article_id,))]


def _open_previous(index_dir: Path) -> tuple[_Previous | None, str | None]:
    """The current version if its store and vectors are intact, else (None, why not)."""
    try:
        version = _read_current(index_dir)
        manifest = _read_manifest(index_dir, version)
        version_dir = index_dir / VERSIONS / version
        _verify_files(index_dir, version_dir, manifest, [STORE, VECTORS])
        connection = _connect_read_only(version_dir / STORE)
        article_columns = [c for c in _columns(Article) if c != "text"]
        quoted = ", ".join(f'"{c}"' for c in article_columns)
        articles = {
            record[0]: Article(**dict(zip(article_columns, record, strict=True)), text="")
            for record in connection.execute(f"SELECT {quoted} FROM articles")
        }
        vectors = VectorFile(version_dir / VECTORS)
        _check_stored_counts(index_dir, manifest, connection, len(vectors))
    except IndexUnusable as error:
        return None, str(error)
    except (OSError, ValueError, sqlite3.DatabaseError) as error:
        return None, f"previous index unreadable ({type(error).__name__})"
    try:  # the same checks as a question's load, so "unchanged" always leaves an index that loads
        OpenIndex._load_version(index_dir, version, None).close()
        intact = True
    except IndexUnusable:
        intact = False
    return _Previous(version, manifest, connection, vectors, articles, intact), None


def _check_stored_counts(index_dir: Path, manifest: dict, connection: sqlite3.Connection, vector_rows: int) -> None:
    """The manifest's counts match the rows stored, so reusing rows by number is safe."""
    counts = manifest["counts"]
    found = {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in _TABLES}
    found[VECTORS] = vector_rows
    expected = {**{table: counts.get(table) for table in _TABLES}, VECTORS: counts.get("passages")}
    wrong = [f"{name} {n}, manifest {expected[name]}" for name, n in found.items() if n != expected[name]]
    if wrong:
        raise IndexUnusable(
            f"index at {index_dir} is inconsistent ({'; '.join(wrong)}); "
            f"{_rebuild_hint(index_dir, manifest.get('corpus_dir'))}"
        )


def _tokenizer_fingerprint(tokenizer: Any) -> str:
    """Changes whenever passage token counts could change (vocabulary, normalisation, splitting)."""
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode("utf-8")).hexdigest()[:16]


def _load_tokenizer(settings: Settings) -> Any:
    from transformers import AutoTokenizer

    path = settings.reader_path()
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except Exception as error:
        raise QABotError(
            f"cannot load the reader tokenizer from {path} ({type(error).__name__}); "
            "set QA_BOT_READER to a local Hugging Face question-answering model folder"
        ) from error


def _new_version_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def _create_store(path: Path) -> sqlite3.Connection:
    """An empty store for a new version, filled article by article as the passages are made."""
    connection = sqlite3.connect(path)
    # No journal: a half-written store only ever lives in a .partial directory.
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")
    for table, record_type in _TABLES.items():
        columns = [f'"{c}" {_column_type(record_type, c)}' for c in _columns(record_type)]
        if record_type is Passage:
            columns.insert(0, f'"{_ROW_COLUMN}" INTEGER PRIMARY KEY')
        key = {"articles": ', PRIMARY KEY ("article_id")', "sentences": ', PRIMARY KEY ("article_id", "index")'}
        connection.execute(f"CREATE TABLE {table} ({', '.join(columns)}{key.get(table, '')})")
    connection.execute('CREATE UNIQUE INDEX passages_by_article ON passages ("article_id", "index")')
    connection.execute('CREATE UNIQUE INDEX passages_by_id ON passages ("passage_id")')
    return connection


@cache
def _insert_sql(table: str) -> str:
    """INSERT for one table's records; a passage row is preceded by its row number."""
    record_type = _TABLES[table]
    columns = _select(record_type)
    count = len(_columns(record_type))
    if record_type is Passage:
        columns, count = f'"{_ROW_COLUMN}", {columns}', count + 1
    return f"INSERT INTO {table} ({columns}) VALUES ({','.join('?' * count)})"


def _store_article(
    store: sqlite3.Connection, article: Article, sentences: list[Sentence], first_row: int, passages: list[Passage]
) -> None:
    """One article's rows; its passages take rows ``first_row``, ``first_row + 1``, ..."""
    store.execute(_insert_sql("articles"), astuple(article))
    store.executemany(_insert_sql("sentences"), map(astuple, sentences))
    store.executemany(
        _insert_sql("passages"), ((row, *astuple(passage)) for row, passage in enumerate(passages, start=first_row))
    )


class _StoredTexts(Sequence[str]):
    """The texts of some passage rows, read from the store a slice at a time (as ``encode_blocks`` slices them),
    so the indexer never holds every passage's text."""

    def __init__(self, store: sqlite3.Connection, rows: np.ndarray) -> None:
        self._store = store
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, rows: int) -> str: ...
    @overload
    def __getitem__(self, rows: slice) -> list[str]: ...
    def __getitem__(self, rows: int | slice) -> str | list[str]:
        if isinstance(rows, int):
            row = range(len(self))[rows]  # negative indexes and IndexError as a list has them
            return self[row : row + 1][0]
        wanted = [int(row) for row in self._rows[rows]]
        found = dict(
            self._store.execute(
                f'SELECT "{_ROW_COLUMN}", text FROM passages WHERE "{_ROW_COLUMN}" IN (SELECT value FROM json_each(?))',
                (json.dumps(wanted),),
            )
        )
        return [found[row] for row in wanted]

    def __iter__(self) -> Iterator[str]:
        for begin in range(0, len(self), BLOCK_ROWS):
            yield from self[begin : begin + BLOCK_ROWS]


def _column_type(record_type: type, column: str) -> str:
    annotation = {f.name: f.type for f in fields(record_type)}[column]
    if "None" in str(annotation):
        return "TEXT"
    return "INTEGER NOT NULL" if annotation in ("int", int) else "TEXT NOT NULL"


class _SpilledTokens:
    """Every passage's BM25 token ids, appended to a scratch file as they are made (4 bytes a token) and read back
    in order, one list per passage, by bm25s as ``ids`` with ``vocab`` (token -> id). Held in memory: the
    vocabulary and one end offset per passage."""

    def __init__(self, path: Path) -> None:
        self.vocab: dict[str, int] = {}
        self.reading_bar: tqdm | None = None  # advanced by one per passage read back
        self._path = path
        self._ends = array("q", [0])
        self._stream = path.open("wb")

    def add(self, tokens: list[str]) -> None:
        ids = array("i", (self.vocab.setdefault(token, len(self.vocab)) for token in tokens))
        ids.tofile(self._stream)
        self._ends.append(self._ends[-1] + len(ids))

    def finish(self) -> None:
        self._stream.close()

    @property
    def ids(self) -> _SpilledTokens:
        return self

    def __len__(self) -> int:
        return len(self._ends) - 1

    def __iter__(self) -> Iterator[list[int]]:
        with self._path.open("rb") as stream:
            for begin, end in zip(self._ends, self._ends[1:]):
                ids = array("i")
                ids.fromfile(stream, end - begin)
                if self.reading_bar is not None:
                    self.reading_bar.update()
                yield ids.tolist()


class _InPlaceBM25(bm25s.BM25):
    """bm25s's BM25 (the same arrays and files) with its score matrix written straight into compressed columns on
    disk, in files under ``scratch_dir`` that `save` copies into the index.

    bm25s builds three arrays as long as the matrix in memory and then converts them, so its peak is several times
    the matrix (+292 MiB at 100k passages). Each column's length is its token's document
    frequency, so the slots are known before the scores are computed, passage by passage with bm25s's own formulas
    (private functions: the bm25s version is pinned, and a test compares the scores with bm25s's own build).
    """

    def __init__(self, scratch_dir: Path) -> None:
        super().__init__()
        self.scratch_dir = scratch_dir

    def build_index_from_ids(
        self,
        unique_token_ids: list[int],
        corpus_token_ids: Any,
        show_progress: bool = True,
        leave_progress: bool = False,
    ) -> dict:
        from bm25s.scoring import (
            _build_idf_array,
            _calculate_doc_freqs,
            _get_counts_from_token_ids,
            _select_idf_scorer,
            _select_tfc_scorer,
        )

        if self.method in self.methods_requiring_nonoccurrence:
            return super().build_index_from_ids(unique_token_ids, corpus_token_ids, show_progress, leave_progress)
        self.nonoccurrence_array = None  # as bm25s sets it for these methods; its queries read it
        passages = len(corpus_token_ids)
        average_length = np.fromiter((len(ids) for ids in corpus_token_ids), np.int64, passages).mean()
        frequencies = _calculate_doc_freqs(corpus_token_ids, unique_token_ids, show_progress=False)
        idf = _build_idf_array(frequencies, passages, _select_idf_scorer(self.idf_method), self.dtype)
        term_score = _select_tfc_scorer(self.method)
        column_lengths = np.zeros(len(unique_token_ids), dtype=np.int64)
        column_lengths[list(frequencies)] = list(frequencies.values())
        indptr = np.concatenate([[0], np.cumsum(column_lengths)])  # int64, as bm25s's own build makes it
        data = _allocated_npy(self.scratch_dir / "data.npy", self.dtype, (indptr[-1],))
        indices = _allocated_npy(self.scratch_dir / "indices.npy", self.int_dtype, (indptr[-1],))
        next_slot = indptr[:-1].copy()
        for passage, token_ids in enumerate(corpus_token_ids):
            columns, counts = _get_counts_from_token_ids(token_ids, dtype=self.dtype, int_dtype=self.int_dtype)
            tfc = term_score(
                tf_array=counts, l_d=len(token_ids), l_avg=average_length, k1=self.k1, b=self.b, delta=self.delta
            )
            slots = next_slot[columns]
            data[slots] = idf[columns] * tfc
            indices[slots] = passage
            next_slot[columns] += 1
        return {"data": data, "indices": indices, "indptr": indptr, "num_docs": passages}


def _write_bm25(directory: Path, store: sqlite3.Connection, passage_count: int, progress: bool) -> None:
    """BM25 over the stored passages, their words analysed a block at a time into token ids on disk, its score
    matrix built on disk too: what is held in memory is the vocabulary and 8 bytes per passage."""
    with _scratch_beside(directory) as scratch_dir:
        tokens = _SpilledTokens(scratch_dir / "token-ids")
        try:
            sql = (
                f'SELECT text FROM passages WHERE "{_ROW_COLUMN}" >= ? AND "{_ROW_COLUMN}" < ? ORDER BY "{_ROW_COLUMN}"'
            )
            with tqdm(total=passage_count, desc="Indexing words", unit="passage", disable=not progress) as bar:
                for begin in range(0, passage_count, BLOCK_ROWS):
                    texts = [text for (text,) in store.execute(sql, (begin, begin + BLOCK_ROWS))]
                    for passage_tokens in bm25_tokens(texts):
                        tokens.add(passage_tokens)
                    bar.update(len(texts))
        finally:
            tokens.finish()
        retriever = _InPlaceBM25(scratch_dir)
        # bm25s reads the passages three times: lengths, document frequencies, scores
        with tqdm(total=3 * passage_count, desc="Scoring words", unit="passage", disable=not progress) as bar:
            tokens.reading_bar = bar
            retriever.index(tokens, show_progress=False)
        retriever.save(str(directory), show_progress=False)


def sync_index(
    corpus_dir: Path,
    index_dir: Path,
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: bool = True,
    embedder: Embedder | None = None,
) -> SyncReport:
    """Bring the index in line with the corpus folder, re-embedding only new or changed articles."""
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    check_corpus_dir(corpus_dir)  # before the index folder or its lock file is touched
    created = next((p for p in reversed([index_dir, *index_dir.parents]) if not p.exists()), None)
    succeeded = False
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(index_dir):
            report = _sync_locked(corpus_dir, index_dir, settings, rebuild, progress, embedder)
        succeeded = True
        return report
    except (OSError, sqlite3.OperationalError) as error:  # disk full, permissions: the live version is untouched
        reason = getattr(error, "strerror", None) or error
        kept = "the previous version stays in use" if (index_dir / CURRENT).exists() else "nothing was written"
        raise QABotError(f"cannot update the index at {index_dir} ({reason}); {kept}") from error
    finally:
        if created is not None and not succeeded:  # a failed command leaves nothing behind
            shutil.rmtree(created, ignore_errors=True)


def _sync_locked(
    corpus_dir: Path, index_dir: Path, settings: Settings, rebuild: bool, progress: bool, embedder: Embedder | None
) -> SyncReport:
    versions_dir = index_dir / VERSIONS
    versions_dir.mkdir(exist_ok=True)
    for stale in versions_dir.glob("*" + PARTIAL_SUFFIX):
        shutil.rmtree(stale, ignore_errors=True)  # left by an indexer that was killed

    scan = scan_corpus(corpus_dir, settings.max_article_bytes, keep_texts=False)
    if not scan.articles:
        first = f" ({scan.problems[0]})" if scan.problems else ""
        raise QABotError(f"no readable articles in {corpus_dir}{first}; add article files and run again")
    articles = sorted({a.article_id: a for a in scan.articles}.values(), key=lambda a: a.path)
    embedder = embedder or Embedder.from_settings(settings)
    tokenizer = _load_tokenizer(settings)
    built_with = {
        "corpus_dir": str(corpus_dir.resolve()),
        "embedder": embedder.identity(),
        "dimension": embedder.dimension,
        "tokenizer": {"name": Path(settings.reader_path()).name, "fingerprint": _tokenizer_fingerprint(tokenizer)},
        "passage_tokens": settings.passage_tokens,
    }

    previous, why_not = _open_previous(index_dir)
    report = _count_changes(articles, previous)
    report.problems = list(scan.problems)
    if why_not and (index_dir / CURRENT).exists():
        report.problems.append(f"previous index not reused: {why_not}")
    try:
        reusable = previous if previous and not rebuild else None
        if reusable and _reuse_key(reusable.manifest) != _reuse_key(built_with):
            report.problems.append("embedder, reader tokenizer or passage size changed: re-embedding everything")
            reusable = None
        if reusable and reusable.intact and _same_articles(reusable, articles):
            report.passages, report.version = reusable.manifest["counts"]["passages"], reusable.version
            return report  # nothing changed: keep serving the live version
        sources = _Sources(scan, articles, reusable, tokenizer, embedder, settings.max_article_bytes)
        report.version, plan = _write_version(index_dir, built_with, sources, settings, progress)
        report.passages, report.embedded = plan.passages, len(plan.rows_to_embed)
    finally:
        if previous is not None:
            previous.connection.close()
    _remove_old_versions(index_dir, keep={report.version, previous.version if previous else ""})
    return report


def _count_changes(articles: list[Article], previous: _Previous | None) -> SyncReport:
    """Counts per file path: a renamed file is one removal and one addition (its vectors are still reused)."""
    old_paths = {a.path: a.article_id for a in previous.articles.values()} if previous else {}
    report = SyncReport()
    for article in articles:
        old_id = old_paths.get(article.path)
        if old_id is None:
            report.added += 1
        elif old_id != article.article_id:
            report.updated += 1
        else:
            report.unchanged += 1
    new_paths = {a.path for a in articles}
    report.removed = sum(1 for path in old_paths if path not in new_paths)
    return report


def _same_articles(previous: _Previous, articles: list[Article]) -> bool:
    stored = sorted(previous.articles.values(), key=lambda a: a.path)
    return stored == [replace(a, text="") for a in articles]


@dataclass
class _Sources:
    """What a new version is made from: the corpus's articles (sorted by path, texts not loaded), the live
    version's reusable rows, the reader's tokenizer (passage sizes) and the embedder."""

    scan: CorpusScan
    articles: list[Article]
    reusable: _Previous | None
    tokenizer: Any
    embedder: Embedder
    max_article_bytes: int


@dataclass
class _Plan:
    """A new version's rows (passage i is row i of vectors.npy and FAISS) and where each row's vector comes from.

    The records themselves are in the new store already; the plan holds row numbers only."""

    previous_vectors: VectorFile | None  # the live version's, for the reused rows
    sentences: int = 0
    passages: int = 0
    reused_rows: array = field(default_factory=lambda: array("q"))  # rows copied from previous_vectors ...
    reused_from: array = field(default_factory=lambda: array("q"))  # ... from these rows of it
    rows_to_embed: array = field(default_factory=lambda: array("q"))


def _plan(store: sqlite3.Connection, sources: _Sources, passage_tokens: int, progress: bool) -> _Plan:
    """Every article's sentences and passages, written to ``store`` as they are made: stored ones for articles that
    did not change, else split anew. Texts are read one file at a time, so a large corpus is never held whole."""
    reusable, articles = sources.reusable, sources.articles
    plan = _Plan(reusable.vectors if reusable else None)
    with_texts = sources.scan.with_texts(articles, sources.max_article_bytes)
    for article in tqdm(
        with_texts, total=len(articles), desc="Splitting articles", unit="article", disable=not progress
    ):
        if reusable and article.article_id in reusable.articles:
            sentences = reusable.sentences(article.article_id)
            passages = []
            for old_row, passage in reusable.passages_with_rows(article.article_id):
                plan.reused_rows.append(plan.passages + len(passages))
                plan.reused_from.append(old_row)
                passages.append(passage)
        else:
            sentences = split_sentences(article)
            passages = build_passages(article, sentences, sources.tokenizer, passage_tokens)
            plan.rows_to_embed.extend(range(plan.passages, plan.passages + len(passages)))
        _store_article(store, article, sentences, plan.passages, passages)
        plan.sentences += len(sentences)
        plan.passages += len(passages)
    store.commit()
    return plan


def _write_vectors(path: Path, plan: _Plan, texts: _StoredTexts, embedder: Embedder, progress: bool) -> VectorFile:
    """vectors.npy written as the vectors come: reused ones copied, new ones stored as each block is embedded."""
    vectors = VectorFile.create(path, plan.passages, embedder.dimension)
    reused_rows, reused_from = np.frombuffer(plan.reused_rows, np.int64), np.frombuffer(plan.reused_from, np.int64)
    for begin in range(0, len(reused_rows), BLOCK_ROWS):
        block = slice(begin, begin + BLOCK_ROWS)
        vectors[reused_rows[block]] = plan.previous_vectors[reused_from[block]]
    rows = np.frombuffer(plan.rows_to_embed, np.int64)
    with tqdm(total=len(texts), desc="Embedding", unit="passage", disable=not progress) as bar:
        for first, block_vectors in embedder.encode_blocks(texts):
            vectors[rows[first : first + len(block_vectors)]] = block_vectors
            bar.update(len(block_vectors))
    return vectors


def _write_version(
    index_dir: Path, built_with: dict, sources: _Sources, settings: Settings, progress: bool
) -> tuple[str, _Plan]:
    """Write a complete version under a temporary name, then make it the live one; returns its id and plan."""
    version = _new_version_id()
    partial_dir = index_dir / VERSIONS / (version + PARTIAL_SUFFIX)
    partial_dir.mkdir()
    try:
        plan = _write_files(partial_dir, version, built_with, sources, settings, progress)
    except BaseException:
        shutil.rmtree(partial_dir, ignore_errors=True)  # (a kill -9 leaves it for the next run instead)
        raise
    os.rename(partial_dir, index_dir / VERSIONS / version)
    _fsync(index_dir / VERSIONS)
    _switch_current(index_dir, version)
    return version, plan


def _write_files(
    partial_dir: Path, version: str, built_with: dict, sources: _Sources, settings: Settings, progress: bool
) -> _Plan:
    """Store, vectors, FAISS and BM25, each streamed through files: what is held in memory is tens of bytes per
    passage (row numbers, BM25 token offsets, the article list), the vocabulary and one IVF shard."""
    store = _create_store(partial_dir / STORE)
    try:
        plan = _plan(store, sources, settings.passage_tokens, progress)
        if not plan.passages:
            raise QABotError(
                f"the articles in {built_with['corpus_dir']} contain no text to index; add articles and run again"
            )
        texts = _StoredTexts(store, np.frombuffer(plan.rows_to_embed, np.int64))
        vectors = _write_vectors(partial_dir / VECTORS, plan, texts, sources.embedder, progress)
        faiss_kind = write_faiss(vectors, settings, partial_dir / FAISS_INDEX, progress)
        _write_bm25(partial_dir / BM25_DIR, store, plan.passages, progress)
    finally:
        store.close()
    manifest = {
        "format_version": FORMAT_VERSION,
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **built_with,
        "faiss": faiss_kind,
        "bm25": {"stopwords": "en", "stemmer": "snowball-english"},
        "counts": {"articles": len(sources.articles), "sentences": plan.sentences, "passages": plan.passages},
        "files": {
            str(path.relative_to(partial_dir)): {"bytes": path.stat().st_size, "crc32": _checksum(path)}
            for path in _version_files(partial_dir)
        },
    }
    (partial_dir / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    _fsync_tree(partial_dir)
    return plan


def _reuse_key(manifest: dict) -> tuple:
    """Stored passages and vectors are valid only for the same embedder, tokenizer and passage budget."""
    return manifest.get("embedder"), manifest.get("tokenizer", {}).get("fingerprint"), manifest.get("passage_tokens")


def _switch_current(index_dir: Path, version: str) -> None:
    pending = index_dir / (CURRENT + ".tmp")
    with pending.open("w", encoding="utf-8") as stream:
        stream.write(version + "\n")
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(pending, index_dir / CURRENT)
    _fsync(index_dir)


def _remove_old_versions(index_dir: Path, keep: set[str]) -> None:
    """Keep the live and the previous version; older ones (and never-switched-to ones) go."""
    for path in (index_dir / VERSIONS).iterdir():
        if path.name not in keep and not path.name.endswith(PARTIAL_SUFFIX):
            shutil.rmtree(path, ignore_errors=True)
