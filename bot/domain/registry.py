"""The street office's committees and their compounds (小区), and which chat serves which."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.errors import RegistryError


@dataclass(frozen=True, slots=True)
class Compound:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    kind: str = ""
    note: str = ""
    buildings: tuple[str, ...] = ()
    group_chats: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class Contacts:
    """Phone numbers and channels that come from configuration, never from the sample data."""

    office_phone: str = ""
    duty_phone: str = ""
    property_phones: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Committee:
    id: str
    name: str
    ticket_prefix: str
    office_place: str = ""
    office_hours: str = ""
    compounds: tuple[Compound, ...] = ()
    contacts: Contacts = field(default_factory=Contacts)

    def compound(self, key: str) -> Compound | None:
        """Find a compound by id, name or alias."""
        for c in self.compounds:
            if key == c.id or key in c.names:
                return c
        return None

    def compound_for_chat(self, chat_id: str) -> Compound | None:
        for c in self.compounds:
            if chat_id in c.group_chats:
                return c
        return None

    def contact_line(self) -> str:
        """How a resident reaches the committee, in Chinese, without inventing anything."""
        ways = []
        if self.office_place:
            ways.append(f"到{self.office_place}")
        if self.contacts.office_phone:
            ways.append(f"拨打居委会电话 {self.contacts.office_phone}")
        line = "，或".join(ways) if ways else f"联系{self.name}"
        if self.office_hours:
            line += f"（办公时间：{self.office_hours}）"
        return line


@dataclass(frozen=True, slots=True)
class Registry:
    street_office_id: str
    street_office_name: str
    committees: tuple[Committee, ...]

    def committee(self, committee_id: str) -> Committee:
        for c in self.committees:
            if c.id == committee_id:
                return c
        raise RegistryError(f"unknown committee {committee_id!r}")

    def has_committee(self, committee_id: str) -> bool:
        return any(c.id == committee_id for c in self.committees)

    def with_contacts(self, contacts: Mapping[str, Contacts]) -> Registry:
        """The same registry with contacts from configuration applied per committee."""
        return Registry(
            self.street_office_id,
            self.street_office_name,
            tuple(
                _replace_contacts(c, contacts[c.id]) if c.id in contacts else c
                for c in self.committees
            ),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Registry:
        """Build from the parsed ``registry.yaml``; raises RegistryError on a malformed file."""
        try:
            office = data.get("street_office") or {}
            committees = []
            seen_chats: dict[str, str] = {}
            seen_prefixes: dict[str, str] = {}
            for raw in data["committees"]:
                compounds = []
                for rc in raw.get("compounds") or []:
                    comp = Compound(
                        id=str(rc["id"]),
                        name=str(rc["name"]),
                        aliases=tuple(str(a) for a in rc.get("aliases") or ()),
                        kind=str(rc.get("kind") or ""),
                        note=str(rc.get("note") or ""),
                        buildings=tuple(str(b) for b in rc.get("buildings") or ()),
                        group_chats=tuple(str(g) for g in rc.get("group_chats") or ()),
                    )
                    for chat in comp.group_chats:
                        if chat in seen_chats:
                            raise RegistryError(
                                f"group chat {chat!r} is mapped to both {seen_chats[chat]} "
                                f"and {comp.id}"
                            )
                        seen_chats[chat] = comp.id
                    compounds.append(comp)
                prefix = str(raw.get("ticket_prefix") or raw["id"][:2].upper())
                if prefix in seen_prefixes:
                    raise RegistryError(
                        f"ticket prefix {prefix!r} is used by both {seen_prefixes[prefix]} "
                        f"and {raw['id']}"
                    )
                seen_prefixes[prefix] = str(raw["id"])
                off = raw.get("office") or {}
                committees.append(
                    Committee(
                        id=str(raw["id"]),
                        name=str(raw["name"]),
                        ticket_prefix=prefix,
                        office_place=str(off.get("place") or ""),
                        office_hours=str(off.get("hours") or ""),
                        compounds=tuple(compounds),
                    )
                )
            return cls(
                str(office.get("id") or ""), str(office.get("name") or ""), tuple(committees)
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise RegistryError(f"malformed registry: {exc!r}") from exc


def _replace_contacts(c: Committee, contacts: Contacts) -> Committee:
    return Committee(
        c.id, c.name, c.ticket_prefix, c.office_place, c.office_hours, c.compounds, contacts
    )
