"""The one written form of a building, unit and room, so an imported "20" and a resident's
"20号楼" name the same place: numbers get their suffix (``20号楼``, ``2单元``, ``1201室``);
anything else (``A座``, ``底楼后厢房``) is kept as written, trimmed."""

from __future__ import annotations

import re

_BUILDING = re.compile(r"^(?:第)?\s*(\d{1,4})\s*(?:号楼|号|幢|栋|座|楼)?$")
_UNIT = re.compile(r"^(?:第)?\s*(\d{1,3})\s*(?:单元|门|号门)?$")
_ROOM = re.compile(r"^(\d{1,5})\s*(?:室|号|房)?$")
_SPACES = re.compile(r"\s+")
MAX_PART = 32


def _trim(text: str) -> str:
    return _SPACES.sub("", text.translate(_FULL_WIDTH)).strip()


_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def building(text: str) -> str:
    t = _trim(text)
    m = _BUILDING.match(t)
    return f"{int(m[1])}号楼" if m else t


def unit(text: str) -> str:
    t = _trim(text)
    m = _UNIT.match(t)
    return f"{int(m[1])}单元" if m else t


def room(text: str) -> str:
    t = _trim(text)
    m = _ROOM.match(t)
    return f"{int(m[1])}室" if m else t
