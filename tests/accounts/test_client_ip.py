"""Which address a request comes from: ``X-Forwarded-For`` is believed only from configured
proxies, and then only its right-most hop that is not itself a trusted proxy."""

from __future__ import annotations

import pytest

from bot.accounts.http import resolve_client_ip, trusted_networks
from bot.settings import load_settings

PROXIES = trusted_networks(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # No trusted proxy (the default): the peer, whatever the header says.
        ("127.0.0.1", ["203.0.113.5"], (), "127.0.0.1"),
        ("10.1.2.3", ["203.0.113.5"], (), "10.1.2.3"),
        # An untrusted peer's header is ignored.
        ("198.51.100.9", ["203.0.113.5"], PROXIES, "198.51.100.9"),
        # A trusted peer: the hop it appended.
        ("127.0.0.1", ["203.0.113.5"], PROXIES, "203.0.113.5"),
        # Hops a client wrote to the left are never believed.
        ("127.0.0.1", ["6.6.6.6, 203.0.113.5"], PROXIES, "203.0.113.5"),
        # Several trusted proxies are looked through, across repeated headers too.
        ("127.0.0.1", ["6.6.6.6, 203.0.113.5", "10.0.0.7"], PROXIES, "203.0.113.5"),
        # Every hop trusted: the left-most of them.
        ("127.0.0.1", ["10.0.0.8, 10.0.0.7"], PROXIES, "10.0.0.8"),
        # Garbage where a proxy should have written an address: the last vouched-for hop.
        ("127.0.0.1", ["203.0.113.5, nonsense"], PROXIES, "127.0.0.1"),
        ("127.0.0.1", ["nonsense, 10.0.0.7"], PROXIES, "10.0.0.7"),
        ("127.0.0.1", [""], PROXIES, "127.0.0.1"),
        ("127.0.0.1", [], PROXIES, "127.0.0.1"),
        # Ports, brackets, IPv6 and IPv4-mapped addresses.
        ("127.0.0.1", ["203.0.113.5:51234"], PROXIES, "203.0.113.5"),
        ("127.0.0.1", ["[2001:db8::1]:443"], PROXIES, "2001:db8::1"),
        ("::ffff:127.0.0.1", ["203.0.113.5"], PROXIES, "203.0.113.5"),
        ("fd00::1", ["2001:db8::2"], PROXIES, "2001:db8::2"),
        # No usable peer (a Unix socket): nothing to go on.
        ("", ["203.0.113.5"], PROXIES, ""),
    ],
)
def test_resolve_client_ip(
    peer: str, forwarded: list[str], trusted: tuple[object, ...], expected: str
) -> None:
    assert resolve_client_ip(peer, forwarded, trusted) == expected  # type: ignore[arg-type]


def test_trusted_proxies_setting_takes_a_list_or_comma_separated_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(None).trusted_proxies == []
    monkeypatch.setenv("LINLI_TRUSTED_PROXIES", "127.0.0.1, 172.16.0.0/12 ::1")
    assert load_settings(None).trusted_proxies == ["127.0.0.1", "172.16.0.0/12", "::1"]
    monkeypatch.setenv("LINLI_TRUSTED_PROXIES", '["10.0.0.0/8"]')
    assert load_settings(None).trusted_proxies == ["10.0.0.0/8"]
    monkeypatch.setenv("LINLI_TRUSTED_PROXIES", "10.0.0.0/8,nginx")
    with pytest.raises(ValueError, match="'nginx' is not an IP address or CIDR"):
        load_settings(None)
