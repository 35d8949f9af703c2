"""The admin API's OpenAPI document: it is a valid OpenAPI 3.1 document, it documents exactly
the app's ``/api/v1`` routes, and a schemathesis run against the real app (real stores, real
pipeline, real API tokens) finds no server error and no response that breaks the document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import jsonschema_rs
import pytest
import requests
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import APIOperation, BaseSchema, Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.accounts.http import ACCOUNTS, PUBLIC_API_PATHS
from bot.api.openapi import OPENAPI_PATH, REQUEST_MODELS, openapi_document
from bot.app import build_app
from bot.encoders import Encoder
from bot.settings import Settings

Operation = APIOperation[Any, Any, Any, Any]

HOOK = "hook-token"
MAX_EXAMPLES = 25
SEEDED_FAQ = "cert-residence-permit-apply"
"""An entry of the sample corpus every app is seeded with."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(autouse=True)
def _hypothesis_home(tmp_path: Path) -> Iterator[None]:
    """Keep Hypothesis' caches out of the working tree."""
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    yield
    set_hypothesis_home_dir(None)


def test_document_is_valid_openapi_3_1() -> None:
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1.")
    schema = schemathesis.openapi.from_dict(doc)
    schema.validate()  # the OpenAPI 3.1 meta-schema
    assert len(operations(schema)) == 60
    for name, component in doc["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(component), name
    assert "$defs" not in json.dumps(doc)


def test_request_bodies_are_the_pydantic_models() -> None:
    schemas = openapi_document()["components"]["schemas"]
    for model in REQUEST_MODELS:
        expected = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in expected.pop("$defs", {}).items():
            assert schemas[name] == definition
        assert schemas[model.__name__] == expected
    assert schemas["StatusIn"]["properties"]["status"]["enum"] == [
        "in_progress",
        "waiting_resident",
        "resolved",
        "closed",
        "reopened",
    ]


def test_security_per_operation() -> None:
    paths = openapi_document()["paths"]
    assert paths["/api/v1/messages"]["post"]["security"] == [{"webhookBearer": []}]
    assert paths[OPENAPI_PATH]["get"]["security"] == []
    reply = paths["/api/v1/conversations/{key}/reply"]["post"]
    assert {"consoleSession": [], "csrfToken": []} in reply["security"]
    assert "security" not in paths["/api/v1/tickets"]["get"]  # the document's default


# --- against the running app -------------------------------------------------------------------
@dataclass
class Seed:
    base_url: str
    tokens: list[str]
    conversation: str
    ticket: str


@pytest.fixture
async def running(
    settings_factory: Callable[..., Settings], backend: dict[str, str], encoder: Encoder
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = settings_factory(
        **backend,
        handoff_around_the_clock=True,
        channels={"webhook": {"tokens": [HOOK], "committee": "puxiong"}},
    )
    app = await build_app(settings, encoder=encoder)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client
    await client.close()


async def seed(client: TestClient[web.Request, web.Application]) -> Seed:
    """Real API tokens (a caseworker and a street admin) and a real ticket and conversation,
    made through the app's own paths."""
    accounts = client.app[ACCOUNTS]
    await accounts.add_user("zhangmin", "caseworker", "puxiong", "Str0ng-pass-123", "张敏")
    await accounts.add_user("jiedao", "street_admin", None, "Str0ng-pass-456", "街道")
    tokens = [(await accounts.create_token(n, "schemathesis"))[0] for n in ("zhangmin", "jiedao")]
    resp = await client.post(
        "/api/v1/messages",
        json={
            "message_id": "seed-1",
            "chat": {"id": "p-u1", "type": "private"},
            "sender": {"id": "u1", "name": "王阿姨"},
            "text": "普陀一村5号楼302室卫生间水龙头坏了关不紧，电话13800138000",
        },
        headers={"Authorization": f"Bearer {HOOK}"},
    )
    assert resp.status == 200, await resp.text()
    ticket = (await resp.json())["ticket"]
    assert ticket is not None
    return Seed(
        base_url=str(client.make_url("/")).rstrip("/"),
        tokens=tokens,
        conversation="puxiong:webhook:default:p:u1",
        ticket=ticket["number"],
    )


def operations(schema: BaseSchema) -> list[Operation]:
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        found.append(result.ok())
    return found


def fuzz(seed: Seed) -> list[str]:
    """Run every operation of the served document (blocking: call it off the event loop).
    Returns the operations exercised."""
    schema = schemathesis.openapi.from_url(f"{seed.base_url}{OPENAPI_PATH}")
    schema.validate()
    with requests.Session() as session:
        return [fuzz_operation(op, seed, session) for op in operations(schema)]


def fuzz_operation(operation: Operation, seed: Seed, session: requests.Session) -> str:
    """Positive and negative cases, with generated path parameters and with the seeded
    conversation/ticket (so the handlers really act, not only answer 404), through either
    token. Raises on the first failing check (schemathesis reports the shrunk case)."""
    known = {"key": seed.conversation, "number": seed.ticket, "faq_id": SEEDED_FAQ}
    fixed = {p.name: known[p.name] for p in operation.path_parameters if p.name in known}
    strategies = []
    for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(generation_mode=mode))
        if fixed:
            strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    webhook = operation.path == "/api/v1/messages"

    @settings(
        max_examples=MAX_EXAMPLES * len(strategies),
        deadline=timedelta(seconds=10),
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies), token=st.sampled_from(seed.tokens))
    def run(case: Case[Operation], token: str) -> None:
        auth = {"Authorization": f"Bearer {HOOK if webhook else token}"}
        response = case.call(base_url=seed.base_url, session=session, headers=auth, timeout=20)
        case.validate_response(response, checks=CHECKS, headers=auth)

    run()
    return operation.label


async def test_schemathesis_finds_no_server_error(
    running: TestClient[web.Request, web.Application],
) -> None:
    data = await seed(running)
    served = await (await running.get(OPENAPI_PATH)).json()  # public: no token
    assert served == openapi_document()
    routes = {
        (route.method, route.resource.canonical)
        for route in running.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method != "HEAD"
    }
    documented = {
        (method.upper(), path) for path, item in served["paths"].items() for method in item
    }
    assert documented == routes
    assert {path for _, path in documented} >= PUBLIC_API_PATHS

    done = await asyncio.to_thread(fuzz, data)
    # Loaded over HTTP, schemathesis leaves out the endpoint that served the document.
    assert sorted(done) == sorted(f"{m} {p}" for m, p in documented if p != OPENAPI_PATH)
    # The seeded ticket was really worked on by the run (not only 404s).
    history = await running.get(
        f"/api/v1/tickets/{data.ticket}", headers={"Authorization": f"Bearer {data.tokens[0]}"}
    )
    events: list[dict[str, Any]] = (await history.json())["events"]
    assert any(e["kind"] != "created" for e in events)


async def test_webhook_refuses_nul_cleanly(
    running: TestClient[web.Request, web.Application],
) -> None:
    """A NUL in a webhook field must be refused (4xx) or stored, never a 500."""
    resp = await running.post(
        "/api/v1/messages",
        json={
            "message_id": "nul\x00id",
            "chat": {"id": "p-u9", "type": "private"},
            "sender": {"id": "u9", "name": "王阿姨"},
            "text": "你好",
        },
        headers={"Authorization": f"Bearer {HOOK}"},
    )
    assert resp.status < 500, await resp.text()
