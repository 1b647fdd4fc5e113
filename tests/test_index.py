"""The versioned index: incremental sync, refusal of damaged or mismatched indexes, crash safety, locking."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import faiss
import numpy as np
import pytest

from qa_bot.embedding import Embedder
from qa_bot.errors import IndexUnusable, QABotError
from qa_bot.index import (
    CURRENT,
    VERSIONS,
    BlockSizes,
    OpenIndex,
    build_faiss,
    faiss_description,
    read_faiss,
    sync_index,
)
from qa_bot.retrieval import HybridRetriever
from qa_bot.settings import Settings, bundled_embedder

REPO_ROOT = Path(__file__).resolve().parent.parent
PASSAGE_TOKENS = 60  # small, so each test article spans several passages

ARTICLES = {
    "bridge.txt": """The Halvorsen Bridge

The Halvorsen Bridge opened to traffic in 1932 and spans 410 metres across the Tarn River.

It was designed by the engineer Ingrid Halvorsen, who had studied steel arches in Zurich. Her design used two hinged arches instead of the suspension cables common at the time.

The bridge was closed for repairs in 1987 after inspectors found corrosion in the deck. It reopened two years later with a wider footpath for cyclists.
""",
    "bakery.txt": """A Bakery in Lyon

Marta Quillon founded the Blue Fern Bakery in Lyon in 2004, after ten years as a pastry chef in Marseille.

Its best-known product is a dark rye loaf baked with caraway seeds and a sourdough starter that Quillon brought from her grandmother's farm.

The bakery employs fourteen people and sells about nine hundred loaves every Saturday morning.
""",
    "observatory.txt": """The Okonkwo Observatory

The Okonkwo Observatory sits 2,300 metres above sea level in the Andes, far from city lights.

Its main telescope has a mirror 4.1 metres across, cast in a single piece of borosilicate glass. Astronomers there study the atmospheres of distant exoplanets.

The observatory was funded by a consortium of six universities and opened to visiting students in 2011.
""",
}

QUESTIONS = [
    "Who designed the Halvorsen Bridge?",
    "Where is the Blue Fern Bakery?",
    "How wide is the telescope mirror at the observatory?",
    "When did the bridge close for repairs?",
]


@lru_cache(maxsize=1)
def minilm() -> Embedder:
    """The real bundled embedder, loaded once for all test modules."""
    return Embedder(bundled_embedder())


@lru_cache(maxsize=1)
def reader_tokenizer_dir() -> Path:
    """A reader folder holding only the MiniLM tokenizer (same BERT-uncased vocabulary as the bundled reader)."""
    import atexit
    import tempfile

    from transformers import AutoTokenizer

    folder = Path(tempfile.mkdtemp(prefix="qa-bot-reader-tokenizer-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    AutoTokenizer.from_pretrained(bundled_embedder()).save_pretrained(folder)
    return folder


def index_settings(**overrides: object) -> Settings:
    return Settings(reader=str(reader_tokenizer_dir()), passage_tokens=PASSAGE_TOKENS, **overrides)


def write_corpus(folder: Path, articles: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def retrieval_snapshot(index: OpenIndex) -> list[list[tuple]]:
    """Everything a user could see from retrieval, for exact before/after comparisons."""
    retriever = HybridRetriever(index, minilm(), index_settings())
    return [
        [(r.passage.passage_id, r.passage.text, r.score, r.dense_score, r.bm25_score) for r in retriever.retrieve(q, 3)]
        for q in QUESTIONS
    ]


class RecordingEmbedder:
    """The real embedder, recording every passage text it is asked to embed; optionally claiming another identity."""

    def __init__(self, name: str | None = None) -> None:
        self.real = minilm()
        self.dimension = self.real.dimension
        self.name = name or self.real.name
        self.encoded: list[str] = []

    def identity(self) -> dict:
        return {**self.real.identity(), "name": self.name}

    def encode_blocks(self, texts: list[str]) -> Iterator[tuple[int, np.ndarray]]:
        self.encoded.extend(texts)
        return self.real.encode_blocks(texts)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of ARTICLES; tests that damage or change it work on a copy."""
    root = tmp_path_factory.mktemp("built")
    corpus = write_corpus(root / "corpus", ARTICLES)
    sync_index(corpus, root / "index", index_settings(), progress=False, embedder=minilm())
    return root


