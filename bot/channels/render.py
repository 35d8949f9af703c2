"""Small text helpers shared by the channels: joining replies, XML-safe text, byte limits,
masking identifiers for logs."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.domain import Reply

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def visible_replies(replies: Iterable[Reply], *, group: bool) -> list[Reply]:
    """Replies that may be shown in this chat: a private reply never goes into a group."""
    return [r for r in replies if r.text and not (group and r.private)]


def join_replies(replies: Iterable[Reply], *, group: bool = False) -> str:
    """Several replies as one message (a passive reply or response_url holds one message)."""
    return "\n\n".join(r.text for r in visible_replies(replies, group=group))


def xml_text(text: str) -> str:
    """``text`` as the body of a CDATA section: characters XML forbids removed, ``]]>`` split."""
    return _XML_INVALID.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def truncate_bytes(text: str, limit: int, marker: str = "…") -> str:
    """``text`` cut at a character boundary so that its UTF-8 form (marker included when
    cut) is at most ``limit`` bytes."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    room = limit - len(marker.encode())
    return raw[: max(room, 0)].decode("utf-8", errors="ignore") + marker


def split_bytes(text: str, limit: int, max_parts: int, marker: str) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` UTF-8 bytes, at line breaks where
    possible. More than ``max_parts`` parts: the last part is cut and ends with ``marker``."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = line if not current else current + "\n" + line
        if len(candidate.encode()) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        while len(line.encode()) > limit:
            head = truncate_bytes(line, limit, marker="") or line[:1]
            parts.append(head)
            line = line[len(head) :]
        current = line
    if current or not parts:
        parts.append(current)
    if len(parts) > max_parts:
        rest = "\n".join(parts[max_parts - 1 :])
        parts = [*parts[: max_parts - 1], truncate_bytes(rest, limit, marker)]
    return parts


def mask(identifier: str) -> str:
    """An identifier shortened for logs (openids and user ids are personal data)."""
    if len(identifier) <= 6:
        return "***"
    return identifier[:4] + "…" + identifier[-2:]
