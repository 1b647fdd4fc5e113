"""The server's bot closes an index version once no question uses it, so uploads do not leak descriptors."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from qa_bot.index import sync_index
from qa_bot.pipeline import QABot
from qa_bot.settings import Settings
from tests.test_index import ARTICLES, minilm, write_corpus

UPLOADS = 6


def open_files_under(folder: Path) -> list[str]:
    """Targets of this process's descriptors inside ``folder``; deleted files end in ' (deleted)'."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed while listing
            continue
        if target.startswith(str(folder.resolve())):
            targets.append(target)
    return targets


def live_version(bot: QABot) -> str:
    return bot.index.version


@pytest.fixture
def bot(tmp_path: Path, tiny_reader_dir: Path) -> QABot:
    settings = Settings(reader=str(tiny_reader_dir), passage_tokens=60)
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    sync_index(corpus, tmp_path / "index", settings, progress=False, embedder=minilm())
    bot = QABot.from_index(tmp_path / "index", settings)
    yield bot
    bot.index.close()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count descriptors")
def test_uploads_close_old_versions_once_questions_finish(bot: QABot, tmp_path: Path) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    for upload in range(UPLOADS):
        (corpus / f"upload-{upload}.txt").write_text(
            f"Upload {upload}\n\nThe ferry number {upload} leaves the harbour at {upload + 6} o'clock.\n",
            encoding="utf-8",
        )
        bot.index_corpus(corpus)
        assert bot.ask("When does the ferry leave the harbour?").retrieved  # read from the new version
    open_now = open_files_under(index_dir)
    assert [t for t in open_now if t.endswith(" (deleted)")] == []
    assert all(f"/{live_version(bot)}/" in target for target in open_now), open_now


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count descriptors")
def test_a_question_in_flight_keeps_its_version_open_until_it_finishes(bot: QABot, tmp_path: Path) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    borrowed = threading.Event()
    finish = threading.Event()
    seen: list[str] = []

    def slow_question() -> None:
        with bot.borrow_index() as index:
            borrowed.set()
            finish.wait(60)
            seen.append(index.article_text(index.list_articles()[0]["article_id"])[:10])  # still readable

    asker = threading.Thread(target=slow_question)
    asker.start()
    borrowed.wait(60)
    first = live_version(bot)
    for upload in range(3):  # the first version is deleted from disk by the later syncs
        (corpus / f"upload-{upload}.txt").write_text(f"Upload {upload}\n\nText {upload}.\n", encoding="utf-8")
        bot.index_corpus(corpus)
    assert any(f"/{first}/" in target for target in open_files_under(index_dir))
    finish.set()
    asker.join(60)
    assert seen and seen[0]
    assert not any(f"/{first}/" in target for target in open_files_under(index_dir))
    assert [t for t in open_files_under(index_dir) if t.endswith(" (deleted)")] == []
