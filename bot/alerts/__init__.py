"""Staff alerts and the on-duty rota: alerts recorded before they are sent, delivered to the
committee's staff group, escalated along the rota until a caseworker acknowledges them."""

from bot.alerts.rota import Person, next_on_rota, on_duty
from bot.alerts.service import AlertDelivery, AlertResult, RobotSender, StaffAlerts

__all__ = [
    "AlertDelivery",
    "AlertResult",
    "Person",
    "RobotSender",
    "StaffAlerts",
    "next_on_rota",
    "on_duty",
]
