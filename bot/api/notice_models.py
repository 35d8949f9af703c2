"""Request and response bodies of the notices API (``bot.api.notices``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bot.api.common import NO_NUL
from bot.api.models import Out, Timestamp

Kind = Literal["water", "power", "lift", "bins", "vaccine", "other"]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
Label = Annotated[str, Field(min_length=1, max_length=16, pattern=NO_NUL)]


class BuildingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    compound: Name = Field(description="Compound id, name or alias.")
    building: Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)] = Field(
        description="e.g. `20` or `20号楼`."
    )


class AudienceIn(BaseModel):
    """Nothing chosen: the whole committee. ``labels`` narrows to households carrying one."""

    model_config = ConfigDict(extra="forbid")

    compounds: list[Name] = Field(default_factory=list, max_length=50)
    buildings: list[BuildingIn] = Field(default_factory=list, max_length=200)
    labels: list[Label] = Field(default_factory=list, max_length=10)


class NoticeIn(BaseModel):
    """A draft notice (sent with ``POST /notices/{id}/send``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind = Field(
        description="停水 water, 停电 power, 电梯维保 lift, 撤桶 bins, "
        "疫苗接种 vaccine, 其他 other."
    )
    title: str = Field(min_length=1, max_length=60, pattern=NO_NUL)
    body: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    audience: AudienceIn = Field(default_factory=AudienceIn)
    post_groups: bool = Field(
        default=True,
        description="Also post into the group chats serving the chosen compounds or "
        "buildings (never for a notice narrowed by labels).",
    )


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household_id: int = Field(ge=1, le=10**18)
    outcome: Literal["phoned", "visited", "no_answer", "other"] = Field(
        description="已电话告知 phoned, 已上门告知 visited, 无人应答 no_answer, 其他 other."
    )
    note: str = Field(default="", max_length=500, pattern=NO_NUL)


class FollowUpQuery(BaseModel):
    show: Literal["unreached", "unacknowledged"] | None = Field(
        default=None,
        description="`unreached` (default): households no private message reached; "
        "`unacknowledged`: households that have not replied 收到.",
    )


class Building(Out):
    compound: str
    building: str


class Audience(Out):
    compounds: list[str]
    buildings: list[Building]
    labels: list[str]


class Notice(Out):
    id: int
    kind: str
    kind_label: str
    title: str
    body: str
    valid_from: Timestamp
    valid_until: Timestamp
    audience: Audience
    post_groups: bool
    state: str
    state_label: str
    created_by: str
    created_at: Timestamp
    published_at: Timestamp | None


class NoticeList(Out):
    notices: list[Notice]


class FollowUp(Out):
    id: int
    household_id: int
    outcome: str
    outcome_label: str
    note: str
    actor_name: str
    at: Timestamp


class HouseholdStatus(Out):
    household_id: int
    address: str
    labels: list[str]
    members: int = Field(description="Residents bound (verified or claimed) when it was sent.")
    reached: bool = Field(description="A bound member's private delivery was accepted.")
    read: bool = Field(
        description="A member wrote to Linli in private after it was delivered (or "
        "acknowledged it)."
    )
    acknowledged: bool = Field(description="A member replied 收到.")
    follow_ups: list[FollowUp]


class GroupDelivery(Out):
    chat_id: str
    state: str
    delivery: str
    error: str


class Totals(Out):
    households: int
    reached: int
    read: int
    acknowledged: int


class NoticeDetail(Out):
    notice: Notice
    totals: Totals
    groups: list[GroupDelivery]
    households: list[HouseholdStatus]


class FollowUpList(Out):
    households: list[HouseholdStatus]


class Sent(Out):
    households: int
    recipients: int = Field(description="Group chats and residents the notice goes to.")


REQUEST_MODELS: tuple[type[BaseModel], ...] = (NoticeIn, FollowUpIn)
