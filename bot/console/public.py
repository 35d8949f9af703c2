"""What the residents' pages reached by a signed link from the chat share (the voting page,
a notice's page): no login — the token in the address is the credential — so each response
is never cached and sends no referrer (the token does not leak to other sites), may not be
framed, and runs under the console's content security policy. A form on such a page sends
the token again in its body, which a page on another site cannot know (CSRF), and a POST
whose ``Origin`` is another site is refused as well."""

from __future__ import annotations

import hmac
from typing import Any

import jinja2
from aiohttp import web

from bot.console.rendering import TEMPLATES
from bot.console.security import CSP

MAX_FORM_BYTES = 4096

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def page(template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    html = _ENV.get_template(template).render(**context)
    resp = web.Response(text=html, content_type="text/html", status=status)
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


async def checked_form(request: web.Request, token: str) -> tuple[int, Any]:
    """The posted form of a page reached with ``token``: ``(0, form)``, or ``(status, None)``
    when it came from another site, is too large or does not carry the token."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.host:
        return 403, None
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        return 413, None
    form = await request.post()
    sent = form.get("token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), token.encode()):
        return 403, None
    return 0, form
