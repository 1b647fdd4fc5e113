"""File helpers shared by the index writers: scratch folders, reserved .npy files, checksums and fsync."""

from __future__ import annotations

import errno
import os
import re
import shutil
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def scratch_beside(path: Path) -> Iterator[Path]:
    """A new folder beside ``path`` for a build's temporary files, removed afterwards whatever happens."""
    scratch_dir = path.with_name(path.name + ".scratch")
    scratch_dir.mkdir()
    try:
        yield scratch_dir
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)


_SHORT_WRITE = re.compile(r"(\d+) requested and (\d+) written")  # numpy's words for a write cut short


@contextmanager
def short_writes_explained(folder: Path) -> Iterator[None]:
    """numpy's `np.save` reports a write cut short ("87616 requested and 48096 written") without its cause; on a full
    disk that cause is given ("No space left on device"), else the write is reported as an I/O error."""
    try:
        yield
    except OSError as error:
        short = _SHORT_WRITE.fullmatch(str(error)) if error.errno is None else None
        if short is None:
            raise
        missing = int(short.group(1)) - int(short.group(2))
        cause = errno.ENOSPC if shutil.disk_usage(folder).free < missing else errno.EIO
        raise OSError(cause, os.strerror(cause), str(folder)) from error


_CANNOT_RESERVE = {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS}  # a file system without it: written as before


def allocated_npy(path: Path, dtype: Any, shape: tuple[int, ...]) -> np.memmap:
    """A new .npy file mapped for writing, its disk blocks reserved first: a write through a mapping to a block the
    disk cannot supply kills the process (SIGBUS), whereas a full disk found here is an OSError, reported in one
    line."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    with path.open("r+b") as stream:
        try:
            os.posix_fallocate(stream.fileno(), 0, os.fstat(stream.fileno()).st_size)
        except OSError as error:
            if error.errno not in _CANNOT_RESERVE:
                raise
    return array


def checksum(path: Path) -> str:
    crc = 0
    with path.open("rb") as stream:
        while chunk := stream.read(4 << 20):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        fsync(path)
    fsync(root)
