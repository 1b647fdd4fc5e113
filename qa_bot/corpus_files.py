"""Changing the corpus folder from the UI without ever destroying an article.

- An upload whose name is taken is saved under a free name ("Geology (2).txt") unless the
  user asked to replace; a byte-identical upload is not saved twice.
- A replaced or removed file moves to ``CORPUS/.trash/<UTC time>/<its path>``. Ingest skips
  dot-folders, so the trash is never indexed; moving a file back restores it.
- Every new file is written to a hidden temporary file first and put in place by a rename (or a
  hard link, which refuses to overwrite), so the corpus never holds a half-written article. A file
  that ingest would skip (binary, empty, no usable record) is refused before it is put in place, and
  a temporary file left by a killed upload is removed by the next upload or sync.
"""

from __future__ import annotations

import fcntl
import filecmp
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from qa_bot.errors import QABotError
from qa_bot.ingest import IngestError, article_files, parse_data, scan_corpus, validate_upload_name

TRASH_DIR = ".trash"
PARTIAL_PREFIX, PARTIAL_SUFFIX = ".upload-", ".part"
_MAX_NAME_TRIES = 1000
_MAX_NAME_BYTES = 255  # the longest file name common file systems accept


@dataclass(frozen=True)
class SavedUpload:
    uploaded_as: str  # the name the user's file had
    name: str  # the name it has in the corpus ("" when it was already there)
    trashed: Path | None = None  # where the version it replaced went
    same_as: str = ""  # when it was already there: the corpus file with the same bytes

    def describe(self) -> str:
        """One line for the user about what happened to the file."""
        if not self.name:
            where = "" if self.same_as in ("", self.uploaded_as) else f" as {self.same_as}"
            return f"{self.uploaded_as} is already in the corpus{where} with the same content; nothing to add."
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


def _free_name(name: str, attempt: int) -> str:
    """``name``, or for later attempts "stem (N).suffix" with the stem cut so the name still fits the file system."""
    if attempt == 0:
        return name
    path = PurePosixPath(name)
    tail = f" ({attempt + 1}){path.suffix}"
    room = _MAX_NAME_BYTES - len(tail.encode("utf-8"))
    stem = path.stem.encode("utf-8")[:room].decode("utf-8", errors="ignore")  # never half a character
    return stem + tail


def _place(partial: Path, corpus_dir: Path, name: str) -> str:
    """Link the finished file in under ``name`` or the first free "name (N)"; never overwrites."""
    for attempt in range(_MAX_NAME_TRIES):
        candidate = _free_name(name, attempt)
        try:
            os.link(partial, corpus_dir / candidate)
            return candidate
        except FileExistsError:
            continue
    raise QABotError(f"cannot save {name}: {_MAX_NAME_TRIES} files with that name exist; rename it and upload again")


def _read_upload(upload: Path, name: str, max_bytes: int) -> bytes:
    """The upload's bytes, refused (one line) when too large or when ingest would skip the file."""
    size = upload.stat().st_size
    if size > max_bytes:
        raise QABotError(
            f"cannot upload '{name}': it is {size:,} bytes and the limit is {max_bytes:,} (QA_BOT_MAX_ARTICLE_BYTES)"
        )
    with upload.open("rb") as source:
        data = source.read(max_bytes + 1)
    if len(data) > max_bytes:  # the file grew after the size check
        raise QABotError(f"cannot upload '{name}': it is larger than {max_bytes:,} bytes")
    try:
        parse_data(data, name)
    except IngestError as error:
        raise QABotError(f"cannot upload '{name}': {error.reason}; nothing was saved") from None
    return data


@dataclass
class _Partial:
    """A hidden file being written in the corpus, locked while it lives, so a cleaner can tell it from one that a
    killed upload left behind (the kernel drops the lock of a dead process)."""

    path: Path
    descriptor: int

    @classmethod
    def create(cls, corpus_dir: Path) -> _Partial:
        while True:
            path = corpus_dir / f"{PARTIAL_PREFIX}{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
            # mode 0o666 less the umask, as every other file the user writes into the corpus
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            if os.fstat(descriptor).st_nlink:
                return cls(path, descriptor)
            os.close(descriptor)  # a cleaner took it for abandoned between the open and the lock

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self.descriptor)


def remove_abandoned_uploads(corpus_dir: Path) -> list[Path]:
    """Delete the temporary files of uploads that were killed part-way (an upload in progress keeps its own)."""
    removed = []
    for path in Path(corpus_dir).glob(f"{PARTIAL_PREFIX}*{PARTIAL_SUFFIX}"):
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError:
            continue  # gone meanwhile, or not a plain file of ours
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path, follow_symlinks=False).st_ino == os.fstat(descriptor).st_ino:
                path.unlink()
                removed.append(path)
        except OSError:
            pass  # in use (locked), gone meanwhile, or a folder we may not change: best effort
        finally:
            os.close(descriptor)
    return removed


def _identical_file(upload: Path, corpus_dir: Path, name: str) -> str | None:
    """The corpus file (its name first) with exactly the upload's bytes, if there is one."""
    size = upload.stat().st_size
    candidates = sorted(article_files(corpus_dir.resolve(), []), key=lambda item: item[0] != name)
    for relative, path in candidates:
        try:
            if path.is_file() and path.stat().st_size == size and filecmp.cmp(upload, path, shallow=False):
                return relative
        except OSError:
            continue
    return None


