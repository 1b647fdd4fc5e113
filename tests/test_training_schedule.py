"""The reader's training schedule: every feature once per epoch, in shapes that pad little, in a seeded order."""

from __future__ import annotations

from qa_bot.training.train_reader import TrainConfig, training_schedule


def features_of_lengths(count: int) -> list[dict]:
    return [{"input_ids": [0] * (10 + (i * 37) % 200)} for i in range(count)]


def config(**overrides) -> TrainConfig:
    return TrainConfig(**({"squad": "", "out": "", "batch_size": 8, "epochs": 1.0} | overrides))


def test_one_epoch_uses_every_feature_exactly_once():
    features = features_of_lengths(1000)

    schedule = training_schedule(features, config())

    assert sorted(i for batch in schedule for i in batch) == list(range(1000))
    assert all(len(batch) <= 8 for batch in schedule)


def test_fractional_epochs_and_max_steps_cut_the_run_short():
    features = features_of_lengths(800)  # 100 batches per epoch

    assert len(training_schedule(features, config(epochs=1.5))) == 150
    assert len(training_schedule(features, config(epochs=2.0, max_steps=120))) == 120


def test_a_shuffle_seed_reorders_batches_without_changing_what_is_trained_on():
    features = features_of_lengths(1000)

    first = training_schedule(features, config())
    again = training_schedule(features, config())
    later_stage = training_schedule(features, config(shuffle_seed=31))

    assert first == again  # reproducible from the seed
    assert later_stage != first
    assert sorted(i for batch in later_stage for i in batch) == list(range(1000))
