"""The on-disk version format: file names, CURRENT, manifests and their checks, the indexer's lock."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from qa_bot.errors import IndexUnusable, QABotError
from qa_bot.index.files import checksum, fsync

FORMAT_VERSION = 1


CURRENT = "CURRENT"
LOCK = "LOCK"
VERSIONS = "versions"
PARTIAL_SUFFIX = ".partial"
MANIFEST = "manifest.json"
STORE = "store.sqlite"
VECTORS = "vectors.npy"
FAISS_INDEX = "faiss.index"
FAISS_LISTS = "faiss.ivfdata"  # an IVF index's inverted lists (FAISS's on-disk format), beside FAISS_INDEX
BM25_DIR = "bm25"

_VERSION_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]*")  # what new_version_id writes


def version_files(version_dir: Path) -> list[Path]:
    return sorted(p for p in version_dir.rglob("*") if p.is_file() and p.name != MANIFEST)


def rebuild_hint(index_dir: Path, corpus_dir: str | None = None) -> str:
    return f"run `qa-bot index {corpus_dir or 'CORPUS'} --index-dir {index_dir} --rebuild`"


def read_current(index_dir: Path) -> str:
    try:
        version = (index_dir / CURRENT).read_bytes().decode("ascii", errors="replace").strip()
    except FileNotFoundError:
        raise IndexUnusable(
            f"no index at {index_dir}; run `qa-bot index CORPUS --index-dir {index_dir}` first"
        ) from None
    except OSError as error:
        raise IndexUnusable(
            f"cannot read {index_dir / CURRENT} ({error.strerror}); {rebuild_hint(index_dir)}"
        ) from None
    if not _VERSION_NAME.fullmatch(version):
        raise IndexUnusable(
            f"index at {index_dir} is damaged (CURRENT is not a version name); {rebuild_hint(index_dir)}"
        )
    return version


def read_manifest(index_dir: Path, version: str) -> dict:
    path = index_dir / VERSIONS / version / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexUnusable(
            f"index at {index_dir} is damaged (version {version} is missing); {rebuild_hint(index_dir)}"
        ) from None
    except (OSError, ValueError):
        raise IndexUnusable(
            f"index at {index_dir} is damaged (unreadable {MANIFEST}); {rebuild_hint(index_dir)}"
        ) from None
    if not isinstance(manifest, dict):
        manifest = {}
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexUnusable(
            f"index at {index_dir} has format {manifest.get('format_version')}, this qa-bot reads format "
            f"{FORMAT_VERSION}; {rebuild_hint(index_dir, manifest.get('corpus_dir'))}"
        )
    if not _manifest_is_complete(manifest):
        raise IndexUnusable(f"index at {index_dir} is damaged (incomplete {MANIFEST}); {rebuild_hint(index_dir)}")
    return manifest


def _manifest_is_complete(manifest: dict) -> bool:
    try:
        return (
            isinstance(manifest["embedder"], dict)
            and isinstance(manifest["dimension"], int)
            and isinstance(manifest["counts"]["passages"], int)
            and {STORE, VECTORS, FAISS_INDEX} <= set(manifest["files"])
            and all(isinstance(f["bytes"], int) and isinstance(f["crc32"], str) for f in manifest["files"].values())
        )
    except (KeyError, TypeError, AttributeError):
        return False


def verify_files(index_dir: Path, version_dir: Path, manifest: dict, names: list[str] | None = None) -> None:
    """Every file listed in the manifest exists with its recorded size and checksum."""
    hint = rebuild_hint(index_dir, manifest.get("corpus_dir"))
    for name, expected in manifest["files"].items():
        if names is not None and not any(name == n or name.startswith(n + "/") for n in names):
            continue
        path = version_dir / name
        try:
            size = path.stat().st_size
            if size != expected["bytes"]:
                raise IndexUnusable(
                    f"index at {index_dir} is damaged ({name} has {size} bytes, expected {expected['bytes']}); {hint}"
                )
            if checksum(path) != expected["crc32"]:
                raise IndexUnusable(f"index at {index_dir} is damaged ({name} fails its checksum); {hint}")
        except OSError as error:
            raise IndexUnusable(f"index at {index_dir} is damaged ({name}: {error.strerror}); {hint}") from None


@contextmanager
def exclusive_lock(index_dir: Path) -> Iterator[None]:
    with (index_dir / LOCK).open("a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QABotError(
                f"another `qa-bot index` is already updating {index_dir}; wait for it to finish, then run again"
            ) from None
        yield  # the kernel releases the lock when the file closes, even after kill -9


def new_version_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def switch_current(index_dir: Path, version: str) -> None:
    """Make ``version`` the live one atomically. Anything but a file where CURRENT (or its temporary) belongs, a
    folder say, is damage no reader can use: it is moved aside (kept, renamed) so the index can be repaired."""
    pending = index_dir / (CURRENT + ".tmp")
    try:
        _set_aside_unless_file(pending)
        with pending.open("w", encoding="utf-8") as stream:
            stream.write(version + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        _set_aside_unless_file(index_dir / CURRENT)
        os.replace(pending, index_dir / CURRENT)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    fsync(index_dir)


def _set_aside_unless_file(path: Path) -> None:
    if path.is_symlink() or (path.exists() and not path.is_file()):
        os.rename(path, path.with_name(f"{path.name}.damaged-{secrets.token_hex(3)}"))


def current_is_usable(index_dir: Path) -> bool:
    """Whether CURRENT names a version (that version's files may still fail their checks)."""
    try:
        read_current(index_dir)
    except IndexUnusable:
        return False
    return True


def remove_old_versions(index_dir: Path, keep: set[str]) -> None:
    """Keep the live and the previous version; older ones (and never-switched-to ones) go."""
    for path in (index_dir / VERSIONS).iterdir():
        if path.name not in keep and not path.name.endswith(PARTIAL_SUFFIX):
            shutil.rmtree(path, ignore_errors=True)
