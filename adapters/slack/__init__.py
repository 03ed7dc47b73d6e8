"""Slack: slack-bolt for what comes in (HTTP on the shared server, or Socket Mode), the Web API
for what goes out. Every Slack SDK import in copbot lives in this package."""

from adapters.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]
