"""Notices (通知): what a caseworker tells a committee, compounds, buildings or labelled
households (停水, 停电, 电梯维保 …) for a period — sent to the matching group chats and privately
to bound residents (``service``), acknowledged with "收到" and answered first while valid
(``matching``: what counts as an acknowledgement and which question a notice answers), in
the Chinese a resident reads (``texts``)."""

from bot.notices.service import (
    GroupChat,
    HouseholdStatus,
    NoticeDetail,
    NoticeDraft,
    NoticeOut,
    Notices,
    NoticeView,
)

__all__ = [
    "GroupChat",
    "HouseholdStatus",
    "NoticeDetail",
    "NoticeDraft",
    "NoticeOut",
    "NoticeView",
    "Notices",
]