@pytest.fixture
def index_copy(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built / "index", tmp_path / "index")
    return tmp_path / "index"


def live_version_dir(index_dir: Path) -> Path:
    return index_dir / VERSIONS / (index_dir / CURRENT).read_text().strip()


def assert_one_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message


# --- incremental sync -------------------------------------------------------------------------


@pytest.mark.slow
def test_sync_embeds_only_new_and_changed_articles_and_drops_removed_ones(tmp_path: Path) -> None:
    corpus, index_dir = write_corpus(tmp_path / "corpus", ARTICLES), tmp_path / "index"
    embedder = RecordingEmbedder()
    first = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=embedder)
    assert (first.added, first.updated, first.removed, first.unchanged) == (3, 0, 0, 0)
    assert first.passages == first.embedded == len(embedder.encoded) > 3

    changed_bakery = ARTICLES["bakery.txt"].replace("fourteen people", "twenty people")
    ferry = "The Island Ferry\n\nThe ferry to Velmora island leaves every hour and the crossing takes forty minutes.\n"
    (corpus / "bakery.txt").write_text(changed_bakery)
    (corpus / "observatory.txt").unlink()
    (corpus / "ferry.txt").write_text(ferry)
    (corpus / "z-copy-of-bridge.txt").write_text(ARTICLES["bridge.txt"])
    embedder.encoded.clear()
    second = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=embedder)

    assert (second.added, second.updated, second.removed, second.unchanged) == (1, 1, 1, 1)
    assert any("z-copy-of-bridge.txt" in problem for problem in second.problems)
    # Only the changed and the new article were embedded; the bridge article reused its vectors.
    assert embedder.encoded and all(text in changed_bakery or text in ferry for text in embedder.encoded)
    assert second.embedded == len(embedder.encoded)

    index = OpenIndex.load(index_dir, minilm().identity())
    assert [(a["path"], a["title"]) for a in index.list_articles()] == [  # the duplicate file is indexed once
        ("bakery.txt", "A Bakery in Lyon"),
        ("bridge.txt", "The Halvorsen Bridge"),
        ("ferry.txt", "The Island Ferry"),
    ]
    passages = index.passages(list(range(index.passage_count)))
    all_text = " ".join(p.text for p in passages)
    assert "fourteen people" not in all_text and "twenty people" in all_text
    assert "Okonkwo" not in all_text
    for passage in passages:
        assert index.article_text(passage.article_id)[passage.start : passage.end] == passage.text
    # Every row's vector, reused or new, is the embedding of that row's passage.
    stored = np.load(live_version_dir(index_dir) / "vectors.npy")
    np.testing.assert_allclose(stored, minilm().encode([p.text for p in passages]), atol=1e-5)

    embedder.encoded.clear()
    unchanged = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=embedder)
    assert (unchanged.unchanged, unchanged.embedded, unchanged.version) == (3, 0, second.version)

    (corpus / "bridge.txt").rename(corpus / "renamed-bridge.txt")
    renamed = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=embedder)
    assert (renamed.added, renamed.removed, renamed.embedded) == (1, 1, 0)
    assert "renamed-bridge.txt" in [a["path"] for a in OpenIndex.load(index_dir).list_articles()]


@pytest.mark.slow
def test_a_different_embedder_reembeds_everything_and_old_index_is_refused(built: Path, index_copy: Path) -> None:
    other = RecordingEmbedder(name="other-model")
    report = sync_index(built / "corpus", index_copy, index_settings(), progress=False, embedder=other)
    assert report.embedded == report.passages == len(other.encoded)
    assert any("re-embedding everything" in problem for problem in report.problems)

    with pytest.raises(IndexUnusable) as refused:
        OpenIndex.load(index_copy, minilm().identity())
    message = str(refused.value)
    assert_one_line(message)
    assert "built with embedder other-model, this run uses all-MiniLM-L6-v2" in message
    assert f"--index-dir {index_copy} --rebuild" in message


