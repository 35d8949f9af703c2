"""The inbound pipeline and its routes."""

from bot.dialogue.pipeline import Pipeline
from bot.dialogue.turn import Route, Turn, Understanding

__all__ = ["Pipeline", "Route", "Turn", "Understanding"]
