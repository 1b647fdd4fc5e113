"""Passage vectors and the FAISS index over them: built a block at a time, IVF in shards, memory-mapped on load."""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from tqdm.auto import tqdm

from qa_bot.index.files import allocated_npy, scratch_beside
from qa_bot.index.version import FAISS_LISTS
from qa_bot.settings import Settings

IVF_LISTS_PER_SQRT = 4  # inverted lists = 4 * sqrt(passages): ~250 vectors per list at 1M
IVF_MIN_POINTS_PER_LIST = 39  # FAISS's k-means needs this many training points per centroid
IVF_TRAINING_POINTS_PER_LIST = 64
IVF_NPROBE = 96  # lists searched per question; recall against exact search by `bench_ann.py --sweep`


@dataclass(frozen=True)
class BlockSizes:
    """How much of an index a build holds at a time: what the writer holds is a block, not all N passages."""

    rows: int = 4096  # vectors copied, read or added to FAISS, and passages analysed for BM25, at a time
    ivf_shard_rows: int = 65_536  # vectors in one IVF shard (96 MB at 384-d) before it goes to disk to be merged


DEFAULT_BLOCKS = BlockSizes()


def _empty_faiss(
    vectors: np.ndarray | VectorFile, settings: Settings, blocks: BlockSizes, training_file: Path | None = None
) -> faiss.Index:
    """Inner-product index over L2-normalised vectors, still empty: exact below ``settings.ann_threshold``, else
    IVF-Flat with its centroids trained on a sample of ``vectors`` (64 per list, 375 MB at 1M passages). With
    ``training_file`` the sample is copied there a block at a time and k-means reads it mapped, so it is pages of a
    file, which the kernel can reclaim, rather than heap.

    IVF-Flat rather than HNSW: its inverted lists can be memory-mapped (an HNSW graph cannot), so a large index
    starts in milliseconds with a small RSS, and k-means plus list assignment builds faster than a graph. Its
    recall and latency at 1M are measured by `python bench/bench_ann.py --size 1000000 --json`.
    """
    count, dimension = vectors.shape
    if count < settings.ann_threshold:
        return faiss.IndexFlatIP(dimension)
    lists = max(1, min(IVF_LISTS_PER_SQRT * int(np.sqrt(count)), count // IVF_MIN_POINTS_PER_LIST))
    index = faiss.index_factory(dimension, f"IVF{lists},Flat", faiss.METRIC_INNER_PRODUCT)
    rows = np.sort(np.random.default_rng(0).permutation(count)[: lists * IVF_TRAINING_POINTS_PER_LIST])
    if training_file is None:
        index.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
    else:
        sample = VectorFile.create(training_file, len(rows), dimension)
        for begin in range(0, len(rows), blocks.rows):
            sample[begin : begin + blocks.rows] = vectors[rows[begin : begin + blocks.rows]]
        index.train(np.load(training_file, mmap_mode="r"))
    index.nprobe = min(IVF_NPROBE, lists)  # stored in the index file
    return index


def _fill(index: faiss.Index, vectors: np.ndarray | VectorFile, rows: range, block_rows: int, bar: tqdm) -> None:
    """Add ``vectors[rows]`` a block at a time; IVF lists record each vector's row (a flat index numbers them in
    order, so it is filled from row 0)."""
    for begin in range(rows.start, rows.stop, block_rows):
        end = min(begin + block_rows, rows.stop)
        block = np.ascontiguousarray(vectors[begin:end], dtype=np.float32)
        if isinstance(index, faiss.IndexIVF):
            index.add_with_ids(block, np.arange(begin, end, dtype=np.int64))
        else:
            index.add(block)
        bar.update(len(block))


def _fill_bar(count: int, progress: bool) -> tqdm:
    return tqdm(total=count, desc="Filling the vector index", unit="passage", disable=not progress)


def build_faiss(
    vectors: np.ndarray | VectorFile, settings: Settings, progress: bool = False, blocks: BlockSizes = DEFAULT_BLOCKS
) -> faiss.Index:
    """The index `write_faiss` writes, built in memory instead (it holds every vector): for benchmarks and tests."""
    index = _empty_faiss(vectors, settings, blocks)
    with _fill_bar(len(vectors), progress) as bar:
        _fill(index, vectors, range(len(vectors)), blocks.rows, bar)
    return index


def write_faiss(
    vectors: VectorFile, settings: Settings, path: Path, progress: bool = False, blocks: BlockSizes = DEFAULT_BLOCKS
) -> dict:
    """Write the vector index to ``path`` holding at most one shard of vectors at a time; returns its description.

    A flat index (below ``settings.ann_threshold``) is built in memory. An IVF index is filled shard by shard
    (``blocks.ivf_shard_rows`` vectors, each shard written to a scratch folder beside ``path``), then the shards' inverted
    lists are merged into one file next to ``path`` (`FAISS_LISTS`, FAISS's on-disk lists: its recipe for indexes
    larger than memory), which the loader memory-maps. Each list keeps its vectors in row order, as one in-memory
    build would.
    """
    with scratch_beside(path) as scratch_dir:
        index = _empty_faiss(vectors, settings, blocks, scratch_dir / "training.npy")
        with _fill_bar(len(vectors), progress) as bar:
            if isinstance(index, faiss.IndexIVF):
                _fill_in_shards(index, vectors, scratch_dir, blocks, bar)
                _merge_shards(index, sorted(scratch_dir.glob("shard*.index")), path.with_name(FAISS_LISTS))
            else:
                _fill(index, vectors, range(len(vectors)), blocks.rows, bar)
        _write_index_file(index, path)
    return faiss_description(index)


def _fill_in_shards(
    index: faiss.IndexIVF, vectors: VectorFile, scratch_dir: Path, blocks: BlockSizes, bar: tqdm
) -> None:
    """Copies of the trained, empty ``index`` filled with ``blocks.ivf_shard_rows`` vectors each, written one by
    one."""
    for number, begin in enumerate(range(0, len(vectors), blocks.ivf_shard_rows)):
        shard = faiss.clone_index(index)
        _fill(shard, vectors, range(begin, min(begin + blocks.ivf_shard_rows, len(vectors))), blocks.rows, bar)
        _write_index_file(shard, scratch_dir / f"shard{number:06d}.index")


def _merge_shards(index: faiss.IndexIVF, shard_paths: list[Path], lists_path: Path) -> None:
    """faiss.contrib.ondisk.merge_ondisk, except that the shards are closed afterwards (it leaves them mapped) and
    that the disk space is checked first: FAISS writes the merged lists through a mapping of a file it sizes
    itself, where a full disk would kill the process (SIGBUS)."""
    needed = sum(path.stat().st_size for path in shard_paths)
    if shutil.disk_usage(lists_path.parent).free < needed:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(lists_path))
    shards = [faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY) for path in shard_paths]
    shard_lists = faiss.InvertedListsPtrVector()
    for shard in shards:
        shard_lists.push_back(faiss.extract_index_ivf(shard).invlists)
    merged = faiss.OnDiskInvertedLists(index.nlist, index.code_size, str(lists_path))
    with _silence_native_stdout():
        index.ntotal = merged.merge_from_multiple(shard_lists.data(), shard_lists.size(), False)
    index.replace_invlists(merged, True)
    merged.this.disown()  # the index owns (and frees) the merged lists now


