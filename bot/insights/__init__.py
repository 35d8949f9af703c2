"""Insights for admins: unanswered questions clustered into FAQ candidates, and the message
and ticket figures of the dashboard. An inner package: it never imports the console, the API
or the application."""

from bot.insights.unanswered import Cluster, ClusterMessage, UnansweredQuestions

__all__ = ["Cluster", "ClusterMessage", "UnansweredQuestions"]
