"""``linli households import --committee ID FILE``: households from CSV/XLSX into the
database, all or nothing (every bad row named in Chinese). The database is migrated first,
like ``linli serve`` does."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from pathlib import Path

import yaml

from bot.domain import Registry, RegistryError, StoreUnavailable
from bot.domain.tickets import Actor, ActorKind
from bot.households.importing import ImportRejected, load_households
from bot.households.service import Households
from bot.settings import Settings, load_settings
from bot.storage.households import HouseholdRecord
from bot.storage.sql.database import Database
from bot.storage.sql.household_repo import SqlHouseholdStore


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``households`` and its sub-commands to the ``linli`` parser's sub-parsers."""
    households = sub.add_parser("households", help="households (户) of a committee")
    cmds = households.add_subparsers(dest="households_command", required=True)
    imp = cmds.add_parser("import", help="import households from a CSV or XLSX file")
    imp.add_argument("--committee", required=True, help="committee id, e.g. puxiong")
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=_import)


def _import(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None))
    try:
        registry = _registry(settings)
        committee = registry.committee(args.committee)
    except RegistryError:
        print(f"linli: 没有这个居委会：{args.committee}", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"linli: 找不到文件 {args.file}", file=sys.stderr)
        return 2
    try:
        records = load_households(args.file, committee)
    except ImportRejected as exc:
        print("文件中有错误，没有导入任何内容。请修改后重新导入：", file=sys.stderr)
        for line in exc.errors:
            print(f"  {line}", file=sys.stderr)
        return 1
    try:
        counts = asyncio.run(_store(settings, registry, committee.id, records))
    except StoreUnavailable as exc:
        print(f"linli: 数据库不可用（{exc}）", file=sys.stderr)
        return 3
    print(
        f"已导入 {committee.name}：新增 {counts[0]} 户，更新 {counts[1]} 户，未变 {counts[2]} 户。"
    )
    return 0


async def _store(
    settings: Settings, registry: Registry, committee: str, records: list[HouseholdRecord]
) -> tuple[int, int, int]:
    db = Database.connect(settings.effective_database_url, pool_connections=2)
    try:
        await db.migrate()
        service = Households(
            SqlHouseholdStore(db),
            registry,
            retention_days=settings.household_binding_retention_days,
            code_ttl=timedelta(hours=settings.household_code_ttl_hours),
        )
        counts = await service.import_records(
            committee, records, Actor(ActorKind.SYSTEM, "cli", "命令行导入")
        )
        return counts.created, counts.updated, counts.unchanged
    finally:
        await db.close()


def _registry(settings: Settings) -> Registry:
    path = settings.knowledge_dir / "registry.yaml"
    return Registry.from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))
