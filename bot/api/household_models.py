"""Request and response bodies of the households API (``bot.api.households``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.api.common import NO_NUL
from bot.api.models import Out, Timestamp

Cell = Annotated[str, Field(max_length=200, pattern=NO_NUL)]
Label = Annotated[str, Field(min_length=1, max_length=16, pattern=NO_NUL)]


class HouseholdRowIn(BaseModel):
    """One household, as a row of the import file."""

    model_config = ConfigDict(extra="forbid")

    compound: Cell = Field(description="Compound id, name or alias (小区).")
    building: Cell = Field(description="Building (楼号), e.g. `20` or `20号楼`.")
    unit: Cell = Field(default="", description="Unit (单元); empty when none.")
    room: Cell = Field(description="Room (门牌), e.g. `1201`.")
    floor_area: float | None = Field(default=None, gt=0, le=10000, description="m²")
    labels: list[Label] = Field(default_factory=list, max_length=10)


class HouseholdImportIn(BaseModel):
    """All or nothing: any bad row and nothing is imported (422, every row's problem)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[HouseholdRowIn] = Field(min_length=1, max_length=20000)


class LabelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[Label] = Field(max_length=10, description="e.g. 高龄, 独居, 残疾, 低保")


class BindingQuery(BaseModel):
    status: Literal["claimed", "verified", "rejected"] | None = Field(
        default=None, description="Only bindings in this state."
    )


class AccessLogQuery(BaseModel):
    household_id: Annotated[str, Field(pattern="^[0-9]{1,18}$")] | None = Field(
        default=None, description="Only accesses to this household."
    )


class Household(Out):
    id: int
    compound: str
    address: str
    building: str
    unit: str
    room: str
    floor_area: float | None
    labels: list[str]


class HouseholdList(Out):
    households: list[Household]


class ImportResult(Out):
    created: int
    updated: int
    unchanged: int


class Binding(Out):
    id: int
    household_id: int
    address: str
    sender_name: str
    channel: str
    status: str
    status_label: str
    voter: bool
    method: str
    created_at: Timestamp
    verified_at: Timestamp | None


class HouseholdDetail(Out):
    household: Household
    bindings: list[Binding]


class BindingList(Out):
    bindings: list[Binding]


class CodeIssued(Out):
    code: str = Field(
        description="Shown this once: hand it to the resident; only its hash is kept."
    )
    expires_at: Timestamp


class AccessEntry(Out):
    id: int
    household_id: int | None
    actor_id: str
    actor_name: str
    action: str
    action_label: str
    detail: str
    at: Timestamp


class AccessLog(Out):
    entries: list[AccessEntry]


REQUEST_MODELS: tuple[type[BaseModel], ...] = (HouseholdImportIn, LabelsIn)

__all__ = ["datetime"]
