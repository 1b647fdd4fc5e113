"""qa-bot: extractive question answering over a folder of articles, with sentence-level citations."""

__version__ = "0.1.0"
