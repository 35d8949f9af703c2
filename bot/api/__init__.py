"""The admin REST API under ``/api/v1/`` (tokens for scripts, sessions for the console), an
aiohttp sub-application the composition root mounts at ``PREFIX``."""

from bot.api.common import PREFIX
from bot.api.routes import api_app

__all__ = ["PREFIX", "api_app"]
