"""Tickets (工单), one module per idea:

* :mod:`~bot.tickets.intake` opens tickets (from the dialogue, or entered by a caseworker);
* :mod:`~bot.tickets.workflow` is the caseworkers' work on them (claim, transfer, status,
  notes, priority, links, alert steps);
* :mod:`~bot.tickets.satisfaction` is the resident's rating after resolution;
* :mod:`~bot.tickets.outbox` hands the resident's ticket news to the delivery loop;
* :mod:`~bot.tickets.queries` are the read models (detail, lists, inbox, dashboard);
* :mod:`~bot.tickets.changes` is how the writing parts change one ticket atomically.

The composition root builds them with :meth:`Tickets.build` over a store
(``bot.storage.sql.ticket_repo.SqlTicketStore``) and the committee registry.
"""

from bot.tickets.dashboard import Dashboard, DayCount, Ratio
from bot.tickets.intake import CreateResult, TicketIntake
from bot.tickets.outbox import TicketOutbox
from bot.tickets.parts import Tickets
from bot.tickets.queries import InboxItem, TicketQueries
from bot.tickets.satisfaction import RateResult, SatisfactionSurvey
from bot.tickets.similarity import FAULT_KEYWORDS, SimilarTicket, building_key, fault_concepts
from bot.tickets.sla import (
    DEFAULT_RULES,
    SlaConfigError,
    SlaPolicy,
    SlaRule,
    SlaSpan,
    WorkingCalendar,
    WorkingHours,
    china_workday,
)
from bot.tickets.workflow import InvalidAssignee, StaffDirectory, TicketWorkflow

__all__ = [
    "DEFAULT_RULES",
    "FAULT_KEYWORDS",
    "CreateResult",
    "Dashboard",
    "DayCount",
    "InboxItem",
    "InvalidAssignee",
    "RateResult",
    "Ratio",
    "SatisfactionSurvey",
    "SimilarTicket",
    "SlaConfigError",
    "SlaPolicy",
    "SlaRule",
    "SlaSpan",
    "StaffDirectory",
    "TicketIntake",
    "TicketOutbox",
    "TicketQueries",
    "TicketWorkflow",
    "Tickets",
    "WorkingCalendar",
    "WorkingHours",
    "building_key",
    "china_workday",
    "fault_concepts",
]
