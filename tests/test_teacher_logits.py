"""A teacher's logits computed once and reused: carried across tokenizers by character, checked against the
features they were made for, and teaching what the live teacher teaches."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from qa_bot.features import Window
from qa_bot.training.squad_data import example_windows, write_examples
from qa_bot.training.teacher_logits import NO_TARGET, compute, project
from qa_bot.training.train_reader import (
    TrainConfig,
    attach_teacher_logits,
    batch_loss,
    build_features,
    collate,
    prepare_examples,
    train,
)
from tests.conftest import write_tiny_reader
from tests.test_train_reader import tiny_config


def window(tokens: list[tuple[int, int]], context_from: int) -> Window:
    """A window of [CLS] + question tokens + [SEP] + passage tokens (offsets given) + [SEP]."""
    count = len(tokens)
    return Window(
        sample_index=0,
        input_ids=list(range(count)),
        token_type_ids=None,
        offsets=tokens,
        context_mask=[context_from <= i < count - 1 for i in range(count)],
    )


def test_logits_move_to_the_student_token_holding_each_teacher_tokens_characters():
    # passage "xx New Yorkers": the student reads "yorker" + "##s", the teacher "york" + "##ers", and the
    # teacher's text begins 3 characters into the student's passage
    student = window([(0, 0), (0, 1), (0, 0), (3, 6), (7, 13), (13, 14), (0, 0)], context_from=3)
    teacher = window([(0, 0), (0, 1), (0, 0), (0, 3), (4, 8), (8, 11), (0, 0)], context_from=3)
    teacher_start = np.array([0.5, 9.0, 9.0, 1.0, 2.0, 3.0, 9.0])
    teacher_end = np.array([-0.5, 9.0, 9.0, 4.0, 5.0, 6.0, 9.0])

    start, end = project(student, teacher, 3, teacher_start, teacher_end)

    assert start[0] == 0.5 and end[0] == -0.5  # no answer stays no answer
    assert start[3] == 1.0 and np.isclose(start[4], np.logaddexp(2.0, 3.0)) and start[5] == NO_TARGET
    assert end[3] == 4.0 and end[4] == 5.0 and end[5] == 6.0  # "New Yorkers" ends where the student's word ends
    assert (start[[1, 2, 6]] == NO_TARGET).all() and (end[[1, 2, 6]] == NO_TARGET).all()  # never the question


def student_config(tmp_path: Path) -> TrainConfig:
    """The tiny training run of test_train_reader, continuing the tiny reader it would train from scratch."""
    config = tiny_config(tmp_path, max_steps=6)
    return replace(config, init_from=config.backbone)


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TrainConfig, Path]:
    """Examples, a 2-layer teacher with the student's tokenizer, and its logits for the student's features."""
    monkeypatch.setenv("QA_BOT_READER_BACKEND", "torch")
    config = student_config(tmp_path)
    examples = tmp_path / "examples.jsonl.gz"
    write_examples(prepare_examples(config), str(examples))
    teacher = write_tiny_reader(tmp_path / "teacher", layers=2)
    logits = compute(str(examples), str(teacher), config.init_from, str(tmp_path / "teacher.npz"), (64, 16), 4, 1)
    config = replace(config, squad="", examples=str(examples), teacher_logits=str(logits))
    return config, teacher


def test_with_one_tokenizer_the_stored_logits_are_the_teachers_own_on_the_passage(stored):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    config, teacher_folder = stored
    tokenizer = AutoTokenizer.from_pretrained(config.init_from)
    examples = prepare_examples(config)
    features = build_features(tokenizer, examples, config)
    attach_teacher_logits(features, config)
    teacher = AutoModelForQuestionAnswering.from_pretrained(teacher_folder).eval()

    for feature, (_, window) in zip(
        features, example_windows(tokenizer, examples, config.max_length, config.doc_stride), strict=True
    ):
        with torch.no_grad():
            output = teacher(
                input_ids=torch.tensor([window.input_ids]), token_type_ids=torch.tensor([window.token_type_ids])
            )
        read = [0] + [i for i, inside in enumerate(window.context_mask) if inside]
        unread = [i for i in range(len(window.input_ids)) if i not in read]
        for stored_logits, own in (
            (feature["teacher_start"], output.start_logits),
            (feature["teacher_end"], output.end_logits),
        ):
            assert np.allclose(stored_logits[read], own[0, read].numpy(), atol=2e-2)  # fp16 storage
            assert (stored_logits[unread] == NO_TARGET).all()


def test_stored_logits_change_what_the_student_is_taught(stored):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    config, _ = stored
    tokenizer = AutoTokenizer.from_pretrained(config.init_from)
    features = build_features(tokenizer, prepare_examples(config), config)
    plain = [dict(feature) for feature in features]
    attach_teacher_logits(features, config)
    student = AutoModelForQuestionAnswering.from_pretrained(config.init_from).eval()
    batch = list(range(len(features)))
    with torch.no_grad():
        taught = batch_loss(student, [], collate(features, batch, 16, tokenizer.pad_token_id), config)
        untaught = batch_loss(student, [], collate(plain, batch, 16, tokenizer.pad_token_id), config)
    assert not torch.isclose(taught, untaught, rtol=1e-2)


def test_a_run_learns_from_stored_logits_and_refuses_logits_made_for_other_windows(stored):
    config, _ = stored
    out = train(config)
    assert (out / "model.safetensors").is_file()

    with pytest.raises(SystemExit, match="was made for other features"):
        train(replace(config, max_length=48))
