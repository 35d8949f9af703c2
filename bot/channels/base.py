"""What every channel shares: the transport-neutral response and untrusted-XML parsing."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # only the Element type and ParseError
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bot.channels.errors import BadRequestError

TEXT_PLAIN = "text/plain; charset=utf-8"
APPLICATION_XML = "application/xml; charset=utf-8"
APPLICATION_JSON = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ChannelResponse:
    """What a channel answers; the web layer turns it into an HTTP response."""

    status: int
    body: str
    content_type: str = TEXT_PLAIN

    @classmethod
    def text(cls, body: str, status: int = 200) -> ChannelResponse:
        return cls(status, body, TEXT_PLAIN)


def parse_xml(data: bytes | str, what: str = "body") -> ET.Element:
    """Parse untrusted XML: DTDs, entity declarations and external references are refused."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise BadRequestError(f"{what}: DTDs and entity declarations are not allowed") from None
    except ET.ParseError:
        raise BadRequestError(f"{what}: malformed XML") from None
    if not isinstance(root, ET.Element):  # pragma: no cover - defusedxml returns Element
        raise BadRequestError(f"{what}: malformed XML")
    return root


def xml_field(root: ET.Element, name: str) -> str | None:
    """Text of a direct child element, "" for an empty one, None when absent."""
    child = root.find(name)
    if child is None:
        return None
    return child.text or ""