def save_upload(upload: Path, corpus_dir: Path, max_bytes: int, *, replace: bool = False) -> SavedUpload:
    """Copy an uploaded file into the corpus; a rejected file leaves nothing behind and no article is lost.

    With ``replace`` an existing file of that name moves to the trash and the upload takes its place;
    without it the upload gets a free name. A file whose bytes are already in the corpus is not saved again.
    """
    name = validate_upload_name(upload.name)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    remove_abandoned_uploads(corpus_dir)
    data = _read_upload(upload, name, max_bytes)
    same = _identical_file(upload, corpus_dir, name)
    if same is not None:
        return SavedUpload(name, "", same_as=same)
    target = corpus_dir / name
    partial = _Partial.create(corpus_dir)
    try:
        with open(partial.descriptor, "wb", closefd=False) as out:
            out.write(data)
        if replace and target.exists():
            trashed = _trash_folder(corpus_dir) / name
            os.link(target, trashed)  # the old version is safe in the trash before it is replaced
            os.replace(partial.path, target)
            return SavedUpload(name, name, trashed)
        return SavedUpload(name, _place(partial.path, corpus_dir, name))
    finally:
        partial.remove()


@dataclass
class UploadBatch:
    notes: list[str] = field(default_factory=list)  # one line per file handled
    problems: list[str] = field(default_factory=list)  # one line per file refused
    changed: bool = False  # whether any file was added or replaced


def save_uploads(uploads: list[Path], corpus_dir: Path, max_bytes: int, *, replace: bool = False) -> UploadBatch:
    """`save_upload` for each file the browser sent; each one's temporary copy (the web server's) is deleted once
    it is handled, saved or refused."""
    batch = UploadBatch()
    for upload in uploads:
        try:
            saved = save_upload(upload, corpus_dir, max_bytes, replace=replace)
        except (QABotError, OSError) as error:
            batch.problems.append(str(error))
            continue
        finally:
            upload.unlink(missing_ok=True)
        batch.notes.append(saved.describe())
        batch.changed = batch.changed or bool(saved.name)
    return batch


class ArticleFileGone(QABotError):
    """The file of an indexed article is no longer in the corpus folder."""


def article_file(corpus_dir: Path, article_path: str) -> Path:
    """The corpus file an indexed article came from ("news.jsonl#3" -> CORPUS/news.jsonl)."""
    relative = PurePosixPath(article_path.split("#", 1)[0])
    root = corpus_dir.resolve()
    path = (root / relative).resolve()
    if relative.is_absolute() or not path.is_relative_to(root) or TRASH_DIR in relative.parts:
        raise QABotError(f"'{article_path}' is not a file of the corpus {corpus_dir}")
    if not path.is_file():
        raise ArticleFileGone(f"the file of '{article_path}' is no longer in {corpus_dir}; refresh the article list")
    return path


def remove_article_file(corpus_dir: Path, article_path: str) -> Path | None:
    """`move_to_trash`, or None when the file has already left the folder (say, the server was killed after moving
    it and before the index followed): the sync that follows brings the index in line either way."""
    try:
        return move_to_trash(corpus_dir, article_path)
    except (ArticleFileGone, FileNotFoundError):
        return None


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


@dataclass(frozen=True)
class Drift:
    """How the corpus folder and the index differ: a sync failed or was cut short, or the folder changed since."""

    unindexed: list[str]  # article paths in the folder that the index lacks, or holds an older version of
    gone: list[str]  # article paths the index still serves whose file (or record) has left the folder

    def __bool__(self) -> bool:
        return bool(self.unindexed or self.gone)


_COMPARED = ("article_id", "title", "source", "date", "url")  # what a sync would change in the index's listing


def corpus_drift(corpus_dir: Path, indexed: list[dict], max_bytes: int) -> Drift:
    """What a sync of ``corpus_dir`` would change in an index listing ``indexed`` (`OpenIndex.list_articles`)."""
    if not corpus_dir.is_dir():
        return Drift([], [])  # no folder to follow yet (the first upload creates it)
    scan = scan_corpus(corpus_dir, max_bytes, keep_texts=False, prefer={a["article_id"]: a["path"] for a in indexed})
    in_index = {a["path"]: tuple(a[key] for key in _COMPARED) for a in indexed}
    in_folder = {a.path: tuple(getattr(a, key) for key in _COMPARED) for a in scan.articles}
    return Drift(
        unindexed=[path for path, fields in in_folder.items() if in_index.get(path) != fields],
        gone=[path for path in in_index if path not in in_folder],
    )


def restore_from_trash(corpus_dir: Path, trashed: Path) -> str:
    """Move a file back from the trash to where ``move_to_trash`` took it from; returns its corpus path.

    A file that has since taken that place is never overwritten.
    """
    trash = (corpus_dir / TRASH_DIR).resolve()
    trashed = Path(trashed).resolve()
    if not trashed.is_relative_to(trash) or not trashed.is_file():
        raise QABotError("that file is no longer in the corpus trash")
    relative = PurePosixPath(*trashed.relative_to(trash).parts[1:])  # without the trash folder's time stamp
    target = corpus_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(trashed, target)
    except FileExistsError as error:
        raise QABotError(f"cannot restore {relative}: another file of that name is in the corpus now") from error
    trashed.unlink()
    return str(relative)
