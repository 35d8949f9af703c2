"""``linli kb import`` and ``linli kb export``: the committee's FAQ corpus in the database
(what the running bot answers from) to and from the files admins keep (YAML, JSONL, CSV, XLSX).
An import is all or nothing; running bots pick it up (at once over Redis, else by polling)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.app import build_state, load_registry
from bot.domain import Registry
from bot.domain.faq import FaqEntry
from bot.faqs.service import FaqService
from bot.faqs.validation import InvalidFaq
from bot.retrieval import FORMATS, CorpusError, export_corpus, load_corpus
from bot.settings import Settings, load_settings
from bot.storage.sql import Database, SqlFaqStore


def extend(kb_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imp = kb_sub.add_parser("import", help="import FAQ files into the database (all or nothing)")
    imp.add_argument("files", nargs="+", type=Path, help="YAML, JSONL, CSV or XLSX files/folders")
    imp.add_argument("--committee", help="committee id (default: the webhook's committee)")
    imp.add_argument("--actor", default="cli", help="who is recorded as making the change")
    imp.set_defaults(handler=cmd_import)

    exp = kb_sub.add_parser("export", help="export the committee's FAQ from the database")
    exp.add_argument("--committee", help="committee id (default: the webhook's committee)")
    exp.add_argument("--format", choices=FORMATS, help="default: from the output's suffix")
    exp.add_argument("--out", type=Path, required=True, help="file (or folder for YAML)")
    exp.set_defaults(handler=cmd_export)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def cmd_import(args: argparse.Namespace) -> int:
    settings = _settings(args)
    registry = load_registry(settings)
    committee = args.committee or settings.channels.webhook.committee
    if not registry.has_committee(committee):
        print(f"linli: unknown committee {committee!r}", file=sys.stderr)
        return 2
    try:
        entries = load_corpus(list(args.files), registry, committee)
    except CorpusError as exc:
        print(f"nothing imported: {exc}", file=sys.stderr)
        return 1
    try:
        summary = asyncio.run(_import(settings, registry, committee, entries, args.actor))
    except InvalidFaq as exc:
        print(f"nothing imported: {'; '.join(exc.errors.values())}", file=sys.stderr)
        return 1
    print(
        f"imported {len(entries)} FAQ entries into {committee}: "
        f"{summary[0]} new, {summary[1]} changed, {summary[2]} unchanged"
    )
    return 0


async def _import(
    settings: Settings, registry: Registry, committee: str, entries: list[FaqEntry], actor: str
) -> tuple[int, int, int]:
    """Save and apply like the console's import: running bots are told over the corpus
    channel (with Redis; on the embedded default they notice by polling)."""
    db = Database.connect(settings.effective_database_url, pgbouncer=settings.db_pgbouncer)
    state = build_state(settings)
    try:
        await db.migrate()
        faqs = FaqService(SqlFaqStore(db), state, registry)
        result = await faqs.import_entries(committee, entries, actor)
    finally:
        await state.close()
        await db.close()
    return result.created, result.updated, result.unchanged


def cmd_export(args: argparse.Namespace) -> int:
    settings = _settings(args)
    committee = args.committee or settings.channels.webhook.committee
    rows = asyncio.run(_load(settings, committee))
    if not rows:
        print(
            f"linli: {committee} has no FAQ in the database yet "
            "(start the bot once to load the sample corpus, or use kb import)",
            file=sys.stderr,
        )
        return 1
    written = export_corpus(rows, args.out, args.format)
    print(f"exported {len(rows)} FAQ entries to {', '.join(str(p) for p in written)}")
    return 0


async def _load(settings: Settings, committee: str) -> list[FaqEntry]:
    db = Database.connect(settings.effective_database_url, pgbouncer=settings.db_pgbouncer)
    try:
        await db.migrate()
        return [FaqEntry.from_dict(r) for r in await SqlFaqStore(db).load(committee)]
    finally:
        await db.close()
