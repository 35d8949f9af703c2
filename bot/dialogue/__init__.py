"""The inbound pipeline and its routes."""

from bot.dialogue.pipeline import Pipeline
from bot.dialogue.turn import Route, Turn

__all__ = ["Pipeline", "Route", "Turn"]
