"""FAQ retrieval: corpus import/export, a hybrid dense + keyword index per committee, three
search outcomes (answer / clarify / none), and the texts a resident reads.

Depends on ``bot.domain`` only. Models load lazily inside the objects the composition root
builds; CPU-bound calls have async wrappers that run them in an executor.
"""

from bot.encoders import Encoder, SentenceTransformerEncoder, Usem3Encoder, load_encoder
from bot.retrieval.corpus import FORMATS, export_corpus, infer_format, load_corpus
from bot.retrieval.encoder import EmbeddingCache
from bot.retrieval.errors import (
    CorpusError,
    EncoderError,
    IndexFormatError,
    RetrievalError,
    RowError,
)
from bot.retrieval.formatting import format_answer, format_clarify, parse_choice
from bot.retrieval.index import FaqIndex, IndexStore, ScoringConfig
from bot.retrieval.normalize import Normalizer
from bot.retrieval.service import (
    Hit,
    NoIndexError,
    RetrievalService,
    SearchOutcome,
    Thresholds,
    decide,
)

__all__ = [
    "FORMATS",
    "CorpusError",
    "EmbeddingCache",
    "Encoder",
    "EncoderError",
    "FaqIndex",
    "Hit",
    "IndexFormatError",
    "IndexStore",
    "NoIndexError",
    "Normalizer",
    "RetrievalError",
    "RetrievalService",
    "RowError",
    "ScoringConfig",
    "SearchOutcome",
    "SentenceTransformerEncoder",
    "Thresholds",
    "Usem3Encoder",
    "decide",
    "export_corpus",
    "format_answer",
    "format_clarify",
    "infer_format",
    "load_corpus",
    "load_encoder",
    "parse_choice",
]
