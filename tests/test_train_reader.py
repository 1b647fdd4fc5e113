"""Reader training on a tiny random model: the loss goes down, the output loads as a reader, a run resumes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from qa_bot.reader import Reader
from qa_bot.settings import Settings
from qa_bot.training.train_reader import TrainConfig, train
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
