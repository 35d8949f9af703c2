"""Households (户): the rooms of each compound, residents bound to them with consent, the
caseworkers' labels, one-time codes and the staff access log (``service``); the import from
CSV/XLSX (``importing``); the written form of a place (``places``); the Chinese texts a
resident reads (``texts``)."""

from bot.households.importing import ImportRejected, load_households
from bot.households.service import BindingView, CodeOutcome, HouseholdDetail, Households

__all__ = [
    "BindingView",
    "CodeOutcome",
    "HouseholdDetail",
    "Households",
    "ImportRejected",
    "load_households",
]
