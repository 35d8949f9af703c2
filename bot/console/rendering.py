"""Server-rendered console pages: one Jinja environment (autoescape on, strict undefined) over
``bot/console/templates``, and ``render`` which adds what every page needs (the logged-in
user, the CSRF token, the committee or street office shown in the header)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.accounts.http import csrf_token, current_user
from bot.console.alerts import alert_banner
from bot.domain import Registry, RegistryError, StoreUnavailable
from bot.domain.accounts import Principal
from bot.domain.faq import topic_label

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_URL = "/console/static"

CONSOLE_REGISTRY = web.AppKey("console_registry", Registry)


def setup_templates(console: web.Application, registry: Registry) -> jinja2.Environment:
    """The console's Jinja environment (aiohttp-jinja2's default app key) and static files,
    on the console's sub-application."""
    env = aiohttp_jinja2.setup(
        console,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["topic_label"] = topic_label
    console[aiohttp_jinja2.static_root_key] = STATIC_URL
    console[CONSOLE_REGISTRY] = registry
    # STATIC_URL below the console's prefix:
    console.router.add_static("/static/", STATIC, name="console_static", append_version=True)
    return env


async def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    """Render a console template. Every template sees ``user`` (a Principal or None),
    ``csrf_token`` (put it in each form as ``<input type="hidden" name="csrf_token">``) and
    ``scope_label`` (the user's committee, or the street office for a street admin) and
    ``alert_banner`` (why urgent alerts reach nobody, or "")."""
    try:
        user = await current_user(request)
    except StoreUnavailable:
        user = None
    base: dict[str, Any] = {
        "user": user,
        "csrf_token": await csrf_token(request),
        "scope_label": scope_label(request.config_dict[CONSOLE_REGISTRY], user),
        "alert_banner": await alert_banner(request, request.config_dict[CONSOLE_REGISTRY], user),
    }
    base.update(context or {})
    return aiohttp_jinja2.render_template(template, request, base, status=status)


def scope_label(registry: Registry, user: Principal | None) -> str:
    if user is None:
        return ""
    if user.committee is None:
        return registry.street_office_name
    try:
        return registry.committee(user.committee).name
    except RegistryError:
        log.warning("user bound to an unknown committee", extra={"committee": user.committee})
        return user.committee
