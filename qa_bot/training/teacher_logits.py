"""A teacher's start/end logits for a student's training features, computed once and reused by its runs.

The accurate reader (MPNet) and the fast one (MiniLM) tokenise differently, so the teacher reads the exact text of
each student window and its logits are carried over by character offsets: the start logit of a student token is
the log-sum-exp of the teacher's start logits of the tokens that begin inside it, the end logit likewise for tokens
that end inside it, and the no-answer (first) token takes the teacher's. Student tokens no teacher token begins
(or ends) in get no mass.

    python -m qa_bot.training.teacher_logits --examples EXAMPLES.jsonl.gz --teacher qa_bot/models/reader-accurate \\
        --student qa_bot/models/reader --out teacher.npz

Features are written in shards (``OUT.parts/``) as they are computed, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from pathlib import Path

import numpy as np

from qa_bot.features import Window, encode_windows

log = logging.getLogger("teacher_logits")

NO_TARGET = -1e4  # a logit with no probability mass at any distillation temperature (and fits in fp16)
TEACHER_MAX_LENGTH = 512  # one teacher window holds the whole of a student window
SHARD = 512


def context_span(window: Window) -> tuple[int, int]:
    """The passage characters a window reads: from its first context token's start to its last one's end."""
    context = [offset for offset, inside in zip(window.offsets, window.context_mask) if inside]
    return (context[0][0], context[-1][1]) if context else (0, 0)


def project(
    student: Window, teacher: Window, shift: int, teacher_start: np.ndarray, teacher_end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's logits carried onto the student's tokens; ``shift`` is where the teacher's text begins in the
    student's passage."""
    start = np.full(len(student.input_ids), -np.inf)
    end = np.full(len(student.input_ids), -np.inf)
    start[0], end[0] = teacher_start[0], teacher_end[0]
    ours = np.array([i for i, inside in enumerate(student.context_mask) if inside], dtype=np.int64)
    theirs = np.array([i for i, inside in enumerate(teacher.context_mask) if inside], dtype=np.int64)
    if len(ours) and len(theirs):
        our_begin = np.array([student.offsets[i][0] for i in ours])
        our_end = np.array([student.offsets[i][1] for i in ours])
        their_begin = np.array([teacher.offsets[i][0] for i in theirs]) + shift
        their_end = np.array([teacher.offsets[i][1] for i in theirs]) + shift
        _carry(start, ours, our_begin, our_end, their_begin, teacher_start[theirs])
        _carry(end, ours, our_begin, our_end, their_end - 1, teacher_end[theirs])
    return np.maximum(start, NO_TARGET), np.maximum(end, NO_TARGET)


def _carry(target, ours, our_begin, our_end, their_chars, their_logits) -> None:
    """Add each teacher logit (log-sum-exp) to the student token holding its character."""
    holder = np.searchsorted(our_begin, their_chars, side="right") - 1
    inside = (holder >= 0) & (their_chars < our_end[np.clip(holder, 0, None)])
    np.logaddexp.at(target, ours[holder[inside]], their_logits[inside])


