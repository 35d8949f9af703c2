"""NLU errors: one root (``NluError``) under ``LinliError``."""

from __future__ import annotations

from pathlib import Path

from bot.domain.errors import LinliError


class NluError(LinliError):
    """Root of every error the NLU package raises on purpose."""


class TrainingDataError(NluError):
    """A training-data file is malformed. ``path`` and ``line`` (1-based) say where."""

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None):
        self.path = Path(path) if path is not None else None
        self.line = line
        self.reason = message
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}")


class ModelError(NluError):
    """A saved model is missing, corrupt, or does not match the running code or encoder."""


class RasaUnavailable(NluError):
    """The Rasa server did not answer usefully (timeout, connection error, bad status/body)."""
