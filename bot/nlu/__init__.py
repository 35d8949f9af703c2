"""Natural-language understanding: what a resident wants (intent), where/when/who
(entities), and whether it is an emergency.

Public API: ``NluService`` (built by the composition root), ``ParseResult``/``Entity``,
``CrisisRules``, ``extract_entities``, ``train``/``load_latest``, ``RasaNluClient``.
Nothing loads at import time.
"""

from bot.nlu.classifier import ClassifierConfig, IntentClassifier
from bot.nlu.crisis import CrisisRules, guess_category
from bot.nlu.data import TrainingData, load_training_data
from bot.nlu.encoder import SentenceEncoder, Usem3SentenceEncoder
from bot.nlu.entities import EntityExtractor, extract_entities, validate_phone
from bot.nlu.errors import ModelError, NluError, RasaUnavailable, TrainingDataError
from bot.nlu.model import TrainedModel, load_latest, load_model, save_model, train
from bot.nlu.normalize import normalize
from bot.nlu.rasa import RasaNluClient
from bot.nlu.service import NluService, Thresholds
from bot.nlu.types import (
    ACTION_INTENTS,
    EMERGENCY,
    FALLBACK,
    LINLI_INTENTS,
    OUT_OF_SCOPE,
    EmergencyCategory,
    EmergencyHit,
    Entity,
    IntentScore,
    ParseResult,
)

__all__ = [
    "ACTION_INTENTS",
    "EMERGENCY",
    "FALLBACK",
    "LINLI_INTENTS",
    "OUT_OF_SCOPE",
    "ClassifierConfig",
    "CrisisRules",
    "EmergencyCategory",
    "EmergencyHit",
    "Entity",
    "EntityExtractor",
    "IntentClassifier",
    "IntentScore",
    "ModelError",
    "NluError",
    "NluService",
    "ParseResult",
    "RasaNluClient",
    "RasaUnavailable",
    "SentenceEncoder",
    "Thresholds",
    "TrainedModel",
    "TrainingData",
    "TrainingDataError",
    "Usem3SentenceEncoder",
    "extract_entities",
    "guess_category",
    "load_latest",
    "load_model",
    "load_training_data",
    "normalize",
    "save_model",
    "train",
    "validate_phone",
]
