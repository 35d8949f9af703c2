"""The ticket parts built over one store, one SLA policy and one clock. Callers depend on
the part they use; this holder exists for the composition root (which hands the parts out)
and the tests that drive a ticket through several parts."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.registry import Registry
from bot.storage.tickets import TicketStore
from bot.tickets.changes import Clock, utc_now
from bot.tickets.intake import TicketIntake
from bot.tickets.outbox import TicketOutbox
from bot.tickets.queries import TicketQueries
from bot.tickets.satisfaction import SatisfactionSurvey
from bot.tickets.sla import SlaPolicy
from bot.tickets.workflow import StaffDirectory, TicketWorkflow


@dataclass(frozen=True, slots=True)
class Tickets:
    sla: SlaPolicy
    intake: TicketIntake
    workflow: TicketWorkflow
    satisfaction: SatisfactionSurvey
    outbox: TicketOutbox
    queries: TicketQueries

    @classmethod
    def build(
        cls,
        store: TicketStore,
        registry: Registry,
        *,
        sla: SlaPolicy | None = None,
        clock: Clock = utc_now,
        staff: StaffDirectory | None = None,
    ) -> Tickets:
        """``staff`` checks transfers (the composition root passes the account service);
        without it the caller's actor is trusted as given (tests of the workflow alone)."""
        policy = sla or SlaPolicy()
        return cls(
            sla=policy,
            intake=TicketIntake(store, registry, policy, clock=clock),
            workflow=TicketWorkflow(store, policy, clock=clock, staff=staff),
            satisfaction=SatisfactionSurvey(store, policy, clock=clock),
            outbox=TicketOutbox(store, clock=clock),
            queries=TicketQueries(store, policy, clock=clock),
        )
