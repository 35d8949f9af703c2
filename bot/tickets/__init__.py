"""Tickets (工单): creation, the caseworker workflow, SLA, duplicates, satisfaction, outbox.

Build one :class:`TicketService` in the composition root with a store
(``bot.storage.sql.ticket_repo.SqlTicketStore``) and the committee registry.
"""

from bot.tickets.dashboard import Dashboard, DayCount, Ratio
from bot.tickets.service import CreateResult, InboxItem, RateResult, TicketService
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

__all__ = [
    "DEFAULT_RULES",
    "FAULT_KEYWORDS",
    "CreateResult",
    "Dashboard",
    "DayCount",
    "InboxItem",
    "RateResult",
    "Ratio",
    "SimilarTicket",
    "SlaConfigError",
    "SlaPolicy",
    "SlaRule",
    "SlaSpan",
    "TicketService",
    "WorkingCalendar",
    "WorkingHours",
    "building_key",
    "china_workday",
    "fault_concepts",
]
