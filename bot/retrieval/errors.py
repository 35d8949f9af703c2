"""Errors of the retrieval area; ``RetrievalError`` is the root callers catch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.errors import LinliError
from bot.encoders import EncoderError as _EncoderError


class RetrievalError(LinliError):
    """Root of retrieval errors (corpus files, index files, encoders)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row of one input file.

    ``row`` is what the admin sees: the spreadsheet row number for CSV/XLSX (the header is
    row 1), the line where the entry starts for JSONL and YAML; ``None`` when the problem
    concerns the whole file.
    """

    source: str
    row: int | None
    message: str
    unit: str = "row"
    """``row`` for CSV/XLSX, ``line`` for YAML and JSONL."""

    def __str__(self) -> str:
        where = f"{self.source} " if self.source else ""
        if self.row is None:
            return f"{where}{self.message}".strip()
        return f"{where}{self.unit} {self.row}: {self.message}"


class CorpusError(RetrievalError):
    """A corpus could not be loaded; ``errors`` lists every row error, nothing was applied."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors: tuple[RowError, ...] = tuple(errors)
        shown = "\n".join(str(e) for e in self.errors[:50])
        more = f"\n… and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{len(self.errors)} error(s) in the FAQ corpus:\n{shown}{more}")


class IndexFormatError(RetrievalError):
    """A persisted index directory is missing, incomplete or from another version."""


EncoderError = _EncoderError
"""An encoder spec is invalid or its model cannot be loaded (from ``bot.encoders``)."""
