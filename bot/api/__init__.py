"""The admin REST API under ``/api/v1/`` (tokens for scripts, sessions for the console)."""

from bot.api.routes import add_api_routes

__all__ = ["add_api_routes"]
