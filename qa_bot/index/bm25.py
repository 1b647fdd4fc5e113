"""BM25 over a version's passages (bm25s), its score matrix built on disk rather than in memory."""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from tqdm.auto import tqdm

from qa_bot.index.files import allocated_npy, scratch_beside, short_writes_explained
from qa_bot.index.store import ROW_COLUMN


@lru_cache(maxsize=1)
def _english_stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed words: the same analysis for passages and questions."""
    return bm25s.tokenize(texts, stopwords="en", stemmer=_english_stemmer(), return_ids=False, show_progress=False)


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
    the matrix. Each column's length is its token's document frequency, so the slots are known before the scores
    are computed, passage by passage with bm25s's own formulas (private functions: the bm25s version is pinned, and
    a test compares the scores with bm25s's own build).
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
        data = allocated_npy(self.scratch_dir / "data.npy", self.dtype, (indptr[-1],))
        indices = allocated_npy(self.scratch_dir / "indices.npy", self.int_dtype, (indptr[-1],))
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


def write_bm25(directory: Path, store: sqlite3.Connection, passage_count: int, block_rows: int, progress: bool) -> None:
    """BM25 over the stored passages, their words analysed a block at a time into token ids on disk, its score
    matrix built on disk too: what is held in memory is the vocabulary and 8 bytes per passage."""
    with scratch_beside(directory) as scratch_dir:
        tokens = _SpilledTokens(scratch_dir / "token-ids")
        try:
            sql = f'SELECT text FROM passages WHERE "{ROW_COLUMN}" >= ? AND "{ROW_COLUMN}" < ? ORDER BY "{ROW_COLUMN}"'
            with tqdm(total=passage_count, desc="Indexing words", unit="passage", disable=not progress) as bar:
                for begin in range(0, passage_count, block_rows):
                    texts = [text for (text,) in store.execute(sql, (begin, begin + block_rows))]
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
        with short_writes_explained(directory.parent):
            retriever.save(str(directory), show_progress=False)
