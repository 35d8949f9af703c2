"""The dependency direction points inward: an inner package never imports an outer one, the
packages form no cycle, and only the composition root and the command line import the
concrete stores (SQL, Redis, in-process state). Every kind of import statement counts:
``import bot.x``, ``from bot.x import y``, ``from bot import x`` and relative imports, at
module level or inside a function."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"

# Every package and module directly under bot/ → the ones it may import (besides itself),
# innermost first.
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "logs": set(),
    "settings": set(),
    "metrics": set(),
    "background": set(),
    # Whether a serving process has loaded its models; holds the intake's pipeline till then.
    "readiness": {"domain"},
    "encoders": {"domain"},
    "heap": set(),
    "segmenter": {"heap"},
    "tables": set(),
    "edge": {"settings"},
    "storage": {"domain", "logs"},
    "nlu": {"domain", "encoders", "segmenter", "settings"},
    "retrieval": {"domain", "encoders", "segmenter", "tables"},
    # Households (户): the registry's rooms, residents' bindings, labels, the access log.
    "households": {"domain", "storage", "tables", "settings", "logs"},
    # Notices (通知): sent through a NoticeOut protocol (``channels/group.py`` implements it).
    "notices": {"domain", "storage", "settings", "logs", "households"},
    # Consultations (征询意见): the rules, votes, links and export; over households.
    "consultations": {"domain", "storage", "households", "logs"},
    "tickets": {"domain", "storage", "logs"},
    "accounts": {"domain", "storage", "settings", "logs"},
    # Staff alerts send through a RobotSender protocol (the channels implement it).
    "alerts": {"domain", "storage", "settings", "tickets", "background", "logs"},
    # Group etiquette's decisions live in ``dialogue/etiquette.py`` (a pipeline step); what
    # a channel can do in a group (post, private replies, rate limit) in ``channels/group.py``,
    # which the composition root hands it as a ``GroupOut``: dialogue never imports channels.
    "dialogue": {
        "domain",
        "metrics",
        "storage",
        "nlu",
        "retrieval",
        "tickets",
        "alerts",
        "background",
        "logs",
        "consultations",
        "households",
        "notices",
    },
    "channels": {"domain", "storage", "settings", "background", "logs"},
    "insights": {"domain", "storage", "encoders", "retrieval", "tickets", "logs"},
    "faqs": {"domain", "storage", "retrieval", "logs"},
    "playground": {"domain", "storage", "settings", "logs"},
    # The loops a running bot keeps (outbox, sweeps, recovery, corpus changes) and the
    # operators' views (health, metrics): both read the services off the application.
    "periodic": {"domain", "storage", "appkeys", "logs", "households", "notices"},
    "operations": {"domain", "edge", "appkeys"},
    # The typed keys of what the composition root puts on the application.
    "appkeys": {
        "domain",
        "readiness",
        "settings",
        "metrics",
        "background",
        "storage",
        "nlu",
        "retrieval",
        "tickets",
        "accounts",
        "alerts",
        "dialogue",
        "channels",
        "insights",
        "faqs",
        "consultations",
        "households",
        "notices",
    },
    "api": {
        "domain",
        "settings",
        "storage",
        "retrieval",
        "tickets",
        "accounts",
        "alerts",
        "dialogue",
        "channels",
        "insights",
        "faqs",
        "appkeys",
        "logs",
        "consultations",
        "households",
        "notices",
        "tables",
    },
    "console": {
        "domain",
        "settings",
        "storage",
        "retrieval",
        "tickets",
        "accounts",
        "alerts",
        "dialogue",
        "insights",
        "faqs",
        "appkeys",
        "logs",
        "consultations",
        "households",
        "notices",
    },
    # The composition root: everything but the command line.
    "app": {
        "domain",
        "logs",
        "settings",
        "metrics",
        "background",
        "encoders",
        "heap",
        "segmenter",
        "edge",
        "storage",
        "nlu",
        "retrieval",
        "tickets",
        "accounts",
        "alerts",
        "dialogue",
        "channels",
        "insights",
        "faqs",
        "playground",
        "appkeys",
        "readiness",
        "periodic",
        "operations",
        "api",
        "console",
        "consultations",
        "households",
        "notices",
        "tables",
    },
    # ``linli kb import|export`` (registered by the CLI) builds its stores like the root does.
    "kb_admin": {"domain", "logs", "settings", "storage", "retrieval", "faqs", "app"},
    "cli": {
        "domain",
        "logs",
        "settings",
        "edge",
        "storage",
        "nlu",
        "retrieval",
        "encoders",  # ``linli serve`` pins the worker's BLAS threads before building the app
        "accounts",
        "app",
        "appkeys",  # ``linli serve`` exits 1 when the app's models failed to load
        "kb_admin",
        "households",
    },
}

# Inside ``bot/tickets``, one module per idea → the modules of the package it may import.
# The parts (intake, workflow, satisfaction, outbox, queries) never import one another: they
# share how a ticket changes (``changes``), the texts, the duplicate rule and the SLA rules.
# Only ``parts`` (the holder the composition root builds) and ``__init__`` see every part.
TICKET_MODULES: dict[str, set[str]] = {
    "texts": set(),
    "similarity": set(),
    "sla": set(),
    "dashboard": {"sla"},
    "changes": {"texts", "similarity", "sla"},
    "intake": {"changes", "texts", "similarity", "sla"},
    "workflow": {"changes", "texts", "sla"},
    "satisfaction": {"changes", "texts", "sla"},
    "outbox": {"changes"},
    "queries": {"changes", "dashboard", "sla"},
    "parts": {"changes", "intake", "workflow", "satisfaction", "outbox", "queries", "sla"},
}

CONCRETE_STORES = ("bot.storage.sql", "bot.storage.state_redis", "bot.storage.state_memory")
"""Modules (and their submodules) that implement the store ports: SQLAlchemy on SQLite or
PostgreSQL, Redis, and the in-process state."""

ROOT_MODULES = {"bot.app", "bot.appkeys"}
"""The composition root builds the stores; ``appkeys`` types the database handle it keeps
(nothing reaching it there can build a store or a query without importing a concrete store)."""

CLI_MODULES = {"bot.cli", "bot.accounts.cli", "bot.kb_admin", "bot.households.cli"}
"""``linli`` and the commands it registers that open the stores themselves."""


def module_name(root: Path, path: Path) -> str:
    """``<root>/accounts/cli.py`` → ``bot.accounts.cli`` (``root`` is the ``bot`` directory)."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(root: Path, path: Path) -> set[str]:
    """Every dotted name a module imports, relative imports resolved; ``from a import b``
    gives both ``a`` and ``a.b`` (``b`` may be a module or a name inside ``a``)."""
    module = module_name(root, path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level - 1 >= len(base):
                    raise ValueError(f"{path}: relative import beyond the top package")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return found


def top_level(name: str, top: str = "bot") -> str | None:
    """The entry directly under ``bot`` a dotted name belongs to (``bot.a.b`` → ``a``)."""
    parts = name.split(".")
    return parts[1] if parts[0] == top and len(parts) > 1 else None


def entries(root: Path) -> set[str]:
    """The packages and modules directly under ``root``."""
    found = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    found |= {p.stem for p in root.glob("*.py") if p.name != "__init__.py"}
    return found


def sources(root: Path, entry: str) -> list[Path]:
    target = root / entry
    return sorted(target.rglob("*.py")) if target.is_dir() else [root / f"{entry}.py"]


def outward_imports(root: Path, entry: str, allowed: Mapping[str, set[str]]) -> list[str]:
    """``file imports [entries]`` for every import of ``entry`` not in ``allowed[entry]``."""
    found = []
    for path in sources(root, entry):
        used = {t for n in imported_names(root, path) if (t := top_level(n, root.name))}
        outward = used - allowed.get(entry, set()) - {entry}
        if outward:
            found.append(f"{path.relative_to(root)} imports {sorted(outward)}")
    return found


def concrete_store_imports(root: Path, allowed_modules: set[str]) -> list[str]:
    """``file imports name`` for every concrete store imported outside ``bot.storage`` by a
    module that is neither the composition root nor the command line."""
    top = root.name
    stores = tuple(s.replace("bot", top, 1) for s in CONCRETE_STORES)
    storage = f"{top}.storage"
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(root, path)
        if module in allowed_modules or module == storage or module.startswith(storage + "."):
            continue
        for name in sorted(imported_names(root, path)):
            if any(name == s or name.startswith(s + ".") for s in stores):
                found.append(f"{path.relative_to(root)} imports {name}")
    return found


def module_imports(root: Path, package: str, allowed: Mapping[str, set[str]]) -> list[str]:
    """Inside package ``package`` of ``root``: a module not declared in ``allowed``, and
    ``file imports [names]`` for every sibling module (or name taken from the package's
    ``__init__``) a module imports beyond ``allowed[module]``. ``__init__`` may import all."""
    here = root / package
    prefix = f"{root.name}.{package}."
    present = {p.stem for p in here.glob("*.py") if p.name != "__init__.py"}
    found = [f"{package}/{m}.py is not declared" for m in sorted(present - set(allowed))]
    for path in sorted(here.glob("*.py")):
        if path.name == "__init__.py":
            continue
        used = {
            n.removeprefix(prefix).split(".")[0]
            for n in imported_names(root, path)
            if n.startswith(prefix)
        }
        extra = used - allowed.get(path.stem, set()) - {path.stem}
        if extra:
            found.append(f"{package}/{path.name} imports {sorted(extra)}")
    return found


def cycles(allowed: Mapping[str, set[str]]) -> list[list[str]]:
    """Cycles of the allowed graph (each found once from its first node in a DFS)."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            found.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for nxt in sorted(allowed.get(node, set())):
            visit(nxt, [*path, node])
        done.add(node)

    for node in sorted(allowed):
        visit(node, [])
    return found


def problems(root: Path, allowed: Mapping[str, set[str]], root_and_cli: set[str]) -> Iterator[str]:
    """Everything the checks below find in one tree (for the planted-violation test)."""
    for entry in sorted(entries(root) - set(allowed)):
        yield f"{entry} is not declared"
    for entry in sorted(entries(root) & set(allowed)):
        yield from outward_imports(root, entry, allowed)
    yield from concrete_store_imports(root, root_and_cli)
    for cycle in cycles(allowed):
        yield "cycle " + " -> ".join(cycle)


def test_every_package_and_module_of_bot_is_declared() -> None:
    present = entries(BOT)
    assert present - set(ALLOWED) == set(), "declare where a new package sits in ALLOWED"
    assert set(ALLOWED) - present == set(), "ALLOWED names a package that no longer exists"
    for entry, targets in ALLOWED.items():
        assert targets <= set(ALLOWED), f"{entry} may import unknown {targets - set(ALLOWED)}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_inward(package: str) -> None:
    assert sources(BOT, package), f"no source for {package}"
    assert outward_imports(BOT, package, ALLOWED) == []


def test_the_packages_form_no_cycle() -> None:
    assert cycles(ALLOWED) == []


def test_the_ticket_parts_import_only_what_they_share() -> None:
    assert module_imports(BOT, "tickets", TICKET_MODULES) == []
    assert set(TICKET_MODULES) == {p.stem for p in (BOT / "tickets").glob("*.py")} - {"__init__"}, (
        "TICKET_MODULES names a module that no longer exists"
    )


def test_the_ticket_module_check_finds_planted_violations(tmp_path: Path) -> None:
    root = tmp_path / "bot"
    declared = {"changes": set(), "intake": {"changes"}, "workflow": {"changes"}}
    _write(
        root,
        {
            "__init__.py": "",
            "tickets/__init__.py": "from bot.tickets.intake import TicketIntake\n",
            "tickets/changes.py": "from bot.domain import x\n",
            "tickets/intake.py": "from bot.tickets.changes import Change\n",
            "tickets/workflow.py": "from .changes import Change\n",
        },
    )
    assert module_imports(root, "tickets", declared) == []
    _write(
        root,
        {
            "tickets/workflow.py": "from .intake import TicketIntake\n",
            "tickets/outbox.py": "from bot.tickets import TicketIntake\n",
        },
    )
    assert module_imports(root, "tickets", declared) == [
        "tickets/outbox.py is not declared",
        "tickets/outbox.py imports ['TicketIntake']",
        "tickets/workflow.py imports ['intake']",
    ]


def test_only_the_composition_root_and_the_cli_import_concrete_stores() -> None:
    assert concrete_store_imports(BOT, ROOT_MODULES | CLI_MODULES) == []


def test_the_cli_modules_are_commands_of_linli() -> None:
    """A module is exempt as "the CLI" only if ``linli`` (``bot/cli.py``) registers it."""
    registered = imported_names(BOT, BOT / "cli.py")
    for module in CLI_MODULES - {"bot.cli"}:
        assert module in registered, f"{module} is not a command of bot/cli.py"


def _write(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


CLEAN_TREE = {
    "__init__.py": "",
    "domain/__init__.py": '"""Inner."""\n',
    "storage/__init__.py": "",
    "storage/state.py": "from bot.domain import x\n",
    "storage/sql/__init__.py": "from ..state import StateStore\nfrom . import models\n",
    "storage/sql/models.py": "",
    "api/__init__.py": "from bot.storage.state import StateStore\n",
    "app.py": "from bot import api\nfrom bot.storage.sql import Database\n",
}
PLANTED_ALLOWED = {
    "domain": set(),
    "storage": {"domain"},
    "api": {"domain", "storage"},
    "app": {"domain", "storage", "api"},
}


def test_the_checks_find_violations_planted_in_a_tree(tmp_path: Path) -> None:
    root = tmp_path / "bot"
    _write(root, CLEAN_TREE)
    assert list(problems(root, PLANTED_ALLOWED, {"bot.app"})) == []

    _write(
        root,
        {
            # the forms the first version of this test did not read
            "domain/reach.py": "from bot import api\n",
            "domain/sub/__init__.py": "",
            "domain/sub/deep.py": "from ...storage import state\n",
            "api/handlers.py": "from ..storage.sql import Database\n",
            "api/lazy.py": "def f():\n    import bot.storage.sql.models\n",
            "api/direct.py": "from bot.storage import sql\n",
            "newpkg/__init__.py": "",
        },
    )
    found = list(problems(root, PLANTED_ALLOWED, {"bot.app"}))
    assert "newpkg is not declared" in found
    assert "domain/reach.py imports ['api']" in found
    assert "domain/sub/deep.py imports ['storage']" in found
    assert "api/handlers.py imports bot.storage.sql" in found
    assert "api/lazy.py imports bot.storage.sql.models" in found
    assert "api/direct.py imports bot.storage.sql" in found
    assert not any(f.startswith("app.py") for f in found)  # the root may

    cyclic = {**PLANTED_ALLOWED, "storage": {"domain", "api"}}
    assert "cycle api -> storage -> api" in list(problems(root, cyclic, {"bot.app"}))
