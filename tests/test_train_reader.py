"""Reader training on a tiny random model: the loss goes down, the output loads as a reader, a run resumes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from qa_bot.reader import Reader
from qa_bot.settings import Settings
from qa_bot.training.train_reader import TrainConfig, ensemble_log_probs, steps_within, train
from qa_bot.training.travel import restore, strip
from qa_bot.types import Passage
from tests.conftest import write_tiny_reader, write_tiny_squad

pytestmark = pytest.mark.slow  # real optimisation steps, about 10 s each


def tiny_config(tmp_path: Path, **overrides) -> TrainConfig:
    values = {
        "squad": str(write_tiny_squad(tmp_path)),
        "out": str(tmp_path / "out"),
        "backbone": str(write_tiny_reader(tmp_path / "backbone")),
        "holdout_fraction": 0.25,
        "negative_ratio": 0.5,
        "max_length": 64,
        "doc_stride": 16,
        "pad_multiple": 16,
        "batch_size": 4,
        "learning_rate": 3e-3,
        "epochs": 20.0,
        "max_steps": 60,
        "threads": 1,
        "checkpoint_every": 25,
        "checkpoint_dir": str(tmp_path / "checkpoints"),
    }
    return TrainConfig(**(values | overrides))


def test_training_lowers_the_loss_and_writes_a_loadable_reader(tmp_path: Path):
    out = train(tiny_config(tmp_path))

    record = json.loads((out / "training_config.json").read_text())
    losses = [loss for _, loss in record["loss_curve"]]
    assert [step for step, _ in record["loss_curve"]] == [20, 40, 60]
    assert losses[-1] < 0.7 * losses[0]
    assert record["seed"] == 13 and record["total_steps"] == 60 and record["resumed_at_step"] == 0
    assert (out / "model.safetensors").is_file()
    reader = Reader(str(out), Settings(reader_precision="fp32", threads=1))
    assert reader.max_length == 64 and reader.doc_stride == 16  # inference windows follow the training recipe
    text = "The base at Town00 hosts 2 brigades of trainers."
    spans = reader.read("Where is base 0?", [Passage("p0", "a0", 0, 0, len(text), text, 0, 0)]).spans
    assert spans and spans[0].text == text[spans[0].start : spans[0].end]


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    config = tiny_config(tmp_path, max_steps=30)
    train(config)  # stands in for a run killed after its step-25 checkpoint: the checkpoint stays behind
    assert (Path(config.checkpoint_dir) / "state.pt").is_file()

    with caplog.at_level(logging.INFO, logger="train_reader"):
        out = train(config)

    assert "resuming at step 25" in caplog.text
    assert json.loads((out / "training_config.json").read_text())["resumed_at_step"] == 25


def test_a_smaller_student_learns_from_prepared_examples_and_teachers(tmp_path: Path):
    """The accelerator recipe: examples made here and read there, layers dropped, two teachers, frozen embeddings."""
    from safetensors.torch import load_file

    examples = tmp_path / "examples.jsonl.xz"
    made = train(tiny_config(tmp_path, write_examples=str(examples)))
    assert made == examples and examples.is_file() and not (tmp_path / "out").exists()
    teacher = write_tiny_reader(tmp_path / "teacher", layers=2)
    second_teacher = write_tiny_reader(tmp_path / "second", layers=3)
    config = tiny_config(
        tmp_path,
        squad="",
        examples=str(examples),
        init_from=str(teacher),
        teacher=f"{teacher},{second_teacher}",
        keep_layers="1",
        freeze_word_embeddings=True,
    )

    out = train(config)

    record = json.loads((out / "training_config.json").read_text())
    losses = [loss for _, loss in record["loss_curve"]]
    assert losses[-1] < 0.8 * losses[0]
    reader = Reader(str(out), Settings(reader_backend="torch", threads=1))
    assert reader.model.config.num_hidden_layers == 1
    key = "bert.embeddings.word_embeddings.weight"
    trained, initial = load_file(out / "model.safetensors"), load_file(teacher / "model.safetensors")
    assert (trained[key].float() == initial[key].half().float()).all()  # frozen: the same, up to fp16 storage
    kept, teacher_layer = "bert.encoder.layer.0.output.dense.weight", "bert.encoder.layer.1.output.dense.weight"
    assert trained[kept].shape == initial[teacher_layer].shape and key in trained


def test_teachers_teach_their_averaged_distribution_and_nothing_on_padding():
    mask = torch.tensor([[1, 1, 1, 0]])
    first, second = torch.tensor([[2.0, 0.0, -1.0, 9.0]]), torch.tensor([[0.0, 1.0, 3.0, 9.0]])

    averaged = ensemble_log_probs([first, second], mask, temperature=2.0).exp()

    each = [torch.softmax(t[:, :3] / 2.0, -1) for t in (first, second)]
    assert torch.allclose(averaged[:, :3], (each[0] + each[1]) / 2)
    assert averaged[0, 3] < 1e-6
    assert torch.allclose(ensemble_log_probs([first], mask, 1.0).exp()[:, :3], torch.softmax(first[:, :3], -1))


def test_a_time_budget_ends_the_run_at_the_steps_that_fit():
    config = TrainConfig(squad="", out="", max_minutes=10.0)
    assert steps_within(config, 1000, done=120, minutes=2.0, minutes_per_step=0.02) == 520
    assert steps_within(config, 300, done=120, minutes=2.0, minutes_per_step=0.02) == 300  # all fit
    assert steps_within(TrainConfig(squad="", out=""), 1000, done=120, minutes=2.0, minutes_per_step=1.0) == 1000


def test_a_reader_travels_without_its_word_embeddings_and_comes_back_whole(tmp_path: Path):
    from safetensors.torch import load_file

    original = write_tiny_reader(tmp_path / "original")
    trained = write_tiny_reader(tmp_path / "trained")  # stands in for a run with frozen word embeddings
    before = load_file(trained / "model.safetensors")

    assert strip(trained) == ["bert.embeddings.word_embeddings.weight"]
    assert "bert.embeddings.word_embeddings.weight" not in load_file(trained / "model.safetensors")
    back = restore(trained, original, tmp_path / "back")

    after = load_file(back / "model.safetensors")
    assert after.keys() == before.keys() and all((after[k] == before[k]).all() for k in before)
    assert Reader(str(back), Settings(reader_backend="torch", threads=1)).model.config.num_hidden_layers == 1


def test_a_teacher_travels_as_int8_rows_and_comes_back_close(tmp_path: Path):
    from safetensors.torch import load_file

    original = write_tiny_reader(tmp_path / "original", layers=2)
    teacher = write_tiny_reader(tmp_path / "teacher", layers=2)  # stands in for a run with frozen word embeddings
    before = load_file(teacher / "model.safetensors")
    size = (teacher / "model.safetensors").stat().st_size

    strip(teacher, int8=True)
    assert (teacher / "model.safetensors").stat().st_size < size / 2
    back = load_file(restore(teacher, original, tmp_path / "back") / "model.safetensors")

    assert back.keys() == before.keys()
    for name, weight in before.items():
        tolerance = weight.float().abs().max() / 254 + 1e-3 if weight.dim() == 2 else 0
        assert back[name].dtype == weight.dtype and (back[name].float() - weight.float()).abs().max() <= tolerance
