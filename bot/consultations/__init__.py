"""Consultations (征询意见): a plan put to a compound's households, one vote per verified
household, the Civil Code's rules (``rules``), receipts, reminders, the result and its
export (``export``), signed one-time links to the voting page (``service``), and the Chinese
texts (``texts``)."""

from bot.consultations.rules import Rule
from bot.consultations.service import Cast, Consultations, Refusal

__all__ = ["Cast", "Consultations", "Refusal", "Rule"]
