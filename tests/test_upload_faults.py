"""Uploads from the UI: a refused file leaves nothing behind, a killed upload's temporary file does not linger,
long names still get a free name, saved files are readable like the rest of the corpus, and the copy the web
server kept of each upload is deleted once it is handled."""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa_bot.corpus_files import TRASH_DIR, remove_abandoned_uploads, save_upload, save_uploads
from qa_bot.errors import QABotError
from qa_bot.ingest import scan_corpus
from tests.test_index import write_corpus
from tests.test_ui_corpus_files import GEOLOGY

LIMIT = 100_000
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", {"Geology.txt": GEOLOGY})


def upload_file(tmp_path: Path, name: str, data: bytes | str) -> Path:
    folder = tmp_path / "uploads" / str(len(list(tmp_path.glob("uploads/*"))))
    folder.mkdir(parents=True)
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def corpus_listing(corpus: Path) -> list[str]:
    return sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*"))


REFUSED = {
    "binary.txt": (bytes(range(256)) * 40, "binary file"),
    "empty.txt": (b"", "empty file"),
    "blank.md": (b"  \n\n\t\n", "empty file"),
    "bomb.txt": (gzip.compress(b"A" * 5_000_000), "binary file"),  # 5 MB of text, compressed, named .txt
    "records.jsonl": (b'{"title": "no text"}\n[1, 2]\n', "no usable records"),
    "page.html": (b"<html><script>x()</script></html>", "no text in the HTML page"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_file_that_would_never_be_indexed_is_refused_and_leaves_nothing(
    tmp_path: Path, corpus: Path, name: str
) -> None:
    data, reason = REFUSED[name]
    with pytest.raises(QABotError) as refused:
        save_upload(upload_file(tmp_path, name, data), corpus, LIMIT)
    assert reason in str(refused.value) and name in str(refused.value) and "\n" not in str(refused.value)
    assert corpus_listing(corpus) == ["Geology.txt"]


def test_a_file_with_some_bad_records_is_saved_for_its_good_ones(tmp_path: Path, corpus: Path) -> None:
    feed = '{"title": "A", "text": "Alpha harbour text."}\nnot json\n'
    assert save_upload(upload_file(tmp_path, "feed.jsonl", feed), corpus, LIMIT).name == "feed.jsonl"
    assert sorted(a.title for a in scan_corpus(corpus, LIMIT).articles) == ["A", "Geology"]


KILLED_UPLOAD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from qa_bot import corpus_files

    def killed(*args, **kwargs):  # the server is killed once the copy is written, before it is put in place
        os.kill(os.getpid(), signal.SIGKILL)

    corpus_files.os.link = killed
    corpus_files.os.replace = killed
    corpus_files.save_upload(Path(sys.argv[1]), Path(sys.argv[2]), 100_000)
    """
)


def test_the_temporary_file_of_a_killed_upload_is_removed_by_the_next_upload(tmp_path: Path, corpus: Path) -> None:
    upload = upload_file(tmp_path, "Harbour.txt", "Harbour\n\nThe ferry leaves at six.\n")
    child = subprocess.run([sys.executable, "-c", KILLED_UPLOAD, str(upload), str(corpus)], cwd=REPO, check=False)
    assert child.returncode == -9
    [left] = [name for name in corpus_listing(corpus) if name != "Geology.txt"]
    assert left.startswith(".upload-") and left.endswith(".part")

    saved = save_upload(upload_file(tmp_path, "Tides.txt", "Tides\n\nHigh tide is at noon.\n"), corpus, LIMIT)
    assert corpus_listing(corpus) == ["Geology.txt", saved.name]


def test_an_upload_in_progress_keeps_its_temporary_file(corpus: Path) -> None:
    from qa_bot.corpus_files import _Partial

    in_progress = _Partial.create(corpus)  # another upload, still copying
    try:
        assert remove_abandoned_uploads(corpus) == []
        assert in_progress.path.exists()
    finally:
        in_progress.remove()
    assert corpus_listing(corpus) == ["Geology.txt"]


@pytest.mark.parametrize("letter", ["a", "é"])  # one byte and two bytes a character in UTF-8
def test_a_second_upload_of_a_longest_possible_name_is_saved_as_a_numbered_copy(
    tmp_path: Path, corpus: Path, letter: str
) -> None:
    name = letter * ((255 - 4) // len(letter.encode("utf-8"))) + ".txt"
    assert len(name.encode("utf-8")) >= 254
    first = save_upload(upload_file(tmp_path, name, "Rocks\n\nshort"), corpus, LIMIT)
    second = save_upload(upload_file(tmp_path, name, "Rocks\n\nother"), corpus, LIMIT)
    third = save_upload(upload_file(tmp_path, name, "Rocks\n\nthird"), corpus, LIMIT)

    assert first.name == name
    assert second.name.endswith(" (2).txt") and third.name.endswith(" (3).txt")
    assert all(len(saved.name.encode("utf-8")) <= 255 for saved in (second, third))
    assert (corpus / second.name).read_text() == "Rocks\n\nother" and (corpus / third.name).read_text() == (
        "Rocks\n\nthird"
    )


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_an_uploaded_file_gets_the_permissions_of_any_other_file(tmp_path: Path, corpus: Path, usual_umask) -> None:
    saved = save_upload(upload_file(tmp_path, "Tides.txt", "Tides\n\nHigh tide is at noon.\n"), corpus, LIMIT)
    replaced = save_upload(upload_file(tmp_path, "Geology.txt", "Rocks\n\nnew"), corpus, LIMIT, replace=True)
    for name in (saved.name, replaced.name):
        assert stat.S_IMODE((corpus / name).stat().st_mode) == 0o644


def test_the_same_bytes_under_another_name_are_not_saved_twice(tmp_path: Path, corpus: Path) -> None:
    saved = save_upload(upload_file(tmp_path, "Geology copy.txt", GEOLOGY), corpus, LIMIT)
    assert saved.name == ""
    assert saved.describe() == (
        "Geology copy.txt is already in the corpus as Geology.txt with the same content; nothing to add."
    )
    assert corpus_listing(corpus) == ["Geology.txt"]


def test_the_web_servers_copies_of_the_uploads_are_deleted_once_handled(tmp_path: Path, corpus: Path) -> None:
    uploads = [
        upload_file(tmp_path, "Tides.txt", "Tides\n\nHigh tide is at noon.\n"),  # saved
        upload_file(tmp_path, "Geology.txt", GEOLOGY),  # already there
        upload_file(tmp_path, "binary.txt", bytes(range(256))),  # refused
    ]
    batch = save_uploads(uploads, corpus, LIMIT)
    assert batch.changed and len(batch.notes) == 2 and len(batch.problems) == 1
    assert [upload.exists() for upload in uploads] == [False, False, False]
    assert corpus_listing(corpus) == ["Geology.txt", "Tides.txt"]


def test_a_symlink_into_the_trash_is_not_indexed(corpus: Path) -> None:
    old = corpus / TRASH_DIR / "2026-11-27T23-30-00Z" / "Old.txt"
    old.parent.mkdir(parents=True)
    old.write_text("Old\n\nThe lighthouse was painted red.\n", encoding="utf-8")
    (corpus / "link.txt").symlink_to(old)
    (corpus / "hidden-link.txt").symlink_to(corpus / TRASH_DIR)

    scan = scan_corpus(corpus, LIMIT)
    assert [a.path for a in scan.articles] == ["Geology.txt"]
    assert "skipped link.txt: symlink points into a hidden folder or file" in scan.problems