def test_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexUnusable) as missing:
        OpenIndex.load(tmp_path / "nowhere")
    assert str(missing.value) == (
        f"no index at {tmp_path / 'nowhere'}; run `qa-bot index CORPUS --index-dir {tmp_path / 'nowhere'}` first"
    )


# --- damage is detected, never served ---------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _swap_in_smaller_faiss_with_matching_checksum(version_dir: Path) -> None:
    """A writer bug rather than disk damage: files intact, but the FAISS index lacks a passage."""
    import faiss

    from qa_bot.index.files import checksum

    vectors = np.load(version_dir / "vectors.npy")
    faiss.write_index(build_faiss(vectors[:-1], index_settings()), str(version_dir / "faiss.index"))
    manifest = json.loads((version_dir / "manifest.json").read_text())
    size = (version_dir / "faiss.index").stat().st_size
    manifest["files"]["faiss.index"] = {"bytes": size, "crc32": checksum(version_dir / "faiss.index")}
    (version_dir / "manifest.json").write_text(json.dumps(manifest))


DAMAGE = {
    "truncated faiss": (lambda v: _truncate(v / "faiss.index"), "faiss.index"),
    "flipped byte in faiss": (lambda v: _flip_middle_byte(v / "faiss.index"), "faiss.index"),
    "truncated sqlite": (lambda v: _truncate(v / "store.sqlite"), "store.sqlite"),
    "flipped byte in sqlite": (lambda v: _flip_middle_byte(v / "store.sqlite"), "store.sqlite"),
    "deleted vectors": (lambda v: (v / "vectors.npy").unlink(), "vectors.npy"),
    "flipped byte in bm25": (lambda v: _flip_middle_byte(v / "bm25" / "data.csc.index.npy"), "bm25/data.csc.index.npy"),
    "unreadable manifest": (lambda v: (v / "manifest.json").write_text("{"), "manifest.json"),
    "incomplete manifest": (lambda v: (v / "manifest.json").write_text('{"format_version": 1}'), "manifest.json"),
    "faiss row count differs": (_swap_in_smaller_faiss_with_matching_checksum, "faiss.index"),
    "version folder gone": (lambda v: shutil.rmtree(v), "missing"),
    "binary CURRENT": (lambda v: (v.parent.parent / CURRENT).write_bytes(b"\xff\xfe\x00\x9c\n"), "CURRENT"),
    "CURRENT with a control character": (lambda v: (v.parent.parent / CURRENT).write_text(v.name + "\x00"), "CURRENT"),
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damaged_index_is_refused_with_the_fix(index_copy: Path, damage: str) -> None:
    corrupt, named = DAMAGE[damage]
    corrupt(live_version_dir(index_copy))
    with pytest.raises(IndexUnusable) as refused:
        OpenIndex.load(index_copy, minilm().identity())
    message = str(refused.value)
    assert_one_line(message)
    assert named in message
    assert "qa-bot index" in message and f"--index-dir {index_copy} --rebuild" in message


@pytest.mark.slow
def test_sync_rebuilds_over_a_damaged_index(built: Path, index_copy: Path) -> None:
    _flip_middle_byte(live_version_dir(index_copy) / "store.sqlite")
    report = sync_index(built / "corpus", index_copy, index_settings(), progress=False, embedder=minilm())
    assert any("previous index not reused" in problem and "store.sqlite" in problem for problem in report.problems)
    assert report.embedded == report.passages
    rebuilt, original = OpenIndex.load(index_copy), OpenIndex.load(built / "index")
    assert rebuilt.version != original.version
    assert [[hit[0] for hit in hits] for hits in retrieval_snapshot(rebuilt)] == [
        [hit[0] for hit in hits] for hits in retrieval_snapshot(original)
    ]


@pytest.mark.slow
def test_sync_repairs_a_damaged_faiss_index_reusing_the_intact_vectors(built: Path, index_copy: Path) -> None:
    _truncate(live_version_dir(index_copy) / "faiss.index")
    report = sync_index(built / "corpus", index_copy, index_settings(), progress=False, embedder=minilm())
    assert (report.unchanged, report.embedded) == (len(ARTICLES), 0)
    assert retrieval_snapshot(OpenIndex.load(index_copy)) == retrieval_snapshot(OpenIndex.load(built / "index"))


@pytest.mark.slow
@pytest.mark.parametrize("count", ["passages", "articles", "sentences"])
def test_sync_over_a_manifest_with_tampered_counts_rebuilds_instead_of_reporting_unchanged(
    built: Path, index_copy: Path, count: str
) -> None:
    manifest_path = live_version_dir(index_copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["counts"][count] += 1
    manifest_path.write_text(json.dumps(manifest))
    report = sync_index(built / "corpus", index_copy, index_settings(), progress=False, embedder=minilm())
    assert any("previous index not reused" in p and "inconsistent" in p for p in report.problems), report.problems
    assert report.embedded == report.passages  # nothing reused from a version that fails its own checks
    rebuilt = OpenIndex.load(index_copy, minilm().identity())
    assert rebuilt.version == report.version != manifest["version"]
    assert retrieval_snapshot(rebuilt) == retrieval_snapshot(OpenIndex.load(built / "index"))


@pytest.mark.slow
def test_index_folder_with_its_readme_is_built_into_and_the_readme_kept(built: Path, tmp_path: Path) -> None:
    """index/ (the default --index-dir) ships with a README.md; the index code must leave it alone."""
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    (index_dir / "README.md").write_text("build output\n")
    with pytest.raises(IndexUnusable, match="no index at"):
        OpenIndex.load(index_dir)
    corpus = shutil.copytree(built / "corpus", tmp_path / "corpus")
    first = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=minilm())
    (corpus / "bridge.txt").unlink()
    second = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=minilm())
    assert (first.added, second.removed) == (len(ARTICLES), 1)
    assert (index_dir / "README.md").read_text() == "build output\n"
    assert OpenIndex.load(index_dir).version == second.version


