"""Uploads and removals from the UI never destroy an article: clashing names get a free name, replaced and
removed files go to the corpus trash (which ingest ignores) and can be moved back."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_bot.corpus_files import TRASH_DIR, move_to_trash, restore_from_trash, save_upload
from qa_bot.errors import QABotError
from qa_bot.ingest import scan_corpus

GEOLOGY = "Geology\n\nThe basalt columns of the coast formed as lava cooled slowly, about 60 million years ago.\n"
LIMIT = 10_000


def upload_file(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "uploads" / str(len(list(tmp_path.glob("uploads/*"))))
    folder.mkdir(parents=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "Geology.txt").write_text(GEOLOGY, encoding="utf-8")
    return folder


def visible_files(corpus: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in corpus.iterdir() if not p.name.startswith(".")}


def trashed_files(corpus: Path) -> dict[str, str]:
    return {p.relative_to(corpus / TRASH_DIR).as_posix(): p.read_text() for p in (corpus / TRASH_DIR).rglob("*.*")}


def test_upload_under_a_taken_name_keeps_the_existing_article(tmp_path: Path, corpus: Path) -> None:
    first = save_upload(upload_file(tmp_path, "Geology.txt", "Rocks\n\nshort"), corpus, LIMIT)
    second = save_upload(upload_file(tmp_path, "Geology.txt", "Rocks\n\nother"), corpus, LIMIT)

    assert (first.name, second.name) == ("Geology (2).txt", "Geology (3).txt")
    assert visible_files(corpus) == {
        "Geology.txt": GEOLOGY,
        "Geology (2).txt": "Rocks\n\nshort",
        "Geology (3).txt": "Rocks\n\nother",
    }
    assert "already exists" in first.describe() and "Geology (2).txt" in first.describe()
    assert not list(corpus.glob(".upload-*"))


def test_replace_moves_the_old_version_to_the_trash_where_it_can_be_restored(tmp_path: Path, corpus: Path) -> None:
    saved = save_upload(upload_file(tmp_path, "Geology.txt", "Rocks\n\nshort"), corpus, LIMIT, replace=True)

    assert saved.name == "Geology.txt"
    assert visible_files(corpus) == {"Geology.txt": "Rocks\n\nshort"}
    assert saved.trashed is not None and saved.trashed.read_text() == GEOLOGY
    assert saved.trashed.parent.parent == corpus / TRASH_DIR
    assert str(saved.trashed) in saved.describe()
    # The trash is never indexed; moving the file back restores the article.
    assert [a.title for a in scan_corpus(corpus, LIMIT).articles] == ["Rocks"]
    saved.trashed.replace(corpus / "Geology (old).txt")
    assert sorted(a.title for a in scan_corpus(corpus, LIMIT).articles) == ["Geology", "Rocks"]


def test_the_same_file_uploaded_again_is_not_copied(tmp_path: Path, corpus: Path) -> None:
    saved = save_upload(upload_file(tmp_path, "Geology.txt", GEOLOGY), corpus, LIMIT)
    assert saved.name == ""
    assert "already in the corpus" in saved.describe()
    assert visible_files(corpus) == {"Geology.txt": GEOLOGY}


def test_removed_article_goes_to_the_trash_with_its_folder(corpus: Path) -> None:
    (corpus / "news").mkdir()
    (corpus / "news" / "feed.jsonl").write_text('{"title": "A", "text": "Alpha text."}\n', encoding="utf-8")

    trashed = move_to_trash(corpus, "news/feed.jsonl#0")
    assert trashed.read_text() == '{"title": "A", "text": "Alpha text."}\n'
    assert trashed.relative_to(corpus / TRASH_DIR).parts[1:] == ("news", "feed.jsonl")
    assert not (corpus / "news" / "feed.jsonl").exists()
    assert [a.title for a in scan_corpus(corpus, LIMIT).articles] == ["Geology"]

    again = move_to_trash(corpus, "Geology.txt")  # a second removal in the same second gets its own folder
    assert again.parent != trashed.parents[1] and again.read_text() == GEOLOGY
    assert len(trashed_files(corpus)) == 2


def test_a_removal_is_undone_from_the_trash_with_the_file_unchanged(corpus: Path) -> None:
    (corpus / "news").mkdir()
    (corpus / "news" / "feed.jsonl").write_text('{"title": "A", "text": "Alpha text."}\n', encoding="utf-8")
    changed = (corpus / "news" / "feed.jsonl").stat().st_mtime
    trashed = move_to_trash(corpus, "news/feed.jsonl#0")
    assert restore_from_trash(corpus, trashed) == "news/feed.jsonl"
    restored = corpus / "news" / "feed.jsonl"
    assert restored.read_text() == '{"title": "A", "text": "Alpha text."}\n' and restored.stat().st_mtime == changed
    assert not trashed.exists() and len(scan_corpus(corpus, LIMIT).articles) == 2


def test_undo_never_overwrites_a_file_that_took_the_place_nor_reaches_outside_the_trash(
    tmp_path: Path, corpus: Path
) -> None:
    trashed = move_to_trash(corpus, "Geology.txt")
    (corpus / "Geology.txt").write_text("a newer upload", encoding="utf-8")
    with pytest.raises(QABotError, match="another file of that name"):
        restore_from_trash(corpus, trashed)
    assert (corpus / "Geology.txt").read_text() == "a newer upload" and trashed.read_text() == GEOLOGY
    (tmp_path / "outside.txt").write_text("outside", encoding="utf-8")
    for elsewhere in (tmp_path / "outside.txt", corpus / "Geology.txt", trashed.parent / "missing.txt"):
        with pytest.raises(QABotError, match="no longer in the corpus trash"):
            restore_from_trash(corpus, elsewhere)
    assert (tmp_path / "outside.txt").exists()


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", f"{TRASH_DIR}/x/Geology.txt", "missing.txt"])
def test_removal_refuses_paths_outside_the_corpus_or_gone(tmp_path: Path, corpus: Path, path: str) -> None:
    (tmp_path / "outside.txt").write_text("outside", encoding="utf-8")
    with pytest.raises(QABotError):
        move_to_trash(corpus, path)
    assert (tmp_path / "outside.txt").exists() and (corpus / "Geology.txt").exists()


def test_upload_is_saved_under_its_name(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    saved = save_upload(upload_file(tmp_path, "story.md", "# Story\n\nText."), corpus, max_bytes=1000)
    assert saved.name == "story.md" and saved.describe() == "Saved story.md."
    assert visible_files(corpus) == {"story.md": "# Story\n\nText."}
    assert [p.name for p in corpus.iterdir()] == ["story.md"]


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [
        ("big.txt", 1001, "the limit is 1,000"),
        ("program.exe", 10, "only .txt"),
        (".hidden.txt", 10, "hidden file"),
    ],
)
def test_rejected_upload_leaves_nothing_behind(tmp_path: Path, name: str, size: int, message: str) -> None:
    upload = tmp_path / "uploads" / name
    upload.parent.mkdir()
    upload.write_bytes(b"x" * size)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with pytest.raises(QABotError, match=message):
        save_upload(upload, corpus, max_bytes=1000)
    assert list(corpus.iterdir()) == []


def test_upload_size_limit_comes_from_the_settings(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa_bot.settings import Settings
    from qa_bot.ui import launch_options

    monkeypatch.setenv("QA_BOT_MAX_ARTICLE_BYTES", "100")
    settings = Settings()
    assert launch_options(settings)["max_file_size"] == 100  # Gradio refuses bigger uploads in the browser
    small, large = tmp_path / "Small.txt", tmp_path / "Large.txt"
    small.write_text("Small\n\n" + "word " * 10, encoding="utf-8")
    large.write_text("Large\n\n" + "word " * 40, encoding="utf-8")
    assert save_upload(small, corpus, settings.max_article_bytes).name == "Small.txt"
    with pytest.raises(QABotError, match="QA_BOT_MAX_ARTICLE_BYTES"):
        save_upload(large, corpus, settings.max_article_bytes)
    assert not (corpus / "Large.txt").exists()
