"""SQL (SQLite or PostgreSQL) implementations of the store interfaces."""

from bot.storage.sql.alert_repo import SqlAlertStore
from bot.storage.sql.consultation_repo import SqlConsultationStore
from bot.storage.sql.conversation_repo import SqlConversationStore
from bot.storage.sql.cursor_repo import SqlCursorStore
from bot.storage.sql.database import Database
from bot.storage.sql.group_repo import SqlGroupPostStore
from bot.storage.sql.household_repo import SqlHouseholdStore
from bot.storage.sql.notice_repo import SqlNoticeStore
from bot.storage.sql.proposal_repo import SqlProposalStore
from bot.storage.sql.repos import SqlFaqStore, SqlMessageLog
from bot.storage.sql.ticket_repo import SqlTicketStore

__all__ = [
    "Database",
    "SqlAlertStore",
    "SqlConsultationStore",
    "SqlConversationStore",
    "SqlCursorStore",
    "SqlFaqStore",
    "SqlGroupPostStore",
    "SqlHouseholdStore",
    "SqlMessageLog",
    "SqlNoticeStore",
    "SqlProposalStore",
    "SqlTicketStore",
]
