"""Typed keys under which the composition root stores every service on the application."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from bot.alerts import StaffAlerts
from bot.background import BackgroundTasks
from bot.channels.ingress import Ingress
from bot.channels.outbound import OutboundSender
from bot.channels.registry import ChannelRegistry
from bot.consultations import Consultations
from bot.dialogue import Pipeline
from bot.dialogue.etiquette import Etiquette
from bot.dialogue.events import LiveEvents
from bot.dialogue.handoff import Handoff
from bot.domain import Registry
from bot.faqs.service import FaqService
from bot.households import Households
from bot.insights import UnansweredQuestions
from bot.insights.stats import DashboardFigures
from bot.metrics import Metrics
from bot.nlu import NluService
from bot.notices import Notices
from bot.readiness import Readiness
from bot.retrieval import RetrievalService
from bot.settings import Settings
from bot.storage.conversations import ConversationStore
from bot.storage.faqs import FaqStore
from bot.storage.messages import MessageLog
from bot.storage.sql import Database
from bot.storage.state import StateStore
from bot.tickets import Tickets

SETTINGS = web.AppKey("settings", Settings)
REGISTRY = web.AppKey("registry", Registry)
DATABASE = web.AppKey("database", Database)
STATE = web.AppKey("state", StateStore)
HTTP = web.AppKey("http", aiohttp.ClientSession)
TASKS = web.AppKey("tasks", BackgroundTasks)
MESSAGE_LOG = web.AppKey("message_log", MessageLog)
FAQ_STORE = web.AppKey("faq_store", FaqStore)
FAQS = web.AppKey("faqs", FaqService)
PIPELINE = web.AppKey("pipeline", Pipeline)
ETIQUETTE = web.AppKey("etiquette", Etiquette)
INGRESS = web.AppKey("ingress", Ingress)
METRICS = web.AppKey("metrics", Metrics)
OUTBOUND = web.AppKey("outbound", OutboundSender)
CONVERSATIONS = web.AppKey("conversations", ConversationStore)
EVENTS = web.AppKey("events", LiveEvents)
CHANNELS = web.AppKey("channels", ChannelRegistry)
TICKETS = web.AppKey("tickets", Tickets)
RETRIEVAL = web.AppKey("retrieval", RetrievalService)
NLU = web.AppKey("nlu", NluService)
READINESS = web.AppKey("readiness", Readiness)
HANDOFF = web.AppKey("handoff", Handoff)
UNANSWERED = web.AppKey("unanswered", UnansweredQuestions)
DASHBOARD = web.AppKey("dashboard", DashboardFigures)
ALERTS = web.AppKey("alerts", StaffAlerts)
HOUSEHOLDS = web.AppKey("households", Households)
NOTICES = web.AppKey("notices", Notices)
CONSULTATIONS = web.AppKey("consultations", Consultations)
