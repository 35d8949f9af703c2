"""Committee scoping helpers (pure)."""

from __future__ import annotations

import pytest
from aiohttp import web

from bot.accounts import Principal, Role, committee_filter, committee_scope
from bot.accounts.http import ensure_committee

CASEWORKER = Principal(1, "wangfang", "王芳", Role.CASEWORKER, "puxiong")
ADMIN = Principal(2, "lijun", "李军", Role.ADMIN, "puxiong")
STREET = Principal(3, "street", "", Role.STREET_ADMIN, None)


@pytest.mark.parametrize(
    ("principal", "committee", "allowed"),
    [
        (CASEWORKER, "puxiong", True),
        (CASEWORKER, "other", False),
        (CASEWORKER, "", False),
        (ADMIN, "other", False),
        (STREET, "puxiong", True),
        (STREET, "other", True),
    ],
)
def test_committee_scope(principal: Principal, committee: str, allowed: bool) -> None:
    assert committee_scope(principal, committee) is allowed
    if allowed:
        ensure_committee(principal, committee)
    else:
        with pytest.raises(web.HTTPNotFound):
            ensure_committee(principal, committee)


def test_filters_and_roles() -> None:
    assert committee_filter(CASEWORKER) == "puxiong"
    assert committee_filter(STREET) is None
    assert not CASEWORKER.is_admin
    assert ADMIN.is_admin
    assert not ADMIN.is_street_admin
    assert STREET.is_admin
    assert STREET.is_street_admin
    assert STREET.label == "street"
    assert CASEWORKER.label == "王芳"
    assert [r.label for r in Role] == ["社工", "居委管理员", "街道管理员"]
