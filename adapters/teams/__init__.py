"""Microsoft Teams: botbuilder's CloudAdapter on the shared server at ``POST /api/messages``.
Every botbuilder import in copbot lives in this package, so a move to its successor (the
Microsoft 365 Agents SDK) touches one folder."""

from adapters.teams.adapter import TeamsAdapter

__all__ = ["TeamsAdapter"]
