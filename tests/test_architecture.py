"""The dependency direction points inward: an inner package never imports an outer one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"

# package → the ``bot`` packages/modules it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "encoders": {"domain"},
    "logs": set(),
    "settings": set(),
    # The SQL adapter of the accounts store implements the port bot/accounts/store.py declares.
    "storage": {"domain", "logs", "accounts"},
    "nlu": {"domain", "encoders", "settings"},
    "retrieval": {"domain", "encoders"},
    "tickets": {"domain", "storage", "logs"},
    "accounts": {"domain", "storage", "settings", "logs", "appkeys", "app"},
    # Staff alerts send through a RobotSender protocol (the channels implement it).
    "alerts": {"domain", "storage", "settings", "tickets", "background", "logs"},
    "dialogue": {
        "domain",
        "storage",
        "nlu",
        "retrieval",
        "tickets",
        "alerts",
        "background",
        "logs",
    },
    "channels": {"domain", "storage", "settings", "background", "logs"},
    "insights": {"domain", "storage", "encoders", "retrieval", "tickets", "logs"},
}


def imports_of(path: Path) -> set[str]:
    """The top-level ``bot`` packages a module imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "bot" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_inward(package: str) -> None:
    target = BOT / package
    files = sorted(target.rglob("*.py")) if target.is_dir() else [BOT / f"{package}.py"]
    assert files, f"no source for {package}"
    for path in files:
        outward = imports_of(path) - ALLOWED[package] - {package}
        assert not outward, f"{path.relative_to(BOT)} imports {sorted(outward)}"