class VectorFile:
    """A version's vectors.npy (row i = passage i), read and written a block of rows at a time.

    Each access maps the file and unmaps it again: a mapping kept open would count every page it ever touched in
    the process's RSS, which for a 1M-passage build is the whole 1.5 GB. Written pages go back to the file through
    the page cache (the version is fsynced before it is switched in).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shape: tuple[int, int] = np.load(path, mmap_mode="r").shape

    @classmethod
    def create(cls, path: Path, rows: int, dimension: int) -> VectorFile:
        """The same .npy format `np.save` writes, its rows still zero."""
        allocated_npy(path, np.float32, (rows, dimension))
        return cls(path)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray:
        return np.array(np.load(self.path, mmap_mode="r")[rows])

    def __setitem__(self, rows: slice | np.ndarray, vectors: np.ndarray) -> None:
        np.load(self.path, mmap_mode="r+")[rows] = vectors


def _write_index_file(index: faiss.Index, path: Path) -> None:
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as error:  # FAISS reports a failed write, a full disk included, as a RuntimeError
        reason = re.search(r"\(([^()]+)\)\s*$", str(error))
        raise OSError(errno.EIO, reason.group(1) if reason else "write error", str(path)) from error


def faiss_description(index: faiss.Index) -> dict:
    """What the manifest records about the FAISS index (``factory`` is its index_factory string)."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexIVF):
        return {"kind": "ivf", "factory": f"IVF{index.nlist},Flat", "nprobe": index.nprobe}
    if isinstance(index, faiss.IndexHNSW):
        return {
            "kind": "hnsw",
            "factory": f"HNSW{index.hnsw.nb_neighbors(1)}",
            "M": index.hnsw.nb_neighbors(1),
            "ef_construction": index.hnsw.efConstruction,
            "ef_search": index.hnsw.efSearch,
        }
    return {"kind": "flat", "factory": "Flat"}


def search_parameters(index: faiss.Index) -> dict:
    description = faiss_description(index)
    return {key: description[key] for key in ("nprobe", "ef_search") if key in description}


# Flat and IVF files are memory-mapped on load (pages read on demand, shared between processes): IVF lists in a
# FAISS_LISTS file map that file, found beside the index file wherever the version was written; lists inside the
# index file (versions written before the lists were streamed to disk) map the index file. An HNSW graph (indexes
# written before IVF became the large-size default) is read into memory.
_READ_FLAGS = {"flat": faiss.IO_FLAG_MMAP_IFC, "ivf": faiss.IO_FLAG_MMAP}


def read_faiss(path: Path, kind: str | None) -> faiss.Index:
    if kind == "ivf" and path.with_name(FAISS_LISTS).exists():
        with _silence_native_stdout():
            return faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR | faiss.IO_FLAG_READ_ONLY)
    return faiss.read_index(str(path), _READ_FLAGS.get(kind or "", 0) | faiss.IO_FLAG_READ_ONLY)


@contextmanager
def _silence_native_stdout() -> Iterator[None]:
    """FAISS's on-disk lists print a line to stdout (C's printf) when they are written or opened ("resizing ...",
    "updating ondisk filename ..."): noise in a terminal, and stdout carries `--json` output. For that moment the
    process's stdout goes to /dev/null."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    libc.fflush(None)
    saved = os.dup(1)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