def teacher_windows(teacher_tokenizer, questions: list[str], passages: list[str]) -> list[Window]:
    """One teacher window per (question, text) pair: the first, which holds it all at TEACHER_MAX_LENGTH."""
    windows = encode_windows(teacher_tokenizer, questions, passages, TEACHER_MAX_LENGTH, TEACHER_MAX_LENGTH // 4)
    first: dict[int, Window] = {}
    for window in windows:
        first.setdefault(window.sample_index, window)
    return [first[i] for i in range(len(passages))]


def shard_logits(teacher, students: list[tuple[str, str, Window]], batch_size: int) -> list[tuple]:
    """(start, end) on the student's tokens for (question, passage, student window) triples."""
    spans = [context_span(window) for _, _, window in students]
    texts = [passage[begin:end] for (_, passage, _), (begin, end) in zip(students, spans)]
    theirs = teacher_windows(teacher.tokenizer, [question for question, _, _ in students], texts)
    logits = teacher.window_logits(theirs, batch_size)
    return [
        project(window, their, begin, start, end)
        for (_, _, window), their, (begin, _), (start, end) in zip(students, theirs, spans, logits)
    ]


def write_shard(path: Path, projected: list[tuple]) -> None:
    partial = path.with_suffix(".tmp.npz")
    np.savez(
        partial,
        lengths=np.array([len(start) for start, _ in projected], dtype=np.int32),
        start=np.concatenate([start for start, _ in projected]).astype(np.float16),
        end=np.concatenate([end for _, end in projected]).astype(np.float16),
    )
    partial.replace(path)


def load(path: str | Path) -> tuple[list[np.ndarray], list[np.ndarray], dict]:
    """Per-feature start and end logits, and the record of how they were made."""
    with np.load(path) as data:  # each lookup reads the whole array again: once each
        lengths, start, end, record = data["lengths"], data["start"], data["end"], str(data["record"])
    cuts = list(itertools.pairwise(np.concatenate([[0], np.cumsum(lengths)])))
    return [start[a:b] for a, b in cuts], [end[a:b] for a, b in cuts], json.loads(record)


def combine(parts: Path, out: Path, record: dict) -> None:
    """The shards as one file (written whole, then moved into place), and the shards gone."""
    arrays: dict[str, list[np.ndarray]] = {"lengths": [], "start": [], "end": []}
    for shard in sorted(parts.glob("[0-9]*.npz")):
        with np.load(shard) as data:
            for name, pieces in arrays.items():
                pieces.append(data[name])
    partial = out.with_suffix(".tmp.npz")
    np.savez(partial, **{name: np.concatenate(pieces) for name, pieces in arrays.items()}, record=json.dumps(record))
    partial.replace(out)
    for shard in parts.iterdir():
        shard.unlink()
    parts.rmdir()


def compute(
    examples: str,
    teacher_path: str,
    student_path: str,
    out: str,
    windows: tuple[int, int],
    batch_size: int,
    threads: int,
) -> Path:
    """Write the teacher's logits for the student features that train_reader builds from ``examples`` with
    ``windows`` (max_length, doc_stride)."""
    from transformers import AutoTokenizer

    from qa_bot.reader import Reader
    from qa_bot.settings import Settings
    from qa_bot.training.squad_data import example_windows, read_examples

    teacher = Reader(teacher_path, Settings(threads=threads))
    student_tokenizer = AutoTokenizer.from_pretrained(student_path, local_files_only=True)
    students = [
        (example.question.strip(), example.context, window)
        for example, window in example_windows(student_tokenizer, read_examples(examples), *windows)
    ]
    parts = Path(out).with_suffix(".parts")
    parts.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    for number, first in enumerate(range(0, len(students), SHARD)):
        shard = parts / f"{number:05d}.npz"
        if not shard.exists():
            write_shard(shard, shard_logits(teacher, students[first : first + SHARD], batch_size))
            done = min(first + SHARD, len(students))
            rate = SHARD / (time.monotonic() - began)
            began = time.monotonic()
            log.info(
                "%d/%d features, %.1f/s, eta %.0f min", done, len(students), rate, (len(students) - done) / rate / 60
            )
    record = {
        "examples": examples,
        "teacher": teacher_path,
        "teacher_precision": teacher.precision,
        "student_tokenizer": student_path,
        "max_length": windows[0],
        "doc_stride": windows[1],
        "features": len(students),
    }
    combine(parts, Path(out), record)
    log.info("wrote the teacher's logits for %d features to %s", len(students), out)
    return Path(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", required=True, help="training examples (train_reader --write-examples)")
    parser.add_argument("--teacher", required=True, help="the teaching reader's folder (an adapter is merged)")
    parser.add_argument("--student", required=True, help="the student reader's folder: its tokenizer and windows")
    parser.add_argument("--out", required=True, help="the .npz to write")
    parser.add_argument("--batch-size", type=int, default=16, help="teacher windows per forward pass")
    # the student run's windows (train_reader's defaults; it refuses logits made for other windows)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--doc-stride", type=int, default=96)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    windows = (args.max_length, args.doc_stride)
    compute(args.examples, args.teacher, args.student, args.out, windows, args.batch_size, args.threads)


if __name__ == "__main__":
    main()
