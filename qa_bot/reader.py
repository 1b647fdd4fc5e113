"""Extractive reader: model inference only (span decoding is numpy, in spans.py).

Features are encoded as in training (qa_bot/features.py): the question first, then
the passage, windows of ``max_length`` tokens overlapping by ``doc_stride``, and
the no-answer label on the CLS token.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from qa_bot.adapters import loadable
from qa_bot.errors import QABotError
from qa_bot.features import Window, encode_windows
from qa_bot.settings import READER_CONFIG, Settings
from qa_bot.spans import ScoreCalibration, decode_spans, to_passage_spans
from qa_bot.types import Passage, Span

TRAINING_CONFIG = "training_config.json"  # written by qa_bot.training.train_reader
DEFAULT_THRESHOLD = 0.5
DEFAULT_MAX_LENGTH = 256
DEFAULT_DOC_STRIDE = 96
QUESTION_TOKEN_BUDGET = 64  # leaves >= 189 context tokens per 256-token window
SPANS_PER_FEATURE = 3
# Encoders whose layers onnxruntime fuses into its BERT operators.
FUSABLE_MODEL_TYPES = ("bert", "roberta", "distilbert")
# Encoders that do not fuse (MPNet's relative attention) yet read faster on onnxruntime's own graph optimisations
# than on torch (the accurate reader: 5 passages of 200 tokens in 1.26 s against 1.59 s on 2 cores); any other model
# type runs on torch.
UNFUSED_ONNX_MODEL_TYPES = ("mpnet",)
# Linear layers dynamic int8 leaves in fp32, by model type: MPNet's attention-output and feed-forward-output
# projections read inputs with outliers that int8 activations flatten, which costs it most of its F1. Weights are
# quantized with one scale per output channel: one per matrix cost the fast reader 2.9 F1 and the accurate one 2.7
# on 500 selection questions, per channel 0.2 and 0.9 (`bench/bench_readers.py` measures what int8 still costs).
INT8_KEPT_FP32 = {"mpnet": ("attention.attn.o", "output.dense", "qa_outputs")}


@dataclass
class ReadResult:
    spans: list[Span]  # from all passages, best first, not thresholded
    notices: list[str] = field(default_factory=list)
    question: str = ""  # the question as the reader read it (cut to QUESTION_TOKEN_BUDGET tokens)


@dataclass(frozen=True)
class _Query:
    question: str
    passages: list[Passage]
    windows: list[Window]
    notices: list[str]


def int8_qconfig(model: torch.nn.Module) -> dict:
    """What dynamic int8 quantizes, and how: every Linear layer its model type does not keep in fp32, per channel."""
    kept = INT8_KEPT_FP32.get(model.config.model_type, ())
    return {
        name: torch.ao.quantization.per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not any(part in name for part in kept)
    }


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


class Reader:
    def __init__(self, name_or_path: str, settings: Settings) -> None:
        self.settings = settings
        folder = Path(name_or_path)
        # Never reach the hub: a local folder, or a name already in the local Hugging Face cache.
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)
            with loadable(name_or_path, settings.cache_path()) as weights:
                model = AutoModelForQuestionAnswering.from_pretrained(
                    weights, dtype=torch.float32, local_files_only=True
                )
        except (OSError, ValueError) as exc:
            raise QABotError(
                f"Cannot load the reader model '{name_or_path}': it is not a model folder nor in the local"
                f" Hugging Face cache ({type(exc).__name__}). Set QA_BOT_READER to a folder with an extractive QA model."
            ) from None
        torch.set_num_threads(settings.threads)
        model.eval()
        self.precision = settings.reader_precision_in_use()
        if self.precision == "int8":
            with warnings.catch_warnings():
                # torch.ao quantization is deprecated in favour of torchao, yet works in the pinned torch
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", UserWarning)
                model = torch.ao.quantization.quantize_dynamic(model, int8_qconfig(model), dtype=torch.qint8)
        elif self.precision == "bf16":
            # bf16 weights, cast once: autocast instead recasts every weight on every forward pass, which made the
            # accurate reader's 5 passages about 1.3x slower
            model = model.to(torch.bfloat16)
        self.model = model
        # The fp32 reader runs on onnxruntime when it exports and fuses; bf16 and int8 are torch-only precisions.
        self._session = self._onnx_session(name_or_path) if self._wants_onnx() else None

        training = _read_json(folder / TRAINING_CONFIG)
        self.max_length = int(training.get("max_length", DEFAULT_MAX_LENGTH))
        self.doc_stride = int(training.get("doc_stride", DEFAULT_DOC_STRIDE))
        reader_config = _read_json(folder / READER_CONFIG)
        self.score_calibration = ScoreCalibration(**reader_config.get("score_calibration", {}))
        calibrated = reader_config.get("no_answer_threshold", DEFAULT_THRESHOLD)
        self.threshold = float(settings.no_answer_threshold if settings.no_answer_threshold is not None else calibrated)

    def _wants_onnx(self) -> bool:
        return (
            self.settings.reader_backend == "onnx"
            and self.precision == "fp32"
            and self.model.config.model_type in FUSABLE_MODEL_TYPES + UNFUSED_ONNX_MODEL_TYPES
        )

    def _onnx_session(self, name_or_path: str) -> Any:
        """The fp32 onnxruntime copy of the model (fused where it fuses), or None (with a one-line notice) when it
        cannot be made."""
        from qa_bot.onnx_export import reader_session

        try:
            return reader_session(
                self.model,
                self.tokenizer,
                name_or_path,
                self.settings.cache_path(),
                self.settings.threads,
                fuse=self.model.config.model_type in FUSABLE_MODEL_TYPES,
            )
        except Exception as error:  # noqa: BLE001 - any HF QA model must keep working: whatever the export trips on
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            print(f"notice: the reader runs on torch, not onnxruntime ({reason})", file=sys.stderr)
            return None

    def read(self, question: str, passages: Sequence[Passage]) -> ReadResult:
        """Candidate spans from the first ``settings.top_k_limit`` passages, in one batched forward pass.

        The caller chooses how many passages to hand over (``settings.top_k`` unless a
        request asks for more); ``top_k_limit`` is the hard cap that bounds latency.
        """
        return self.read_many([(question, passages)])[0]

    def read_many(
        self, queries: Sequence[tuple[str, Sequence[Passage]]], batch_size: int | None = None
    ) -> list[ReadResult]:
        """``read`` for many questions at once; forward passes of ``batch_size`` features (None = one pass)."""
        encoded = [self._encode(question, passages) for question, passages in queries]
        windows = [window for query in encoded for window in query.windows]
        logits = self.window_logits(windows, batch_size or max(1, len(windows)))
        results = []
        first = 0
        for query in encoded:
            count = len(query.windows)
            spans = self._decode(query, logits[first : first + count]) if count else []
            results.append(ReadResult(spans=spans, notices=list(query.notices), question=query.question))
            first += count
        return results

    def _encode(self, question: str, passages: Sequence[Passage]) -> _Query:
        passages = list(passages)[: self.settings.top_k_limit]
        question = question.strip()
        notices = []
        question_offsets = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)[
            "offset_mapping"
        ]
        if len(question_offsets) > QUESTION_TOKEN_BUDGET:
            question = question[: question_offsets[QUESTION_TOKEN_BUDGET - 1][1]]
            notices.append(f"The question was truncated to its first {QUESTION_TOKEN_BUDGET} tokens for the reader.")
        if not passages:
            return _Query(question, passages, [], notices)
        windows = encode_windows(
            self.tokenizer, [question] * len(passages), [p.text for p in passages], self.max_length, self.doc_stride
        )
        return _Query(question, passages, windows, notices)

    def window_logits(self, windows: list[Window], batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Start/end logits per window, unpadded; similar lengths are batched together."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        logits: list[tuple[np.ndarray, np.ndarray]] = [None] * len(windows)  # type: ignore[list-item]
        for begin in range(0, len(order), batch_size):
            chunk = order[begin : begin + batch_size]
            start, end = self._forward([windows[i] for i in chunk])
            for row, i in enumerate(chunk):
                n = len(windows[i].input_ids)
                logits[i] = (start[row, :n], end[row, :n])
        return logits

    def _forward(self, windows: list[Window]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(w.input_ids) for w in windows)
        input_ids = np.full((len(windows), width), self.tokenizer.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(windows), width), dtype=np.int64)
        token_type_ids = np.zeros((len(windows), width), dtype=np.int64)
        for row, window in enumerate(windows):
            n = len(window.input_ids)
            input_ids[row, :n] = window.input_ids
            attention_mask[row, :n] = 1
            if window.token_type_ids is not None:
                token_type_ids[row, :n] = window.token_type_ids
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if windows[0].token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        return self._run_model(inputs)

    def _run_model(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits of a padded batch, from onnxruntime or torch."""
        if self._session is not None:
            feed = {node.name: inputs[node.name] for node in self._session.get_inputs()}  # the graph's inputs only
            start, end = self._session.run(["start_logits", "end_logits"], feed)
            return start, end
        with torch.inference_mode():
            output = self.model(**{name: torch.from_numpy(array) for name, array in inputs.items()})
        return output.start_logits.float().numpy(), output.end_logits.float().numpy()

    def _decode(self, query: _Query, logits: list[tuple[np.ndarray, np.ndarray]]) -> list[Span]:
        width = max(len(start) for start, _ in logits)
        shape = (len(logits), width)
        start_logits, end_logits = np.zeros(shape), np.zeros(shape)
        context_mask = np.zeros(shape, dtype=bool)
        offsets = np.zeros(shape + (2,), dtype=np.int64)
        for row, ((start, end), window) in enumerate(zip(logits, query.windows)):
            n = len(start)
            start_logits[row, :n], end_logits[row, :n] = start, end
            context_mask[row, :n] = window.context_mask
            offsets[row, :n] = window.offsets
        token_spans = decode_spans(
            start_logits,
            end_logits,
            context_mask,
            self.settings.max_answer_tokens,
            SPANS_PER_FEATURE,
            self.score_calibration,
        )
        feature_passages = [window.sample_index for window in query.windows]
        return to_passage_spans(token_spans, offsets, feature_passages, query.passages)
