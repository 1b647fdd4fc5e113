"""The incremental indexer: plan a new version from the corpus and the live one, write it, switch it in."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from array import array
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from qa_bot.chunking import build_passages, split_sentences
from qa_bot.corpus_files import remove_abandoned_uploads
from qa_bot.embedding import Embedder
from qa_bot.errors import IndexUnusable, QABotError
from qa_bot.index.bm25 import write_bm25
from qa_bot.index.files import checksum, fsync, fsync_tree
from qa_bot.index.open import OpenIndex
from qa_bot.index.store import (
    ROW_COLUMN,
    TABLES,
    StoredTexts,
    column_list,
    column_names,
    connect_read_only,
    create_store,
    store_article,
)
from qa_bot.index.vectors import DEFAULT_BLOCKS, BlockSizes, VectorFile, write_faiss
from qa_bot.index.version import (
    BM25_DIR,
    CURRENT,
    FAISS_INDEX,
    FORMAT_VERSION,
    MANIFEST,
    PARTIAL_SUFFIX,
    STORE,
    VECTORS,
    VERSIONS,
    current_is_usable,
    exclusive_lock,
    new_version_id,
    read_current,
    read_manifest,
    rebuild_hint,
    remove_old_versions,
    switch_current,
    verify_files,
    version_files,
)
from qa_bot.ingest import CorpusScan, check_corpus_dir, scan_corpus
from qa_bot.settings import Settings
from qa_bot.types import Article, Passage, Sentence


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
        sql = f'SELECT {column_list(Sentence)} FROM sentences WHERE article_id = ? ORDER BY "index"'
        return [Sentence(*r) for r in self.connection.execute(sql, (article_id,))]

    def passages_with_rows(self, article_id: str) -> list[tuple[int, Passage]]:
        sql = f'SELECT "{ROW_COLUMN}", {column_list(Passage)} FROM passages WHERE article_id = ? ORDER BY "index"'
        return [(r[0], Passage(*r[1:])) for r in self.connection.execute(sql, (article_id,))]


def _open_previous(index_dir: Path) -> tuple[_Previous | None, str | None]:
    """The current version if its store and vectors are intact, else (None, why not)."""
    try:
        version = read_current(index_dir)
        manifest = read_manifest(index_dir, version)
        version_dir = index_dir / VERSIONS / version
        verify_files(index_dir, version_dir, manifest, [STORE, VECTORS])
        connection = connect_read_only(version_dir / STORE)
        article_columns = [c for c in column_names(Article) if c != "text"]
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
        OpenIndex.load_version(index_dir, version, None).close()
        intact = True
    except IndexUnusable:
        intact = False
    return _Previous(version, manifest, connection, vectors, articles, intact), None


def _check_stored_counts(index_dir: Path, manifest: dict, connection: sqlite3.Connection, vector_rows: int) -> None:
    """The manifest's counts match the rows stored, so reusing rows by number is safe."""
    counts = manifest["counts"]
    found = {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}
    found[VECTORS] = vector_rows
    expected = {**{table: counts.get(table) for table in TABLES}, VECTORS: counts.get("passages")}
    wrong = [f"{name} {n}, manifest {expected[name]}" for name, n in found.items() if n != expected[name]]
    if wrong:
        raise IndexUnusable(
            f"index at {index_dir} is inconsistent ({'; '.join(wrong)}); "
            f"{rebuild_hint(index_dir, manifest.get('corpus_dir'))}"
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


def sync_index(
    corpus_dir: Path,
    index_dir: Path,
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: bool = True,
    embedder: Embedder | None = None,
    blocks: BlockSizes = DEFAULT_BLOCKS,
) -> SyncReport:
    """Bring the index in line with the corpus folder, re-embedding only new or changed articles."""
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    check_corpus_dir(corpus_dir)  # before the index folder or its lock file is touched
    created = next((p for p in reversed([index_dir, *index_dir.parents]) if not p.exists()), None)
    succeeded = False
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(index_dir):
            report = _sync_locked(_Job(corpus_dir, index_dir, settings, rebuild, progress, embedder, blocks))
        succeeded = True
        return report
    except (OSError, sqlite3.OperationalError) as error:  # disk full, permissions: the live version is untouched
        reason = getattr(error, "strerror", None) or error
        if current_is_usable(index_dir):
            kept = "the previous version stays in use"
        else:
            kept = "nothing was switched in" if (index_dir / CURRENT).exists() else "nothing was written"
        raise QABotError(f"cannot update the index at {index_dir} ({reason}); {kept}") from error
    finally:
        if created is not None and not succeeded:  # a failed command leaves nothing behind
            shutil.rmtree(created, ignore_errors=True)


@dataclass(frozen=True)
class _Job:
    """What one sync was asked to do."""

    corpus_dir: Path
    index_dir: Path
    settings: Settings
    rebuild: bool
    progress: bool
    embedder: Embedder | None
    blocks: BlockSizes


def _sync_locked(job: _Job) -> SyncReport:
    versions_dir = job.index_dir / VERSIONS
    versions_dir.mkdir(exist_ok=True)
    for stale in versions_dir.glob("*" + PARTIAL_SUFFIX):
        shutil.rmtree(stale, ignore_errors=True)  # left by an indexer that was killed

    remove_abandoned_uploads(job.corpus_dir)
    previous, why_not = _open_previous(job.index_dir)
    try:
        report = _sync_onto(job, previous, why_not)
    finally:
        if previous is not None:
            previous.connection.close()
    if previous is None or report.version != previous.version:
        remove_old_versions(job.index_dir, keep={report.version, previous.version if previous else ""})
    return report


def _sync_onto(job: _Job, previous: _Previous | None, why_not: str | None) -> SyncReport:
    """The sync's work once the live version is open: unchanged, or a new version written and switched in."""
    corpus_dir, index_dir, settings = job.corpus_dir, job.index_dir, job.settings
    # Of two files with the same text the one indexed already stays: a copy never displaces the original.
    prefer = {a.article_id: a.path for a in previous.articles.values()} if previous else {}
    scan = scan_corpus(corpus_dir, settings.max_article_bytes, keep_texts=False, prefer=prefer)
    if not scan.articles:
        first = f" ({scan.problems[0]})" if scan.problems else ""
        raise QABotError(f"no readable articles in {corpus_dir}{first}; add article files and run again")
    articles = sorted(scan.articles, key=lambda a: a.path)
    embedder = job.embedder or Embedder.from_settings(settings)
    tokenizer = _load_tokenizer(settings)
    built_with = {
        "corpus_dir": str(corpus_dir.resolve()),
        "embedder": embedder.identity(),
        "dimension": embedder.dimension,
        "tokenizer": {"name": Path(settings.reader_path()).name, "fingerprint": _tokenizer_fingerprint(tokenizer)},
        "passage_tokens": settings.passage_tokens,
    }
    report = _count_changes(articles, previous)
    report.problems = list(scan.problems)
    if why_not and (index_dir / CURRENT).exists():
        report.problems.append(f"previous index not reused: {why_not}")
    reusable = previous if previous and not job.rebuild else None
    if reusable and _reuse_key(reusable.manifest) != _reuse_key(built_with):
        report.problems.append("embedder, reader tokenizer or passage size changed: re-embedding everything")
        reusable = None
    if reusable and reusable.intact and _same_articles(reusable, articles):
        report.passages, report.version = reusable.manifest["counts"]["passages"], reusable.version
        return report  # nothing changed: keep serving the live version
    sources = _Sources(scan, articles, reusable, tokenizer, embedder, settings.max_article_bytes)
    report.version, plan = _write_version(index_dir, built_with, sources, settings, job.blocks, job.progress)
    report.passages, report.embedded = plan.passages, len(plan.rows_to_embed)
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
        store_article(store, article, sentences, plan.passages, passages)
        plan.sentences += len(sentences)
        plan.passages += len(passages)
    store.commit()
    return plan


def _write_vectors(
    path: Path, plan: _Plan, texts: StoredTexts, embedder: Embedder, block_rows: int, progress: bool
) -> VectorFile:
    """vectors.npy written as the vectors come: reused ones copied, new ones stored as each block is embedded."""
    vectors = VectorFile.create(path, plan.passages, embedder.dimension)
    reused_rows, reused_from = np.frombuffer(plan.reused_rows, np.int64), np.frombuffer(plan.reused_from, np.int64)
    for begin in range(0, len(reused_rows), block_rows):
        block = slice(begin, begin + block_rows)
        vectors[reused_rows[block]] = plan.previous_vectors[reused_from[block]]
    rows = np.frombuffer(plan.rows_to_embed, np.int64)
    with tqdm(total=len(texts), desc="Embedding", unit="passage", disable=not progress) as bar:
        for first, block_vectors in embedder.encode_blocks(texts):
            vectors[rows[first : first + len(block_vectors)]] = block_vectors
            bar.update(len(block_vectors))
    return vectors


def _write_version(
    index_dir: Path, built_with: dict, sources: _Sources, settings: Settings, blocks: BlockSizes, progress: bool
) -> tuple[str, _Plan]:
    """Write a complete version under a temporary name, then make it the live one; returns its id and plan."""
    version = new_version_id()
    partial_dir = index_dir / VERSIONS / (version + PARTIAL_SUFFIX)
    partial_dir.mkdir()
    try:
        plan = _write_files(partial_dir, version, built_with, sources, settings, blocks, progress)
    except BaseException:
        shutil.rmtree(partial_dir, ignore_errors=True)  # (a kill -9 leaves it for the next run instead)
        raise
    os.rename(partial_dir, index_dir / VERSIONS / version)
    try:
        fsync(index_dir / VERSIONS)
        switch_current(index_dir, version)
    except BaseException:
        if not current_is_usable(index_dir) or read_current(index_dir) != version:
            shutil.rmtree(index_dir / VERSIONS / version, ignore_errors=True)  # never switched in: no orphan
        raise
    return version, plan


def _write_files(
    partial_dir: Path,
    version: str,
    built_with: dict,
    sources: _Sources,
    settings: Settings,
    blocks: BlockSizes,
    progress: bool,
) -> _Plan:
    """Store, vectors, FAISS and BM25, each streamed through files: what is held in memory is tens of bytes per
    passage (row numbers, BM25 token offsets, the article list), the vocabulary and one IVF shard."""
    store = create_store(partial_dir / STORE)
    try:
        plan = _plan(store, sources, settings.passage_tokens, progress)
        if not plan.passages:
            raise QABotError(
                f"the articles in {built_with['corpus_dir']} contain no text to index; add articles and run again"
            )
        texts = StoredTexts(store, np.frombuffer(plan.rows_to_embed, np.int64), blocks.rows)
        vectors = _write_vectors(partial_dir / VECTORS, plan, texts, sources.embedder, blocks.rows, progress)
        faiss_kind = write_faiss(vectors, settings, partial_dir / FAISS_INDEX, progress, blocks)
        write_bm25(partial_dir / BM25_DIR, store, plan.passages, blocks.rows, progress)
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
            str(path.relative_to(partial_dir)): {"bytes": path.stat().st_size, "crc32": checksum(path)}
            for path in version_files(partial_dir)
        },
    }
    (partial_dir / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    fsync_tree(partial_dir)
    return plan


def _reuse_key(manifest: dict) -> tuple:
    """Stored passages and vectors are valid only for the same embedder, tokenizer and passage budget."""
    return manifest.get("embedder"), manifest.get("tokenizer", {}).get("fingerprint"), manifest.get("passage_tokens")
