"""A randomly initialised reader small enough to build in a second: every code path of the reader, the bot and the
benchmarks runs with it, without the bundled reader or any download."""

from __future__ import annotations

import json
from pathlib import Path


def write_tiny_reader(folder: Path, no_answer_threshold: float | None = None, layers: int = 1) -> Path:
    """A BERT QA model (one layer unless told, seeded) with the bundled embedder's MiniLM tokenizer, saved in
    ``folder``; ``no_answer_threshold`` writes a reader_config.json with that threshold."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    from qa_bot.settings import READER_CONFIG, bundled_embedder

    tokenizer = AutoTokenizer.from_pretrained(bundled_embedder(), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=64
    )
    BertForQuestionAnswering(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if no_answer_threshold is not None:
        (Path(folder) / READER_CONFIG).write_text(json.dumps({"no_answer_threshold": no_answer_threshold}))
    return Path(folder)
