"""The streamed index build and the large-index load path, at small sizes.

The build writes vectors.npy a block at a time as the embedder returns them and builds FAISS from that file; these
tests check every row against what the embedder returned, that a failure mid-way leaves nothing behind, and that an
IVF index (above ``ann_threshold``) is memory-mapped on load and finds what exact search finds.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from qa_bot.chunking import build_passages, split_sentences
from qa_bot.index import (
    CURRENT,
    FAISS_LISTS,
    VECTORS,
    VERSIONS,
    BlockSizes,
    OpenIndex,
    build_faiss,
    sync_index,
)
from qa_bot.ingest import scan_corpus
from qa_bot.retrieval import HybridRetriever
from qa_bot.settings import Settings
from tests.test_index import PASSAGE_TOKENS, index_settings, live_version_dir, reader_tokenizer_dir, write_corpus

DIMENSION = 32
BLOCK = 5  # texts per block the stand-in embedder returns


def harbour_articles(count: int, first: int = 0) -> dict[str, str]:
    """Articles of twelve sentences (several passages each at PASSAGE_TOKENS), each naming its own harbour."""
    return {
        f"harbour{number:04d}.txt": f"Harbour {number}\n\n"
        + " ".join(
            f"In {1800 + k} the harbour of Velmora{number} received {k + 3} ships from the port of Arno{number}x{k}."
            for k in range(12)
        )
        for number in range(first, first + count)
    }


class HashEmbedder:
    """Stand-in embedder: a text's vector is drawn from a generator seeded by the text, so any row can be checked.

    Blocks come back last first, as Dask workers may finish them.
    """

    dimension = DIMENSION

    def __init__(self, fail_after_blocks: int | None = None) -> None:
        self.fail_after_blocks = fail_after_blocks

    def identity(self) -> dict:
        return {"name": "hash-embedder", "dimension": DIMENSION, "max_seq_length": 256, "backend": "test"}

    @staticmethod
    def vector(text: str) -> np.ndarray:
        vector = np.random.default_rng(zlib.crc32(text.encode("utf-8"))).standard_normal(DIMENSION)
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def encode_blocks(self, texts: list[str]) -> Iterator[tuple[int, np.ndarray]]:
        for count, first in enumerate(reversed(range(0, len(texts), BLOCK))):
            if count == self.fail_after_blocks:
                raise RuntimeError("worker lost")
            yield first, np.stack([self.vector(text) for text in texts[first : first + BLOCK]])

    def encode_query(self, question: str) -> np.ndarray:
        return self.vector(question)[None, :]


def expected_passages(corpus: Path) -> list:
    """Each article's passages as the chunker makes them, articles in path order: what row i must hold."""
    tokenizer = AutoTokenizer.from_pretrained(reader_tokenizer_dir())
    articles = sorted(scan_corpus(corpus, Settings().max_article_bytes).articles, key=lambda a: a.path)
    return [
        passage
        for article in articles
        for passage in build_passages(article, split_sentences(article), tokenizer, PASSAGE_TOKENS)
    ]


def assert_rows_match(index_dir: Path, corpus: Path) -> None:
    """Row i of the store, vectors.npy and FAISS is passage i, with the vector the embedder gave its text."""
    index = OpenIndex.load(index_dir, HashEmbedder().identity())
    passages = index.passages(list(range(index.passage_count)))
    assert passages == expected_passages(corpus)
    stored = np.load(live_version_dir(index_dir) / VECTORS)
    np.testing.assert_array_equal(stored, np.stack([HashEmbedder.vector(p.text) for p in passages]))
    np.testing.assert_array_equal(index.faiss_index.reconstruct_n(0, index.faiss_index.ntotal), stored)


def test_streamed_build_stores_each_passage_with_the_vector_the_embedder_returned(tmp_path: Path):
    blocks = BlockSizes(rows=7)  # copies and FAISS adds in blocks that cross articles
    corpus, index_dir = write_corpus(tmp_path / "corpus", harbour_articles(12)), tmp_path / "index"
    first = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=HashEmbedder(), blocks=blocks)
    assert first.passages == first.embedded > 3 * BLOCK
    assert_rows_match(index_dir, corpus)

    (corpus / "harbour0003.txt").write_text("Harbour 3\n\nThe harbour of Velmora3 was closed in 1990.\n")
    write_corpus(corpus, harbour_articles(2, first=50))
    second = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=HashEmbedder(), blocks=blocks)
    assert (second.added, second.updated, second.unchanged) == (2, 1, 11)
    assert 0 < second.embedded < second.passages  # the unchanged articles' vectors were copied, block by block
    assert_rows_match(index_dir, corpus)


def test_a_failure_while_embedding_leaves_no_partial_version_and_the_old_one_serving(tmp_path: Path):
    corpus, index_dir = write_corpus(tmp_path / "corpus", harbour_articles(6)), tmp_path / "index"
    built = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=HashEmbedder())
    write_corpus(corpus, harbour_articles(4, first=20))
    with pytest.raises(RuntimeError, match="worker lost"):  # after some blocks reached vectors.npy
        sync_index(corpus, index_dir, index_settings(), progress=False, embedder=HashEmbedder(fail_after_blocks=2))
    assert [p.name for p in (index_dir / VERSIONS).iterdir()] == [built.version]
    assert (index_dir / CURRENT).read_text().strip() == built.version
    assert OpenIndex.load(index_dir, HashEmbedder().identity()).passage_count == built.passages


