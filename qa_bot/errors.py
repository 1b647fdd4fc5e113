"""User-facing errors: each carries one line saying what went wrong and what to do."""


class QABotError(Exception):
    """An expected failure shown to the user as one line (no traceback)."""


class IndexUnusable(QABotError):
    """The index is missing, corrupt or was built with different settings."""