def test_the_repository_index_folder_holds_only_its_readme_under_git() -> None:
    assert "build output" in (REPO_ROOT / "index" / "README.md").read_text().lower()

    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO_ROOT, check=False).returncode == 0

    assert ignored("index/CURRENT") and ignored("index/versions/x/store.sqlite")
    assert not ignored("index/README.md")


# --- readers and writers ----------------------------------------------------------------------


@pytest.mark.slow
def test_an_open_index_keeps_serving_its_version_after_newer_syncs_remove_it(built: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(built / "corpus", corpus)
    shutil.copytree(built / "index", tmp_path / "index")
    index = OpenIndex.load(tmp_path / "index")
    before = retrieval_snapshot(index)
    for number in range(2):
        (corpus / f"extra{number}.txt").write_text(f"Extra {number}\n\nThe Halvorsen Bridge hosted fair {number}.\n")
        sync_index(corpus, tmp_path / "index", index_settings(), progress=False, embedder=minilm())
    assert not (tmp_path / "index" / VERSIONS / index.version).exists()  # only live + previous are kept

    with ThreadPoolExecutor(max_workers=4) as pool:  # gradio serves requests from several threads
        snapshots = list(pool.map(lambda _: retrieval_snapshot(index), range(8)))
    assert all(snapshot == before for snapshot in snapshots)
    bridge = next(a for a in index.list_articles() if a["path"] == "bridge.txt")
    assert "Ingrid Halvorsen" in index.article_text(bridge["article_id"])
    assert len(OpenIndex.load(tmp_path / "index").list_articles()) == len(ARTICLES) + 2


@pytest.mark.slow
def test_a_second_indexer_is_refused_while_one_holds_the_lock(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"bridge.txt": ARTICLES["bridge.txt"]})
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    hold_lock = (
        "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('locked', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold_lock, str(index_dir / "LOCK")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(QABotError) as refused:
            sync_index(corpus, index_dir, index_settings(), progress=False, embedder=minilm())
        assert_one_line(str(refused.value))
        assert "already updating" in str(refused.value)
    finally:
        holder.communicate("")  # closing stdin ends the holder, which releases the lock
    assert sync_index(corpus, index_dir, index_settings(), progress=False, embedder=minilm()).added == 1


# --- FAISS kinds ------------------------------------------------------------------------------


def test_faiss_is_exact_below_the_threshold_and_ivf_at_or_above_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((4000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    flat = build_faiss(vectors, Settings(ann_threshold=4001))
    ivf = build_faiss(vectors, Settings(ann_threshold=4000))
    assert faiss_description(flat) == {"kind": "flat", "factory": "Flat"}
    assert faiss_description(ivf) == {"kind": "ivf", "factory": "IVF102,Flat", "nprobe": 96}
    for built in (flat, ivf):
        path = tmp_path / "faiss.index"
        faiss.write_index(built, str(path))
        index = read_faiss(path, faiss_description(built)["kind"])  # memory-mapped, as the server loads it
        similarities, rows = index.search(vectors[:50], 1)
        assert (rows[:, 0] == np.arange(50)).mean() >= 0.98  # each vector finds itself
        np.testing.assert_allclose(similarities[rows[:, 0] == np.arange(50), 0], 1.0, atol=1e-5)


# --- kill -9 while indexing -------------------------------------------------------------------

KILLED_INDEXER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import faiss
    import qa_bot.index as index
    from qa_bot.embedding import Embedder
    from qa_bot.settings import Settings

    point, corpus, index_dir, reader = sys.argv[1:]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "embedding":
        Embedder.encode = die
    elif point == "faiss":  # store and vectors already written in the temporary version folder
        faiss.write_index = die
    elif point == "switch":  # complete version renamed into place, CURRENT not yet switched
        replace = os.replace
        os.replace = lambda src, dst: die() if Path(dst).name == "CURRENT" else replace(src, dst)
    settings = Settings(reader=reader, passage_tokens=int(os.environ["PASSAGE_TOKENS"]))
    print("syncing", flush=True)
    index.sync_index(Path(corpus), Path(index_dir), settings, progress=False)
    """
)


def generated_articles(count: int) -> dict[str, str]:
    return {
        f"gen{number:04d}.txt": f"Harbour report {number}\n\n"
        f"The harbour of Velmora{number} received {number + 3} cargo ships this week. "
        f"Its pilot, captain Arno{number}, guided them through the northern channel.\n"
        for number in range(count)
    }


@pytest.mark.slow
def test_killed_indexer_leaves_the_previous_index_serving_and_the_next_sync_completes(
    built: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(built / "corpus", corpus)
    write_corpus(corpus, generated_articles(300))
    previous = OpenIndex.load(built / "index")
    expected = retrieval_snapshot(previous)
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "PASSAGE_TOKENS": str(PASSAGE_TOKENS),
    }
    points = ["embedding", "faiss", "switch", "after-delay"]
    runs = {}
    for point in points:  # all at once: each works on its own copy of the index
        shutil.copytree(built / "index", tmp_path / point)
        runs[point] = subprocess.Popen(
            [
                sys.executable,
                "-c",
                KILLED_INDEXER,
                point,
                str(corpus),
                str(tmp_path / point),
                str(reader_tokenizer_dir()),
            ],
            env=environment,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=(tmp_path / f"{point}.log").open("w"),
            text=True,
        )
    assert runs["after-delay"].stdout.readline() == "syncing\n"
    try:
        runs["after-delay"].wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        runs["after-delay"].kill()  # SIGKILL, wherever the indexer is
    for point, run in runs.items():
        run.wait(timeout=900)
        log = (tmp_path / f"{point}.log").read_text()[-2000:]
        assert run.returncode == -9 or (point == "after-delay" and run.returncode == 0), f"{point}: {log}"

    for point in points:
        index_dir = tmp_path / point
        index = OpenIndex.load(index_dir, minilm().identity())
        if index.version == previous.version:
            assert retrieval_snapshot(index) == expected, point
        else:  # the delayed kill came after the switch: the new version must then be complete
            assert point == "after-delay" and index.passage_count > previous.passage_count

    for point in ("faiss", "switch"):  # a stale temporary folder; an orphan version never made live
        index_dir = tmp_path / point
        leftovers = {p.name for p in (index_dir / VERSIONS).iterdir()} - {previous.version}
        assert leftovers, point
        report = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=minilm())
        assert (report.added, report.unchanged) == (300, len(ARTICLES))
        assert report.embedded == report.passages - previous.passage_count  # old articles still reused
        assert {p.name for p in (index_dir / VERSIONS).iterdir()} == {previous.version, report.version}
        found = HybridRetriever(OpenIndex.load(index_dir), minilm(), index_settings()).retrieve(
            "Who is the pilot of Velmora217 harbour?", 1, mode="bm25"
        )
        assert "captain Arno217" in found[0].passage.text


def test_a_build_streamed_in_small_blocks_scores_bm25_and_stores_vectors_as_if_built_whole(tmp_path: Path) -> None:
    import bm25s

    import qa_bot.index as index_module

    blocks = BlockSizes(rows=3)  # every block boundary crossed many times
    corpus = write_corpus(tmp_path / "corpus", {**ARTICLES, **generated_articles(12)})
    sync_index(corpus, tmp_path / "index", index_settings(), progress=False, embedder=minilm(), blocks=blocks)

    index = OpenIndex.load(tmp_path / "index")
    texts = [p.text for p in index.passages(list(range(index.passage_count)))]
    assert len(texts) > 3 * 5
    whole = bm25s.BM25()
    whole.index(index_module.bm25_tokens(texts), show_progress=False)
    for question in [*QUESTIONS, "Which harbour received 10 cargo ships?", "the"]:
        tokens = index_module.bm25_tokens([question])[0]
        streamed_ids, whole_ids = index.bm25.get_tokens_ids(tokens), whole.get_tokens_ids(tokens)
        assert len(streamed_ids) == len(whole_ids)
        if whole_ids:
            np.testing.assert_array_equal(
                index.bm25.get_scores_from_ids(streamed_ids), whole.get_scores_from_ids(whole_ids)
            )
    stored = np.load(live_version_dir(tmp_path / "index") / "vectors.npy")
    np.testing.assert_allclose(stored, minilm().encode(texts), atol=1e-5)


def test_an_article_changed_while_it_is_indexed_stops_the_sync_and_the_live_version_keeps_serving(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoTokenizer

    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(built / "corpus", corpus)
    shutil.copytree(built / "index", index_dir)
    (corpus / "ferry.txt").write_text("The Island Ferry\n\nThe ferry to Velmora leaves every hour.\n")
    expected = retrieval_snapshot(OpenIndex.load(index_dir))
    load_tokenizer = AutoTokenizer.from_pretrained

    def edit_after_the_scan(*args: object, **kwargs: object) -> object:  # the texts are read again while splitting
        (corpus / "ferry.txt").write_text("The Island Ferry\n\nThe ferry to Velmora now leaves twice an hour.\n")
        return load_tokenizer(*args, **kwargs)

    monkeypatch.setattr(AutoTokenizer, "from_pretrained", edit_after_the_scan)
    with pytest.raises(QABotError, match=r"^ferry.txt changed while it was being indexed; run the indexing again$"):
        sync_index(corpus, index_dir, index_settings(), progress=False, embedder=minilm())
    assert [p.name for p in (index_dir / VERSIONS).iterdir() if p.name.endswith(".partial")] == []
    assert retrieval_snapshot(OpenIndex.load(index_dir)) == expected
