"""Reading an index: one loaded, verified version (`OpenIndex`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from threading import Lock

import bm25s
import faiss

from qa_bot.errors import IndexUnusable
from qa_bot.index.store import ROW_COLUMN, column_list, connect_read_only
from qa_bot.index.vectors import VectorFile, read_faiss
from qa_bot.index.version import (
    BM25_DIR,
    FAISS_INDEX,
    STORE,
    VECTORS,
    VERSIONS,
    read_current,
    read_manifest,
    rebuild_hint,
    verify_files,
)
from qa_bot.types import ArticleInfo, Passage, Sentence


def _describe_embedder(identity: dict, other: dict) -> str:
    if identity.get("name") != other.get("name"):
        return str(identity.get("name"))
    return f"{identity.get('name')} ({identity.get('dimension')}-d, max {identity.get('max_seq_length')} tokens)"


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
        version = read_current(index_dir)
        for _retry in range(2):
            try:
                return cls.load_version(index_dir, version, embedder_identity)
            except IndexUnusable:
                # An indexer may have switched CURRENT and removed this version while we read it.
                latest = read_current(index_dir)
                if latest == version:
                    raise
                version = latest
        return cls.load_version(index_dir, version, embedder_identity)

    @classmethod
    def load_version(cls, index_dir: Path, version: str, embedder_identity: dict | None) -> OpenIndex:
        manifest = read_manifest(index_dir, version)
        hint = rebuild_hint(index_dir, manifest.get("corpus_dir"))
        if embedder_identity is not None:
            _check_embedder(index_dir, manifest, embedder_identity)
        version_dir = index_dir / VERSIONS / version
        verify_files(index_dir, version_dir, manifest)
        expected = manifest["counts"]["passages"]
        try:
            vector_rows, vector_dimension = VectorFile(version_dir / VECTORS).shape
            faiss_index = read_faiss(version_dir / FAISS_INDEX, manifest.get("faiss", {}).get("kind"))
            bm25 = bm25s.BM25.load(str(version_dir / BM25_DIR), mmap=True, show_progress=False, verbosity=0)
            connection = connect_read_only(version_dir / STORE)
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
        wrong = [f"{name} {n} passages" for name, n in sizes.items() if n != expected]
        wrong += [
            f"{name} dimension {d}"
            for name, d in {VECTORS: vector_dimension, FAISS_INDEX: faiss_index.d}.items()
            if d != manifest["dimension"]
        ]
        if wrong:
            connection.close()
            counts = f"{expected} passages of dimension {manifest['dimension']}"
            raise IndexUnusable(f"index at {index_dir} is inconsistent ({', '.join(wrong)}; manifest {counts}); {hint}")
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
                f'SELECT "{ROW_COLUMN}", {column_list(Passage)} FROM passages WHERE "{ROW_COLUMN}" IN ({placeholders})',
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
        return ArticleInfo(*self._article_row(article_id, column_list(ArticleInfo)))

    def article_text(self, article_id: str) -> str:
        return self._article_row(article_id, "text")[0]

    def sentences(self, article_id: str) -> list[Sentence]:
        return [
            Sentence(*record)
            for record in self._query(
                f'SELECT {column_list(Sentence)} FROM sentences WHERE article_id = ? ORDER BY "index"', (article_id,)
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
            f"{rebuild_hint(index_dir, manifest.get('corpus_dir'))}, or set QA_BOT_EMBEDDER back to the index's embedder"
        )
