"""Hybrid retrieval: the answer's passage comes first, scores are filled consistently, fusion is RRF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa_bot.embedding import Embedder
from qa_bot.errors import IndexUnusable, QABotError
from qa_bot.index import OpenIndex, sync_index
from qa_bot.retrieval import HybridRetriever, reciprocal_rank_fusion, top_rows
from tests.test_index import ARTICLES, RecordingEmbedder, index_settings, minilm, write_corpus

ANSWERS = [
    ("Who designed the Halvorsen Bridge?", "Ingrid Halvorsen"),
    ("In which city did Marta Quillon open her bakery?", "Lyon in 2004"),
    ("How wide is the mirror of the main telescope?", "4.1 metres"),
    ("Why was the bridge closed in 1987?", "corrosion"),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> OpenIndex:
    root = tmp_path_factory.mktemp("retrieval")
    corpus = write_corpus(root / "corpus", ARTICLES)
    sync_index(corpus, root / "index", index_settings(), progress=False, embedder=minilm())
    return OpenIndex.load(root / "index", minilm().identity())


@pytest.fixture(scope="module")
def retriever(index: OpenIndex) -> HybridRetriever:
    return HybridRetriever(index, minilm(), index_settings())


# --- reciprocal rank fusion on hand-made rankings ---------------------------------------------


def test_rrf_sums_reciprocal_ranks_across_lists() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[3][1] == pytest.approx(1 / 63)


def test_rrf_agreement_beats_a_single_first_place_unless_k_is_tiny() -> None:
    rankings = [[7, 8], [9, 10, 8]]  # 8 is 2nd and 3rd; 7 and 9 are each first once
    assert reciprocal_rank_fusion(rankings, k=60)[0][0] == 8
    assert [item for item, _ in reciprocal_rank_fusion(rankings, k=0)][:2] == [7, 9]


def test_rrf_breaks_ties_by_best_rank_then_id() -> None:
    assert [item for item, _ in reciprocal_rank_fusion([[6, 5], [5, 6]], k=60)] == [5, 6]
    assert [item for item, _ in reciprocal_rank_fusion([[4], [3]], k=60)] == [3, 4]
    assert reciprocal_rank_fusion([[], []], k=60) == []


# --- retrieval over a real index --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
@pytest.mark.parametrize(("question", "answer"), ANSWERS)
def test_the_passage_with_the_answer_comes_first(retriever: HybridRetriever, mode: str, question: str, answer: str):
    results = retriever.retrieve(question, 3, mode)
    assert answer in results[0].passage.text


@pytest.mark.slow
def test_hybrid_scores_are_the_fusion_of_the_dense_and_bm25_rankings(retriever: HybridRetriever) -> None:
    question = "Who designed the Halvorsen Bridge?"
    k = retriever.settings.rrf_k
    dense = {r.passage.passage_id: r for r in retriever.retrieve(question, 100, "dense")}
    lexical = {r.passage.passage_id: r for r in retriever.retrieve(question, 100, "bm25")}
    hybrid = retriever.retrieve(question, 5)

    assert [r.rank for r in hybrid] == list(range(5))
    assert [r.score for r in hybrid] == sorted((r.score for r in hybrid), reverse=True)
    for result in hybrid:
        in_dense, in_bm25 = dense.get(result.passage.passage_id), lexical.get(result.passage.passage_id)
        expected = (1 / (k + in_dense.rank + 1) if in_dense else 0) + (1 / (k + in_bm25.rank + 1) if in_bm25 else 0)
        assert result.score == pytest.approx(expected)
        assert result.dense_score == (in_dense.dense_score if in_dense else None)
        assert result.bm25_score == (in_bm25.bm25_score if in_bm25 else None)
        assert result.article.article_id == result.passage.article_id
        assert result.article.path in ARTICLES
    assert all(r.bm25_score is None and -1 <= r.dense_score <= 1 for r in dense.values())
    assert all(r.dense_score is None and r.bm25_score > 0 for r in lexical.values())
    assert [r.dense_score for r in dense.values()] == sorted((r.dense_score for r in dense.values()), reverse=True)


@pytest.mark.slow
def test_questions_without_usable_terms_or_text(retriever: HybridRetriever, index: OpenIndex) -> None:
    assert retriever.retrieve("What is it?", 5, "bm25") == []  # only stop words
    dense_only = retriever.retrieve("What is it?", 5, "hybrid")
    assert len(dense_only) == 5 and all(r.bm25_score is None for r in dense_only)
    assert retriever.retrieve("   ", 5) == []
    assert len(retriever.retrieve("bridge", 1000)) == index.passage_count  # top_k above the index size
    with pytest.raises(QABotError, match=r"^unknown retrieval mode 'fuzzy'; use one of hybrid, dense, bm25$"):
        retriever.retrieve("bridge", 5, "fuzzy")


@pytest.mark.slow
def test_retriever_refuses_an_index_built_with_another_embedder(index: OpenIndex) -> None:
    with pytest.raises(IndexUnusable, match="built with embedder all-MiniLM-L6-v2, this run uses other-model"):
        HybridRetriever(index, RecordingEmbedder(name="other-model"), index_settings())


@pytest.mark.slow
def test_ivf_index_memory_mapped_finds_the_same_passages(tmp_path: Path, retriever: HybridRetriever) -> None:
    """The large-index load path (IVF lists and BM25 memory-mapped) at a small size."""
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    settings = index_settings(ann_threshold=1)
    sync_index(corpus, tmp_path / "index", settings, progress=False, embedder=minilm())
    ivf_index = OpenIndex.load(tmp_path / "index")
    assert ivf_index.manifest["faiss"]["kind"] == "ivf"
    ivf = HybridRetriever(ivf_index, minilm(), settings)
    for question, _ in ANSWERS:
        exact = [(r.passage.passage_id, r.dense_score) for r in retriever.retrieve(question, 5, "dense")]
        approximate = [(r.passage.passage_id, r.dense_score) for r in ivf.retrieve(question, 5, "dense")]
        assert [r.bm25_score for r in ivf.retrieve(question, 5, "bm25")] == [
            r.bm25_score for r in retriever.retrieve(question, 5, "bm25")
        ]
        assert [p for p, _ in approximate] == [p for p, _ in exact]
        np.testing.assert_allclose([s for _, s in approximate], [s for _, s in exact], atol=1e-5)


# --- the embedder -----------------------------------------------------------------------------


@pytest.mark.slow
def test_embeddings_are_normalised_float32_and_questions_are_cached() -> None:
    embedder = minilm()
    vectors = embedder.encode(["The bridge opened in 1932.", "A rye loaf with caraway."])
    assert vectors.dtype == np.float32 and vectors.shape == (2, embedder.dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    question = embedder.encode_query("When did the bridge open?")
    assert embedder.encode_query("When did the bridge open?") is question  # served from the cache
    np.testing.assert_allclose(question, embedder.encode(["When did the bridge open?"]), atol=1e-6)
    assert embedder.identity() == {
        "name": "all-MiniLM-L6-v2",
        "dimension": 384,
        "max_seq_length": 256,
        "backend": "torch",  # the constructor default; the settings pick the fast backend
    }


def test_an_embedder_that_is_not_available_offline_is_a_one_line_error(tmp_path: Path) -> None:
    for missing in (str(tmp_path / "no-model-here"), "nobody/no-such-embedder"):
        with pytest.raises(QABotError) as refused:
            Embedder(missing)
        message = str(refused.value)
        assert "\n" not in message and f"cannot load embedder {missing!r} offline" in message


@pytest.mark.parametrize("size", [0, 7, 1023, 1024, 60_000, 70_001])
@pytest.mark.parametrize("count", [1, 50])
def test_top_rows_are_a_full_sort_of_the_positive_scores_ties_to_the_lower_row(size: int, count: int) -> None:
    rng = np.random.default_rng(size + count)
    scores = rng.integers(0, 6, size).astype(np.float32) * rng.integers(0, 2, size)  # many ties, many zeros
    scores[rng.integers(0, max(size, 1), 3) if size else []] = 9.5  # a few clear winners, anywhere
    expected = sorted((row for row in range(size) if scores[row] > 0), key=lambda row: (-scores[row], row))[:count]
    assert top_rows(scores, count).tolist() == expected
