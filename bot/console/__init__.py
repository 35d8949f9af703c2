"""The caseworker/admin web console (``/console/``), an aiohttp sub-application the composition
root mounts at ``PREFIX``: its pages, the login and logout views, its guard (CSRF on every
unsafe request, login required outside the public pages, Chinese error pages), the security
headers, the templates and the static files.

It builds nothing: the handlers read the services the composition root put on the root
application (``request.config_dict``), including the account service, the authenticator and
the set of open live event streams (``STREAMS``, ended by ``stop_streams`` at shutdown); the
session middleware (``bot.console.session.cookie_storage``) is installed on the root too,
as the admin API shares the login session."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from bot.console.alerts import add_alert_pages
from bot.console.consultations import add_consultation_pages
from bot.console.faqs import add_faq_pages
from bot.console.households import add_household_pages
from bot.console.insights import add_insight_pages
from bot.console.notices import add_notice_pages
from bot.console.pages import STREAMS, add_console_pages, stop_streams
from bot.console.rendering import render, setup_templates
from bot.console.security import PREFIX, add_security_headers, console_middleware
from bot.console.session import ConsoleConfigError
from bot.console.views import add_auth_routes
from bot.domain import Registry
from bot.settings import Settings

__all__ = ["PREFIX", "STREAMS", "ConsoleConfigError", "console_app", "render", "stop_streams"]


def console_app(
    settings: Settings,
    registry: Registry,
    extra_routes: Iterable[web.AbstractRouteDef] = (),
) -> web.Application:
    """The console, to mount at ``PREFIX``; ``extra_routes`` (paths below the prefix) are
    served behind the same guard."""
    console = web.Application(middlewares=[console_middleware()])
    add_security_headers(console, settings)
    setup_templates(console, registry)
    add_console_pages(console)  # the inbox is the home page
    add_alert_pages(console)
    add_faq_pages(console)
    add_insight_pages(console)
    add_household_pages(console)
    add_notice_pages(console)
    add_consultation_pages(console)
    add_auth_routes(console)
    console.router.add_routes(extra_routes)
    return console
