"""Index faults found by a hostile probe: a copy never displaces the original, a CURRENT that is not a file is
repairable by --rebuild without leftovers, a full disk while BM25 is saved says so, a dimension mismatch is told
plainly, and a sync removes what killed uploads left in the corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qa_bot.errors import IndexUnusable, QABotError
from qa_bot.index import CURRENT, MANIFEST, VERSIONS, OpenIndex, sync_index
from qa_bot.index import bm25 as bm25_module
from qa_bot.index import version as version_module
from tests.test_index import ARTICLES, index_settings, write_corpus
from tests.test_large_index import HashEmbedder, harbour_articles


def sync(corpus: Path, index_dir: Path, **options: object):
    return sync_index(corpus, index_dir, index_settings(), progress=False, embedder=HashEmbedder(), **options)


def load(index_dir: Path) -> OpenIndex:
    return OpenIndex.load(index_dir, HashEmbedder().identity())


def indexed_paths(index_dir: Path) -> list[str]:
    index = load(index_dir)
    try:
        return [article["path"] for article in index.list_articles()]
    finally:
        index.close()


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    sync(corpus, tmp_path / "index")
    return corpus, tmp_path / "index"


def test_a_copy_under_a_new_name_leaves_the_original_in_the_index(site: tuple[Path, Path]) -> None:
    corpus, index_dir = site
    before = indexed_paths(index_dir)
    (corpus / "a copy of the bridge.txt").write_text(ARTICLES["bridge.txt"], encoding="utf-8")  # sorts first

    report = sync(corpus, index_dir)
    assert (report.added, report.removed, report.updated) == (0, 0, 0)
    assert "skipped a copy of the bridge.txt: same text as bridge.txt" in report.problems
    assert indexed_paths(index_dir) == before

    (corpus / "bridge.txt").unlink()  # the original gone: the copy is indexed in its place
    report = sync(corpus, index_dir)
    assert (report.added, report.removed) == (1, 1) and "a copy of the bridge.txt" in indexed_paths(index_dir)


def test_a_first_sync_keeps_the_first_of_two_identical_files(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"b.txt": ARTICLES["bridge.txt"], "a.txt": ARTICLES["bridge.txt"]})
    report = sync(corpus, tmp_path / "index")
    assert report.problems == ["skipped b.txt: same text as a.txt"] and indexed_paths(tmp_path / "index") == ["a.txt"]


def index_leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith(CURRENT + ".tmp"))


def test_a_current_that_is_a_folder_is_repaired_by_rebuild_without_leftovers(site: tuple[Path, Path]) -> None:
    corpus, index_dir = site
    (index_dir / CURRENT).unlink()
    (index_dir / CURRENT).mkdir()
    (index_dir / CURRENT / "stray.txt").write_text("x")
    with pytest.raises(IndexUnusable, match="--rebuild"):
        load(index_dir)

    report = sync(corpus, index_dir, rebuild=True)
    assert sorted(indexed_paths(index_dir)) == sorted(ARTICLES)
    assert [p.name for p in (index_dir / VERSIONS).iterdir()] == [report.version]  # no orphan version
    assert index_leftovers(index_dir) == []
    [aside] = [p for p in index_dir.iterdir() if p.name.startswith(CURRENT + ".damaged-")]
    assert (aside / "stray.txt").read_text() == "x"  # moved aside, not deleted


def test_a_switch_that_fails_leaves_no_orphan_version_nor_temporary_pointer(
    site: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, index_dir = site
    live = load(index_dir).version
    (corpus / "new.txt").write_text("New\n\nThe ferry now leaves at seven.\n", encoding="utf-8")

    def refused(*_args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(version_module.os, "replace", refused)
    with pytest.raises(QABotError, match=r"\(Permission denied\); the previous version stays in use"):
        sync(corpus, index_dir)
    assert [p.name for p in (index_dir / VERSIONS).iterdir()] == [live]
    assert index_leftovers(index_dir) == []


def test_a_full_disk_while_bm25_is_saved_says_no_space_left(
    tmp_path: Path, small_disk, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, disk = write_corpus(tmp_path / "corpus", harbour_articles(20)), small_disk(8000)
    index_dir = disk / "index"
    before = sync(corpus, index_dir).version
    write_corpus(corpus, harbour_articles(200, first=20))
    real_save = bm25_module._InPlaceBM25.save

    def save_onto_a_full_disk(self, save_dir: str, **options: object) -> None:
        with (disk / "filler").open("wb") as filler:  # the disk fills up just as BM25 is written
            os.posix_fallocate(filler.fileno(), 0, os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize - 4096)
        real_save(self, save_dir, **options)

    monkeypatch.setattr(bm25_module._InPlaceBM25, "save", save_onto_a_full_disk)
    with pytest.raises(QABotError) as raised:
        sync(corpus, index_dir)
    assert str(raised.value) == (
        f"cannot update the index at {index_dir} (No space left on device); the previous version stays in use"
    )
    assert [p.name for p in (index_dir / VERSIONS).iterdir()] == [before]


def test_a_vector_dimension_other_than_the_manifests_is_named_plainly(site: tuple[Path, Path]) -> None:
    _, index_dir = site
    version_dir = index_dir / VERSIONS / (index_dir / CURRENT).read_text().strip()
    manifest = json.loads((version_dir / MANIFEST).read_text())
    manifest["dimension"] = 768
    (version_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexUnusable) as raised:
        OpenIndex.load(index_dir)
    passages = manifest["counts"]["passages"]
    assert (
        f"is inconsistent (vectors.npy dimension 32, faiss.index dimension 32; manifest {passages} passages of "
        "dimension 768); run `qa-bot index" in str(raised.value)
    )


def test_a_sync_removes_what_a_killed_upload_left_in_the_corpus(site: tuple[Path, Path]) -> None:
    corpus, index_dir = site
    (corpus / ".upload-3f2a9c.part").write_text("half an article")  # its upload was killed (no lock is held)
    sync(corpus, index_dir)
    assert not (corpus / ".upload-3f2a9c.part").exists()
