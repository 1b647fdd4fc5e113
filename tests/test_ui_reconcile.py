"""The UI brings corpus folder and index back in line after a failed or interrupted sync: the next upload,
removal or "Sync now" reconciles them, and the Articles tab says what is in the folder but not yet indexed."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from qa_bot import corpus_files
from qa_bot.feedback import FeedbackStore
from qa_bot.index import LOCK, sync_index
from qa_bot.pipeline import QABot
from qa_bot.settings import Settings
from qa_bot.ui import _Handlers
from tests.test_index import ARTICLES, PASSAGE_TOKENS, write_corpus
from tests.test_large_index import HashEmbedder

TIDES = "Tides\n\nHigh tide at the harbour of Port Zarin is at noon on Sundays.\n"


@pytest.fixture
def settings(tiny_reader_dir: Path) -> Settings:
    return Settings(reader=str(tiny_reader_dir), passage_tokens=PASSAGE_TOKENS)


@pytest.fixture
def site(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    monkeypatch.setattr("qa_bot.pipeline.Embedder.from_settings", lambda _settings: HashEmbedder())
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    sync_index(corpus, tmp_path / "index", settings, progress=False, embedder=HashEmbedder())
    yield corpus, tmp_path / "index"


@contextmanager
def serving(site: tuple[Path, Path], settings: Settings) -> Iterator[_Handlers]:
    corpus, index_dir = site
    bot = QABot.from_index(index_dir, settings)
    try:
        yield _Handlers(bot, corpus, FeedbackStore(index_dir.parent / "feedback.sqlite"), settings)
    finally:
        bot.index.close()


@contextmanager
def index_lock_held_by_another_indexer(index_dir: Path) -> Iterator[None]:
    with (index_dir / LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def browser_upload(tmp_path: Path, name: str, text: str) -> str:
    folder = tmp_path / "gradio-upload" / str(len(list(tmp_path.glob("gradio-upload/*"))))
    folder.mkdir(parents=True)
    (folder / name).write_text(text, encoding="utf-8")
    return str(folder / name)


def upload_whose_sync_fails(handlers: _Handlers, tmp_path: Path, index_dir: Path) -> str:
    """Tides.txt uploaded while another indexer holds the lock: saved, but its sync fails; returns the status."""
    with index_lock_held_by_another_indexer(index_dir):
        status, *_ = handlers.add_articles([browser_upload(tmp_path, "Tides.txt", TIDES)], False, "")
    return status


def drift_shown(outputs: tuple) -> str:
    """The Articles tab's note on where folder and index disagree, from an event's outputs (it ends with the
    refreshed components: ..., that note, the version shown)."""
    return outputs[-2]


def indexed_paths(handlers: _Handlers) -> list[str]:
    return sorted(row.path for row in handlers.rows())


def test_an_upload_whose_sync_failed_is_indexed_by_uploading_it_again(
    tmp_path: Path, site: tuple[Path, Path], settings: Settings
) -> None:
    corpus, index_dir = site
    with serving(site, settings) as handlers:
        status = upload_whose_sync_fails(handlers, tmp_path, index_dir)
        assert "Saved Tides.txt" in status and "another `qa-bot index` is already updating" in status
        assert (corpus / "Tides.txt").exists() and "Tides.txt" not in indexed_paths(handlers)

        status, *_ = handlers.add_articles([browser_upload(tmp_path, "Tides.txt", TIDES)], False, "")
        assert "already in the corpus" in status and "Index updated: 1 added" in status
        assert "Tides.txt" in indexed_paths(handlers)
        tides = {row.article_id for row in handlers.rows() if row.path == "Tides.txt"}
        assert handlers.bot.ask("When is high tide at Port Zarin?").retrieved[0].passage.article_id in tides


def test_sync_now_indexes_what_a_failed_sync_left_out(
    tmp_path: Path, site: tuple[Path, Path], settings: Settings
) -> None:
    _, index_dir = site
    with serving(site, settings) as handlers:
        upload_whose_sync_fails(handlers, tmp_path, index_dir)
        status, *_ = handlers.sync_now("")
        assert "Index updated: 1 added" in status
        assert "Tides.txt" in indexed_paths(handlers)


def test_a_removal_cut_short_before_its_sync_is_completed_by_removing_it_again(
    site: tuple[Path, Path], settings: Settings
) -> None:
    corpus, _ = site
    with serving(site, settings) as handlers:
        row = next(row for row in handlers.rows() if row.path == "bridge.txt")
    # kill -9 after the file went to the trash and before the index followed; then the server is restarted
    trashed = corpus_files.move_to_trash(corpus, "bridge.txt")
    with serving(site, settings) as handlers:
        assert "bridge.txt" in indexed_paths(handlers)
        status, *_ = handlers.remove(row.article_id, "")
        assert "had already left the folder" in status and "1 removed" in status
        assert "bridge.txt" not in indexed_paths(handlers)
        assert trashed.exists()  # still in the trash, where it can be restored from


def test_the_articles_tab_says_what_the_folder_and_the_index_disagree_on(
    tmp_path: Path, site: tuple[Path, Path], settings: Settings
) -> None:
    corpus, index_dir = site
    with serving(site, settings) as handlers:
        assert drift_shown(handlers.refresh("")) == ""
        upload_whose_sync_fails(handlers, tmp_path, index_dir)
        corpus_files.move_to_trash(corpus, "bridge.txt")  # a removal whose sync never ran
        (corpus / "bakery.txt").write_text("A Bakery in Lyon\n\nIt now opens at five.\n", encoding="utf-8")
        (corpus / "copy of observatory.txt").write_text(ARTICLES["observatory.txt"], encoding="utf-8")

        drift = drift_shown(handlers.refresh(""))
        assert "In the folder but not yet indexed: Tides.txt, bakery.txt." in drift  # the copy is no new article
        assert "Still indexed although their file has left the folder: bridge.txt." in drift
        assert "Sync now" in drift
        assert drift_shown(handlers.sync_now("")) == ""


def test_the_page_has_a_sync_now_button_and_follows_the_index(site: tuple[Path, Path], settings: Settings) -> None:
    from qa_bot.ui import build_app

    with serving(site, settings) as handlers:
        app = build_app(handlers.bot, handlers.corpus_dir, handlers.feedback, settings)
        ids = {getattr(block, "elem_id", None) for block in app.blocks.values()}
        assert {"qa-sync", "qa-drift"} <= ids
        assert any(type(block).__name__ == "Timer" for block in app.blocks.values())
        row = handlers.rows()[0]
        assert handlers.follow_index(handlers.bot.index.version, "", None) == {"__type__": "update"}  # no-op
        *refreshed, version = handlers.follow_index("an older version", "", row.article_id)
        assert version == handlers.bot.index.version and len(refreshed) == 5
        assert refreshed[2].value == row.article_id  # the article the user picked stays picked
