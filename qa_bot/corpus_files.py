"""Changing the corpus folder from the UI without ever destroying an article.

- An upload whose name is taken is saved under a free name ("Geology (2).txt") unless the
  user asked to replace; a byte-identical upload is not saved twice.
- A replaced or removed file moves to ``CORPUS/.trash/<UTC time>/<its path>``. Ingest skips
  dot-folders, so the trash is never indexed; moving a file back restores it.
- Every new file is written to a hidden temporary file first and put in place by a rename (or a
  hard link, which refuses to overwrite), so the corpus never holds a half-written article.
"""

from __future__ import annotations

import filecmp
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from qa_bot.errors import QABotError
from qa_bot.ingest import validate_upload_name

TRASH_DIR = ".trash"
_MAX_NAME_TRIES = 1000


@dataclass(frozen=True)
class SavedUpload:
    uploaded_as: str  # the name the user's file had
    name: str  # the name it has in the corpus ("" when it was already there)
    trashed: Path | None = None  # where the version it replaced went

    def describe(self) -> str:
        """One line for the user about what happened to the file."""
        if not self.name:
            return f"{self.uploaded_as} is already in the corpus with the same content; nothing to add."
        if self.trashed is not None:
            return f"Replaced {self.name}; the previous version is in {self.trashed} (move it back to restore it)."
        if self.name != self.uploaded_as:
            return (
                f"Saved {self.uploaded_as} as {self.name}: an article file named {self.uploaded_as} already exists"
                " (tick “Replace files with the same name” to replace it)."
            )
        return f"Saved {self.name}."


def _trash_folder(corpus_dir: Path) -> Path:
    """A fresh folder for this change, named by the UTC time (a suffix when two changes share a second)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    for attempt in range(_MAX_NAME_TRIES):
        folder = corpus_dir / TRASH_DIR / (stamp if attempt == 0 else f"{stamp}-{attempt + 1}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise QABotError(f"cannot create a trash folder in {corpus_dir / TRASH_DIR}; empty it and try again")


def _free_name(corpus_dir: Path, name: str, attempt: int) -> str:
    if attempt == 0:
        return name
    path = PurePosixPath(name)
    return f"{path.stem} ({attempt + 1}){path.suffix}"


def _place(partial: Path, corpus_dir: Path, name: str) -> str:
    """Link the finished file in under ``name`` or the first free "name (N)"; never overwrites."""
    for attempt in range(_MAX_NAME_TRIES):
        candidate = _free_name(corpus_dir, name, attempt)
        try:
            os.link(partial, corpus_dir / candidate)
            return candidate
        except FileExistsError:
            continue
    raise QABotError(f"cannot save {name}: {_MAX_NAME_TRIES} files with that name exist; rename it and upload again")


def _copy_to_partial(upload: Path, corpus_dir: Path, name: str, max_bytes: int) -> Path:
    """A hidden complete copy of the upload inside the corpus (ignored by ingest until renamed)."""
    size = upload.stat().st_size
    if size > max_bytes:
        raise QABotError(
            f"cannot upload '{name}': it is {size:,} bytes and the limit is {max_bytes:,} (QA_BOT_MAX_ARTICLE_BYTES)"
        )
    handle, partial = tempfile.mkstemp(dir=corpus_dir, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, upload.open("rb") as source:
            out.write(source.read(max_bytes + 1))
            if out.tell() > max_bytes:  # the file grew after the size check
                raise QABotError(f"cannot upload '{name}': it is larger than {max_bytes:,} bytes")
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return Path(partial)


def save_upload(upload: Path, corpus_dir: Path, max_bytes: int, *, replace: bool = False) -> SavedUpload:
    """Copy an uploaded file into the corpus; a rejected file leaves nothing behind and no article is lost.

    With ``replace`` an existing file of that name moves to the trash and the upload takes its place;
    without it the upload gets a free name.
    """
    name = validate_upload_name(upload.name)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = corpus_dir / name
    if target.is_file() and filecmp.cmp(upload, target, shallow=False):
        return SavedUpload(name, "")
    partial = _copy_to_partial(upload, corpus_dir, name, max_bytes)
    try:
        if replace and target.exists():
            trashed = _trash_folder(corpus_dir) / name
            os.link(target, trashed)  # the old version is safe in the trash before it is replaced
            os.replace(partial, target)
            return SavedUpload(name, name, trashed)
        return SavedUpload(name, _place(partial, corpus_dir, name))
    finally:
        partial.unlink(missing_ok=True)


def article_file(corpus_dir: Path, article_path: str) -> Path:
    """The corpus file an indexed article came from ("news.jsonl#3" -> CORPUS/news.jsonl)."""
    relative = PurePosixPath(article_path.split("#", 1)[0])
    root = corpus_dir.resolve()
    path = (root / relative).resolve()
    if relative.is_absolute() or not path.is_relative_to(root) or TRASH_DIR in relative.parts:
        raise QABotError(f"'{article_path}' is not a file of the corpus {corpus_dir}")
    if not path.is_file():
        raise QABotError(f"the file of '{article_path}' is no longer in {corpus_dir}; refresh the article list")
    return path


def move_to_trash(corpus_dir: Path, article_path: str) -> Path:
    """Move the file of an indexed article to the trash; returns where it went (move it back to restore)."""
    source = article_file(corpus_dir, article_path)
    relative = source.relative_to(corpus_dir.resolve())
    trashed = _trash_folder(corpus_dir) / relative
    trashed.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, trashed)
    return trashed


def file_date(corpus_dir: Path, article_path: str) -> str | None:
    """The day (UTC) the article's file last changed, or None if it is gone."""
    try:
        stamp = article_file(corpus_dir, article_path).stat().st_mtime
    except (QABotError, OSError):
        return None
    return datetime.fromtimestamp(stamp, UTC).date().isoformat()
