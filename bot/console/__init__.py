"""The caseworker/admin web console (``/console/``). This part: sessions, login and logout, the
CSRF and login guard, security headers, the base template and the stylesheet; plus the admin
API's authentication (``/api/v1/…`` except the resident webhook).

``setup_console_auth`` is called by the composition root (``bot.app``), which builds the
account service, once the state store and registry are on the application."""

from __future__ import annotations

from collections.abc import Collection

import aiohttp_session
from aiohttp import web

from bot import appkeys
from bot.accounts.http import (
    ACCOUNTS,
    AUTHENTICATOR,
    PUBLIC_API_PATHS,
    TRUSTED_PROXIES,
    api_auth_middleware,
    trusted_networks,
    whoami,
)
from bot.accounts.service import SESSION_TTL_S, AccountService, Authenticator
from bot.accounts.throttle import LoginThrottle
from bot.console.alerts import add_alert_pages
from bot.console.faqs import add_faq_pages
from bot.console.insights import add_insight_pages
from bot.console.pages import add_console_pages
from bot.console.rendering import render, setup_templates
from bot.console.security import add_security_headers, console_middleware
from bot.console.session import ConsoleConfigError, cookie_storage
from bot.console.views import add_auth_routes
from bot.settings import Settings

__all__ = ["ConsoleConfigError", "render", "setup_console_auth"]


def setup_console_auth(
    app: web.Application,
    settings: Settings,
    *,
    accounts: AccountService,
    throttle: LoginThrottle | None = None,
    session_max_age_s: int = SESSION_TTL_S,
    public_api_paths: Collection[str] = PUBLIC_API_PATHS,
) -> AccountService:
    """Mount the console's auth layer on ``app`` around ``accounts`` (the account service
    the composition root made) and return that service.

    Needs ``appkeys.STATE`` and ``appkeys.REGISTRY`` set; call it before
    the console/API routes of other packages are added (order of routes does not matter, but
    the session middleware must be installed before the guards, which this does). Raises
    ConsoleConfigError for an unusable session secret or key file."""
    state, registry = app[appkeys.STATE], app[appkeys.REGISTRY]
    app[ACCOUNTS] = accounts
    app[AUTHENTICATOR] = Authenticator(
        accounts, throttle or LoginThrottle.from_settings(state, settings)
    )
    app[TRUSTED_PROXIES] = trusted_networks(settings.trusted_proxies)

    aiohttp_session.setup(app, cookie_storage(settings, session_max_age_s))
    app.middlewares.append(console_middleware())
    app.middlewares.append(api_auth_middleware(public_api_paths))
    add_security_headers(app, settings)
    setup_templates(app, registry)
    add_console_pages(app)  # the inbox is the home page
    add_alert_pages(app)
    add_faq_pages(app)
    add_insight_pages(app)
    add_auth_routes(app)
    app.router.add_get("/api/v1/me", whoami)
    return accounts
