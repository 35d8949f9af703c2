"""Request and response bodies of the consultations API (``bot.api.consultations``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bot.api.common import NO_NUL
from bot.api.models import Out, Timestamp

Text200 = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
OptionText = Annotated[str, Field(min_length=1, max_length=20, pattern=NO_NUL)]
BuildingText = Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)]
RuleName = Literal["simple", "civil_majority", "civil_supermajority"]


class ConsultationIn(BaseModel):
    """A consultation as a caseworker writes it (create, or edit while a draft)."""

    model_config = ConfigDict(extra="forbid")

    title: Text200 = Field(description="e.g. 20号楼电梯更换方案征询")
    plan: Annotated[str, Field(min_length=1, max_length=20000, pattern=NO_NUL)] = Field(
        description="The plan in full, as residents read it."
    )
    options: list[OptionText] = Field(
        default_factory=lambda: ["同意", "不同意", "弃权"],
        min_length=2,
        max_length=9,
        description="The first option is the approval; abstaining counts as taking part.",
    )
    compound: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)] = Field(
        description="Compound id, name or alias (小区)."
    )
    buildings: list[BuildingText] = Field(
        default_factory=list, max_length=200, description="Empty: the whole compound."
    )
    opens_at: AwareDatetime
    closes_at: AwareDatetime
    secret: bool = Field(default=False, description="Secret ballot: only counts are shown.")
    rule: RuleName = Field(
        default="simple",
        description="`simple`: more than half of the participating households approve; "
        "`civil_majority`: 民法典第278条 (2/3 of area and owners take part, more than half "
        "of both approve; e.g. using the maintenance fund); `civil_supermajority`: the same "
        "participation, 3/4 of both approve (raising the fund, rebuilding, changing use).",
    )
    max_reminders: int = Field(default=2, ge=0, le=10)


class Check(Out):
    name: str
    reached: str
    needed: str
    strict: bool
    met: bool
    note: str


class OptionCount(Out):
    option: str
    households: int
    floor_area: float


class Tally(Out):
    passed: bool
    summary: str
    eligible: int
    eligible_area: float
    missing_area: int
    voted: int
    voted_area: float
    options: list[OptionCount]
    checks: list[Check]


class Consultation(Out):
    id: int
    title: str
    plan: str
    options: list[str]
    compound: str
    scope: str
    buildings: list[str]
    opens_at: Timestamp
    closes_at: Timestamp
    secret: bool
    rule: str
    rule_label: str
    status: str
    status_label: str
    is_open: bool
    max_reminders: int
    reminders_sent: int
    created_by: str
    created_at: Timestamp
    closed_at: Timestamp | None


class ConsultationList(Out):
    consultations: list[Consultation]


class ConsultationDetail(Out):
    consultation: Consultation
    tally: Tally | None


class HouseholdVote(Out):
    household_id: int
    address: str
    floor_area: float | None
    voted: bool
    choice: str | None = Field(description="Null when not voted, or in a secret ballot.")
    via: str | None
    voted_at: Timestamp | None
    reminded: int


class HouseholdVotes(Out):
    secret: bool
    households: list[HouseholdVote]


class Reminded(Out):
    round: int
    households: int
    delivered: int


class AuditEntry(Out):
    id: int
    actor_name: str
    action: str
    action_label: str
    detail: str
    at: Timestamp


class AuditTrail(Out):
    entries: list[AuditEntry]


REQUEST_MODELS: tuple[type[BaseModel], ...] = (ConsultationIn,)