def test_an_ivf_index_is_memory_mapped_on_load_and_finds_what_exact_search_finds(
    tmp_path: Path, capfd: pytest.CaptureFixture
):
    blocks = BlockSizes(ivf_shard_rows=400)  # several shards merged into one list file
    corpus, built_dir = write_corpus(tmp_path / "corpus", harbour_articles(300)), tmp_path / "built"
    settings = index_settings(ann_threshold=1000)
    report = sync_index(corpus, built_dir, settings, progress=False, embedder=HashEmbedder(), blocks=blocks)
    assert report.passages > 1500
    index_dir = built_dir.rename(tmp_path / "moved")  # the lists are found beside the index, wherever it is

    index = OpenIndex.load(index_dir, HashEmbedder().identity())
    printed = capfd.readouterr()
    assert printed.out == ""  # stdout carries `--json`
    assert "resizing" not in printed.err and "ondisk" not in printed.err  # FAISS's messages about its own files
    assert index.manifest["faiss"]["kind"] == "ivf"
    version_dir = live_version_dir(index_dir)
    assert sorted(path.name for path in version_dir.iterdir()) == sorted(
        ["bm25", "faiss.index", "faiss.ivfdata", "manifest.json", "store.sqlite", "vectors.npy"]
    )  # no shards or scratch files left
    assert str(version_dir / FAISS_LISTS) in Path("/proc/self/maps").read_text()  # mapped, not read into memory

    retriever = HybridRetriever(index, HashEmbedder(), settings)
    for passage in index.passages([0, 776, report.passages - 1]):  # known queries: each passage's own vector
        [found] = retriever.retrieve(passage.text, 1, mode="dense")
        assert found.passage == passage
    [found] = retriever.retrieve("Which ships came from the port of Arno217x5?", 1, mode="bm25")
    assert "Arno217x5" in found.passage.text

    # The merged shards answer as one index built in memory does: the same rows in the same order, the same scores.
    vectors = np.load(version_dir / VECTORS)
    queries = np.concatenate([HashEmbedder().encode_query(f"Question {n} about a harbour?") for n in range(20)])
    in_memory = build_faiss(vectors, settings)
    merged_scores, merged_rows = index.faiss_index.search(queries, 10)
    memory_scores, memory_rows = in_memory.search(queries, 10)
    np.testing.assert_array_equal(merged_rows, memory_rows)
    np.testing.assert_allclose(merged_scores, memory_scores, rtol=1e-6)
    # At this size the stored nprobe covers every list, so the IVF index must return exactly the exact top row.
    assert index.manifest["faiss"]["nprobe"] == int(index.manifest["faiss"]["factory"][3:].split(",")[0])
    np.testing.assert_array_equal(merged_rows[:, 0], np.argmax(queries @ vectors.T, axis=1))


# --- a full disk ------------------------------------------------------------------------------

SYNC_IN_A_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from qa_bot.errors import QABotError
    from qa_bot.index import sync_index
    from tests.test_index import index_settings
    from tests.test_large_index import HashEmbedder

    corpus, index_dir = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        settings = index_settings(ann_threshold=1000)  # IVF: shards and merged lists written too
        print("indexed", sync_index(corpus, index_dir, settings, progress=False, embedder=HashEmbedder()).passages)
    except QABotError as error:
        print(error)
    """
)


def sync_in_a_child(corpus: Path, index_dir: Path) -> str:
    """The sync's one line, from a child process: a write through a mapping to a full disk would kill it (SIGBUS)."""
    child = subprocess.run(
        [sys.executable, "-c", SYNC_IN_A_CHILD, str(corpus), str(index_dir)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert child.returncode == 0, child.stderr[-2000:]
    return child.stdout.strip()


@pytest.mark.parametrize("kilobytes", [1000, 4000, 6000])  # the store, then the mapped vectors, BM25 and FAISS files
def test_a_full_disk_stops_the_first_build_in_one_line_and_leaves_nothing(tmp_path: Path, small_disk, kilobytes):
    corpus, disk = write_corpus(tmp_path / "corpus", harbour_articles(600)), small_disk(kilobytes)
    line = sync_in_a_child(corpus, disk / "index")
    assert re.fullmatch(
        rf"cannot update the index at {disk / 'index'} \((database or disk is full|No space left on device)\); "
        r"nothing was written",
        line,
    ), line
    assert list(disk.iterdir()) == []


def test_a_full_disk_stops_a_sync_and_the_previous_version_keeps_serving(tmp_path: Path, small_disk):
    corpus, disk = write_corpus(tmp_path / "corpus", harbour_articles(100)), small_disk(6000)
    assert sync_in_a_child(corpus, disk / "index").startswith("indexed")
    before = OpenIndex.load(disk / "index", HashEmbedder().identity())

    write_corpus(corpus, harbour_articles(500, first=100))
    line = sync_in_a_child(corpus, disk / "index")
    assert (
        line
        == f"cannot update the index at {disk / 'index'} (No space left on device); the previous version stays in use"
    )
    assert [p.name for p in (disk / "index" / VERSIONS).iterdir()] == [before.version]  # no .partial left
    after = OpenIndex.load(disk / "index", HashEmbedder().identity())
    assert (after.version, after.passage_count) == (before.version, before.passage_count)
