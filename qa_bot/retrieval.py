"""Hybrid passage retrieval: dense (FAISS) and BM25 candidate lists merged by reciprocal rank fusion."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from qa_bot.embedding import Embedder
from qa_bot.errors import QABotError
from qa_bot.index import OpenIndex, bm25_tokens
from qa_bot.settings import Settings
from qa_bot.types import ArticleInfo, Retrieved

MODES = ("hybrid", "dense", "bm25")
# BM25 scores a question while the embedder and FAISS (which release the GIL) find the dense candidates: FAISS
# searches one question on one thread, so a second core is free (the gain grows with the index; `bench_large_index`).
_BM25_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="qa-bot-bm25")


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int) -> list[tuple[int, float]]:
    """Items of several best-first rankings ordered by sum of 1 / (k + rank), rank counted from 1.

    Ties go to the item with the better single rank, then to the lower item id, so results are stable.
    """
    scores: dict[int, float] = {}
    best_rank: dict[int, int] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            best_rank[item] = min(best_rank.get(item, rank), rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], best_rank[pair[0]], pair[0]))


SELECTION_BLOCK = 1024  # scores per block when picking the best rows of a large array


def top_rows(scores: np.ndarray, count: int) -> np.ndarray:
    """Rows of the ``count`` highest positive scores, best first, ties to the lower row: the order a full sort gives.

    A full selection over a million BM25 scores costs most of a BM25 query; the best rows all lie in the blocks whose
    maximum reaches the count-th highest block maximum, so only those blocks are searched.
    """
    blocks = -(-len(scores) // SELECTION_BLOCK)
    if blocks > count:
        padded = np.zeros(blocks * SELECTION_BLOCK, dtype=scores.dtype)
        padded[: len(scores)] = scores
        maxima = padded.reshape(blocks, SELECTION_BLOCK).max(axis=1)
        floor = np.partition(maxima, blocks - count)[blocks - count]
        chosen = np.flatnonzero(maxima >= floor)
        rows = (chosen[:, None] * SELECTION_BLOCK + np.arange(SELECTION_BLOCK)).ravel()
        rows = rows[rows < len(scores)]
    else:
        rows = np.arange(len(scores))
    rows = rows[scores[rows] > 0]
    if len(rows) > count:
        values = scores[rows]
        kth = np.partition(values, len(values) - count)[len(values) - count]
        rows = rows[values >= kth]  # every row that can be among the best, ties included
    return rows[np.lexsort((rows, -scores[rows]))][:count]


class HybridRetriever:
    def __init__(self, index: OpenIndex, embedder: Embedder, settings: Settings) -> None:
        index.check_embedder(embedder.identity())
        self.index = index
        self.embedder = embedder
        self.settings = settings

    def retrieve(self, question: str, top_k: int, mode: str = "hybrid") -> list[Retrieved]:
        if mode not in MODES:
            raise QABotError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        question = question.strip()
        if not question or top_k <= 0:
            return []
        scoring = _BM25_THREADS.submit(self._bm25, question) if mode != "dense" else None
        dense = self._dense(question) if mode != "bm25" else {}
        lexical = scoring.result() if scoring else {}
        fused = reciprocal_rank_fusion([list(dense), list(lexical)], self.settings.rrf_k)[:top_k]
        passages = self.index.passages([row for row, _ in fused])
        articles: dict[str, ArticleInfo] = {}
        dense_ranks = {row: rank for rank, row in enumerate(dense)}
        bm25_ranks = {row: rank for rank, row in enumerate(lexical)}
        results = []
        for rank, ((row, score), passage) in enumerate(zip(fused, passages, strict=True)):
            if passage.article_id not in articles:
                articles[passage.article_id] = self.index.article_info(passage.article_id)
            results.append(
                Retrieved(
                    passage=passage,
                    article=articles[passage.article_id],
                    score=score,
                    rank=rank,
                    dense_score=dense.get(row),
                    bm25_score=lexical.get(row),
                    dense_rank=dense_ranks.get(row),
                    bm25_rank=bm25_ranks.get(row),
                )
            )
        return results

    def _candidate_count(self) -> int:
        return min(self.settings.retrieve_k, self.index.passage_count)

    def _dense(self, question: str) -> dict[int, float]:
        """Best-first {row: cosine similarity}."""
        similarities, rows = self.index.faiss_index.search(
            self.embedder.encode_query(question), self._candidate_count()
        )
        return {int(row): float(similarity) for row, similarity in zip(rows[0], similarities[0]) if row >= 0}

    def _bm25(self, question: str) -> dict[int, float]:
        """Best-first {row: BM25 score}, only passages sharing at least one term with the question."""
        token_ids = self.index.bm25.get_tokens_ids(bm25_tokens([question])[0])
        if not token_ids:
            return {}
        scores = self.index.bm25.get_scores_from_ids(token_ids)
        return {int(row): float(scores[row]) for row in top_rows(scores, self._candidate_count())}
