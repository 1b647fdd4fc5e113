"""A running server follows the index: when another process (`qa-bot index`) switches CURRENT, questions move to
the new version within seconds, and the old version is closed once no question in flight uses it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa_bot.index import CURRENT, sync_index
from qa_bot.pipeline import QABot
from qa_bot.settings import Settings
from tests.test_index import ARTICLES, PASSAGE_TOKENS, write_corpus
from tests.test_large_index import HashEmbedder
from tests.test_ui_reload import open_files_under

FERRY = "Ferry timetable\n\nThe ferry to Port Zarin leaves the harbour at seven o'clock every morning.\n"
FOLLOW_WITHIN_S = 10.0


@pytest.fixture
def settings(tiny_reader_dir: Path) -> Settings:
    return Settings(reader=str(tiny_reader_dir), passage_tokens=PASSAGE_TOKENS)


@pytest.fixture
def bot(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[QABot]:
    monkeypatch.setattr("qa_bot.pipeline.Embedder.from_settings", lambda _settings: HashEmbedder())
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    sync_index(corpus, tmp_path / "index", settings, progress=False, embedder=HashEmbedder())
    bot = QABot.from_index(tmp_path / "index", settings)
    yield bot
    bot.index.close()


def sync_by_another_process(tmp_path: Path, settings: Settings, name: str, text: str) -> str:
    """What `qa-bot index` run beside the server does to the index folder; returns the version it switched in."""
    (tmp_path / "corpus" / name).write_text(text, encoding="utf-8")
    return sync_index(
        tmp_path / "corpus", tmp_path / "index", settings, progress=False, embedder=HashEmbedder()
    ).version


def paths_answered_from(bot: QABot) -> set[str]:
    with bot.borrow_index() as index:
        return {article["path"] for article in index.list_articles()}


def test_a_version_switched_by_another_process_is_followed_within_seconds(
    bot: QABot, tmp_path: Path, settings: Settings
) -> None:
    stop = bot.follow_index(0.2)
    try:
        first = bot.index.version
        switched = sync_by_another_process(tmp_path, settings, "ferry.txt", FERRY)
        deadline = time.monotonic() + FOLLOW_WITHIN_S
        while bot.index.version != switched and time.monotonic() < deadline:
            time.sleep(0.1)
        assert bot.index.version == switched != first
        assert "ferry.txt" in paths_answered_from(bot)
        assert bot.ask("When does the ferry to Port Zarin leave?").retrieved
    finally:
        stop.set()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count descriptors")
def test_the_old_version_is_closed_once_the_question_in_flight_using_it_is_done(
    bot: QABot, tmp_path: Path, settings: Settings
) -> None:
    first = bot.index.version
    borrowed, finish = threading.Event(), threading.Event()
    seen: list[str] = []

    def slow_question() -> None:
        with bot.borrow_index() as index:
            borrowed.set()
            finish.wait(60)
            seen.append(index.version)

    asker = threading.Thread(target=slow_question)
    asker.start()
    borrowed.wait(60)
    for number in range(3):  # the CLI removes the first version from disk after the second sync
        sync_by_another_process(tmp_path, settings, f"ferry-{number}.txt", FERRY.replace("seven", str(number + 7)))
        assert bot.follow_current()
    assert any(f"/{first}/" in target for target in open_files_under(tmp_path / "index"))  # still in use
    finish.set()
    asker.join(60)
    assert seen == [first]
    assert not any(f"/{first}/" in target for target in open_files_under(tmp_path / "index"))
    assert [t for t in open_files_under(tmp_path / "index") if t.endswith(" (deleted)")] == []
    assert {"ferry-0.txt", "ferry-1.txt", "ferry-2.txt"} <= paths_answered_from(bot)


def test_a_damaged_switch_keeps_the_live_version_answering_and_is_logged_once(
    bot: QABot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live = bot.index.version
    (tmp_path / "index" / CURRENT).write_text("not a version!\n")
    with caplog.at_level(logging.WARNING, logger="qa_bot.pipeline"):
        assert not bot.follow_current() and not bot.follow_current()
    assert bot.index.version == live and bot.ask("When did the bridge close?").retrieved
    [notice] = [r.getMessage() for r in caplog.records if r.name == "qa_bot.pipeline"]
    assert f"still answering from index version {live}" in notice and "--rebuild" in notice
